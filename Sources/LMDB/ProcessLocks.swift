import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The exclusion LMDB's lock file cannot give on its own: LMDB keeps its writer mutex and its
/// reader table in `lock.mdb`, so a process that opens the environment after that file was
/// removed gets a fresh, empty one and believes it is alone. Two writers then each pick the
/// root of the last commit they saw and one overwrites the other's acknowledged commits.
///
/// These locks live on `data.mdb` itself, which cannot be removed without losing the data:
/// - byte 0, exclusive, is held for every write transaction, by every process;
/// - byte 1, shared, is held by every process for as long as it has the environment open, so a
///   process that finds `lock.mdb` missing can tell whether another process is still using the
///   environment (and must not start a second reader table beside it).
///
/// Every write transaction also checks that `lock.mdb` is still the file this process opened,
/// and that the transaction LMDB begins follows the last commit in the data file.
final class ProcessLocks: @unchecked Sendable {
    // @unchecked: `descriptor` and `lockFile` never change after init; `writer` is a mutex.
    private let descriptor: Int32
    /// The data file, open for reading its pages without the map (the structure audit).
    var fileDescriptor: Int32 { descriptor }
    private let lockFilePath: String
    private let lockFile: (device: UInt64, inode: UInt64)
    private let writer: UnsafeMutablePointer<pthread_mutex_t>

    static let writerByte: off_t = 0
    static let openByte: off_t = 1
    /// What `lock.mdb` is given before LMDB maps it: its header and 1,020 reader slots,
    /// allocated for real so that LMDB's writes through the map never meet a full disk (a
    /// sparse lock file on a full disk ends in SIGBUS).
    static let lockFileBytes: off_t = 64 << 10

    /// Refuses to open when `lock.mdb` is missing while another process has the environment
    /// open; otherwise gives `lock.mdb` its space before LMDB creates it sparse.
    static func prepare(directory: String) throws(LMDBError) {
        let data = directory + "/data.mdb", lock = directory + "/lock.mdb"
        guard access(lock, F_OK) != 0 else { return }
        if access(data, F_OK) == 0 {
            let probe = open(data, O_RDONLY | O_CLOEXEC)
            if probe >= 0 {
                defer { close(probe) }
                #if os(Linux)
                if clmdb_byte_is_locked(probe, Int16(F_WRLCK), openByte) == 1 {
                    throw LMDBError.lockFileMissing
                }
                #endif
            }
        }
        let created = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard created >= 0 else { return } // another process made it, or a read-only directory: LMDB decides
        defer { close(created) }
        #if os(Linux)
        let rc = posix_fallocate(created, 0, lockFileBytes)
        if rc != 0 {
            unlink(lock)
            throw LMDBError(rawValue: rc)
        }
        #endif
    }

    init(directory: String, readOnly: Bool) throws(LMDBError) {
        descriptor = open(directory + "/data.mdb", (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC)
        guard descriptor >= 0 else { throw LMDBError(rawValue: errno) }
        lockFilePath = directory + "/lock.mdb"
        var status = stat()
        guard stat(lockFilePath, &status) == 0 else {
            close(descriptor)
            throw LMDBError.lockFileReplaced
        }
        lockFile = (UInt64(status.st_dev), UInt64(status.st_ino))
        writer = .allocate(capacity: 1)
        writer.initialize(to: pthread_mutex_t())
        pthread_mutex_init(writer, nil)
        #if os(Linux)
        // Shared: any number of processes hold it; it only tells a newcomer someone is here.
        _ = clmdb_lock_byte(descriptor, Int16(F_RDLCK), Self.openByte, 0)
        #endif
    }

    deinit {
        close(descriptor) // releases both locks
        pthread_mutex_destroy(writer)
        writer.deallocate()
    }

    /// The size of `data.mdb` now.
    func dataFileSize() -> Int {
        var status = stat()
        return fstat(descriptor, &status) == 0 ? Int(status.st_size) : 0
    }

    /// Runs `body` as the only writer among this process's threads and every other process.
    func withWriterLock<R>(_ body: () throws -> R) throws -> R {
        pthread_mutex_lock(writer)
        defer { pthread_mutex_unlock(writer) }
        #if os(Linux)
        let rc = clmdb_lock_byte(descriptor, Int16(F_WRLCK), Self.writerByte, 1)
        guard rc == 0 else { throw LMDBError(rawValue: rc) }
        defer { _ = clmdb_lock_byte(descriptor, Int16(F_UNLCK), Self.writerByte, 0) }
        #else
        guard flock(descriptor, LOCK_EX) == 0 else { throw LMDBError(rawValue: errno) }
        defer { flock(descriptor, LOCK_UN) }
        #endif
        try checkLockFile()
        return try body()
    }

    /// Throws ``LMDBError/lockFileReplaced`` when `lock.mdb` is no longer the file opened.
    func checkLockFile() throws(LMDBError) {
        var status = stat()
        guard stat(lockFilePath, &status) == 0,
              UInt64(status.st_dev) == lockFile.device, UInt64(status.st_ino) == lockFile.inode else {
            throw LMDBError.lockFileReplaced
        }
    }

    /// Writes `bytes` at `offset` of `data.mdb` and flushes them (for overwriting free pages).
    func overwrite(_ bytes: [UInt8], at offset: Int) throws(LMDBError) {
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
        guard written == bytes.count else { throw LMDBError(rawValue: written < 0 ? errno : EIO) }
    }

    /// `count` bytes of `data.mdb` from `offset`, read from the file, not through the map.
    func readBytes(count: Int, at offset: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
        return read == count ? bytes : nil
    }

    func sync() throws(LMDBError) {
        #if os(Linux)
        guard fdatasync(descriptor) == 0 else { throw LMDBError(rawValue: errno) }
        #else
        guard fsync(descriptor) == 0 else { throw LMDBError(rawValue: errno) }
        #endif
    }

    /// The device and inode of `data.mdb`, to find its mapping.
    func dataFileIdentity() -> (device: UInt64, inode: UInt64) {
        var status = stat()
        _ = fstat(descriptor, &status)
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }
}
