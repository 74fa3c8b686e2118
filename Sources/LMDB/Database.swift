import CLMDB

/// A handle to a named database inside an ``Environment``. Valid for the environment's lifetime.
public struct Database: Sendable, Hashable {
    let dbi: MDB_dbi
    /// The database's name in the environment.
    public let name: String
}
