import CLMDB

/// A handle to a named database inside an ``Environment``. Valid for the environment's lifetime.
public struct Database: Sendable, Hashable {
    let dbi: MDB_dbi
    /// The database's name in the environment.
    public let name: String
}

extension Database {
    /// A value that names no open database, for code that needs a `Database` but never hands
    /// it to LMDB (an opener of shipped records reads its keys from memory).
    package static func unopened(_ name: String) -> Database { Database(dbi: 0, name: name) }
}
