#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Environment {
    /// How an environment is opened.
    public struct Options: Sendable {
        /// The initial size of the memory map in bytes. The map grows on demand, so this is a
        /// starting point, not a limit.
        public var mapSize: Int = 1 << 30
        /// The maximum number of named databases.
        public var maxDatabases: Int = 16
        /// The maximum number of concurrent read transactions across all processes.
        public var maxReaders: Int = 510
        /// Open for reading only; every write fails with ``LMDBError/permissionDenied``.
        public var readOnly = false
        /// Flush every commit to disk before it returns. Without it (`MDB_NOSYNC`) a system crash
        /// may lose the last commits, though a process crash loses nothing.
        public var durable = true
        /// The permissions of the files LMDB creates.
        public var fileMode: mode_t = 0o600
        /// Told the new size of the map after this process grew it (for the host's metrics).
        public var mapGrown: (@Sendable (_ bytes: Int) -> Void)?

        public init() {}
    }
}
