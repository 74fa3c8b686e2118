import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An LMDB environment: one directory holding `data.mdb` and `lock.mdb`, shared by threads and
/// processes. One writer at a time, any number of readers.
///
/// Transactions are scoped: ``read(_:)`` and ``write(_:)`` hand the closure a transaction that is
/// valid only inside it. A write commits when the closure returns and aborts when it throws.
///
/// ```swift
/// let env = try Environment(path: "/var/lib/clinic/store")
/// let db = try env.openDatabase(named: "events")
/// try env.write { txn in try txn.put([1, 2, 3], forKey: [0, 0, 0, 1], in: db) }
/// let copy = try env.read { txn in try txn.bytes(forKey: [0, 0, 0, 1], in: db) }
/// ```
///
/// ## Topics
/// - ``read(_:)``
/// - ``write(_:)``
/// - ``openDatabase(named:create:)``
/// - ``copy(to:compacting:)``
public final class Environment: @unchecked Sendable {
    // @unchecked: the MDB_env handle is thread-safe for everything used here (MDB_NOTLS), and the
    // map size is only changed under `resizeLock`.
    let handle: OpaquePointer
    /// The directory this environment lives in.
    public let path: String
    public let options: Options
    private let resizeLock = ResizeLock()

    /// Opens (or, unless read-only, creates) the environment in the existing directory `path`.
    public init(path: String, options: Options = Options()) throws(LMDBError) {
        var env: OpaquePointer?
        try check(mdb_env_create(&env))
        guard let env else { throw LMDBError.invalid }
        do {
            try check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases)))
            try check(mdb_env_set_maxreaders(env, UInt32(options.maxReaders)))
            try check(mdb_env_set_mapsize(env, options.mapSize))
            var flags = UInt32(MDB_NOTLS)
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            if !options.durable { flags |= UInt32(MDB_NOSYNC) }
            try check(mdb_env_open(env, path, flags, options.fileMode))
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.handle = env
        self.path = path
        self.options = options
        // Release reader slots left behind by processes that died inside a read transaction.
        var dead: Int32 = 0
        mdb_reader_check(env, &dead)
    }

    deinit {
        mdb_env_close(handle)
    }

    /// The current size of the memory map in bytes.
    public var mapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }

    /// The largest key this environment accepts, in bytes.
    public var maxKeySize: Int { Int(mdb_env_get_maxkeysize(handle)) }

    /// Opens a named database, creating it if `create` is true and the environment is writable.
    /// Returns `nil` when it does not exist and is not to be created.
    public func openDatabase(named name: String, create: Bool = true) throws -> Database? {
        if options.readOnly || !create {
            return try read({ txn -> Database? in
                var dbi: MDB_dbi = 0
                let rc = mdb_dbi_open(txn.handle, name, 0, &dbi)
                if rc == MDB_NOTFOUND { return nil }
                try check(rc)
                return Database(dbi: dbi, name: name)
            }, commitHandles: true)
        }
        return try write { txn in
            var dbi: MDB_dbi = 0
            try check(mdb_dbi_open(txn.handle, name, UInt32(MDB_CREATE), &dbi))
            return Database(dbi: dbi, name: name)
        }
    }

    /// Runs `body` in a read transaction that sees one consistent snapshot.
    ///
    /// Bytes the transaction hands out point into the memory map and are valid only inside `body`.
    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        try read(body, commitHandles: false)
    }

    private func read<R>(
        _ body: (borrowing ReadTransaction) throws -> R, commitHandles: Bool
    ) throws -> R {
        while true {
            do {
                return try resizeLock.withShared {
                    let txn = try begin(parent: nil, readOnly: true)
                    do {
                        let result = try body(ReadTransaction(handle: txn))
                        // Committing a read transaction is how a database handle opened in it
                        // becomes visible to others; otherwise abort is the cheaper release.
                        if commitHandles { try check(mdb_txn_commit(txn)) } else { mdb_txn_abort(txn) }
                        return result
                    } catch {
                        mdb_txn_abort(txn)
                        throw error
                    }
                }
            } catch LMDBError.mapResized {
                try adoptGrownMap()
            }
        }
    }

    /// Runs `body` in the write transaction and commits when it returns; aborts when it throws.
    ///
    /// When the map is full, the transaction is aborted, the map grows and `body` runs again from
    /// the start, so `body` must not have effects outside the transaction. Callers never see
    /// ``LMDBError/mapFull``.
    public func write<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        guard !options.readOnly else { throw LMDBError.permissionDenied }
        while true {
            do {
                return try resizeLock.withShared {
                    let txn = try begin(parent: nil, readOnly: false)
                    let result: R
                    do {
                        result = try body(WriteTransaction(handle: txn))
                    } catch {
                        mdb_txn_abort(txn)
                        throw error
                    }
                    // mdb_txn_commit frees the transaction whether or not it succeeds.
                    try check(mdb_txn_commit(txn))
                    return result
                }
            } catch LMDBError.mapFull {
                try growMap()
            } catch LMDBError.mapResized {
                try adoptGrownMap()
            }
        }
    }

    func begin(parent: OpaquePointer?, readOnly: Bool) throws(LMDBError) -> OpaquePointer {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(handle, parent, readOnly ? UInt32(MDB_RDONLY) : 0, &txn))
        guard let txn else { throw LMDBError.badTransaction }
        return txn
    }

    /// Doubles the map (in steps of at most 4 GiB once it is large).
    private func growMap() throws(LMDBError) {
        try resizeLock.withExclusive { () throws(LMDBError) in
            let current = mapSize
            let step = min(current, 4 << 30)
            try check(mdb_env_set_mapsize(handle, current + step))
        }
    }

    /// Takes on the larger map size another process has set.
    private func adoptGrownMap() throws(LMDBError) {
        try resizeLock.withExclusive { () throws(LMDBError) in
            try check(mdb_env_set_mapsize(handle, 0))
        }
    }

    /// Copies the environment into the existing empty directory `destination` while readers and
    /// a writer go on. With `compacting`, free pages are left out and the copy is renumbered, so
    /// nothing freed in the source reaches the copy.
    public func copy(to destination: String, compacting: Bool = true) throws {
        try resizeLock.withShared { () throws(LMDBError) in
            try check(mdb_env_copy2(handle, destination, compacting ? UInt32(MDB_CP_COMPACT) : 0))
        }
    }

    /// Flushes the data buffers to disk (needed only when opened with `durable == false`).
    public func sync() throws {
        try check(mdb_env_sync(handle, 1))
    }

    /// Statistics of the environment's main database and page use.
    public func info() -> (mapSize: Int, lastPage: Int, lastTransaction: Int, readers: Int) {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return (info.me_mapsize, info.me_last_pgno, info.me_last_txnid, Int(info.me_numreaders))
    }
}
