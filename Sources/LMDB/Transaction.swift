import CLMDB
import CLMDBGuard

/// What read and write transactions share: lookups and cursors over borrowed bytes.
///
/// Bytes returned by a transaction point into the memory map. They are valid until the
/// transaction's scope ends and must not be kept beyond it; copy them (``bytes(forKey:in:)``) to keep them.
public protocol TransactionReading: ~Copyable {
    /// The underlying `MDB_txn`.
    var handle: OpaquePointer { get }
    /// The environment the transaction belongs to (it outlives the transaction).
    var environment: Environment { get }
}

extension TransactionReading where Self: ~Copyable {
    /// The value stored under `key`, borrowed from the map, or `nil` when there is none.
    ///
    /// - Throws: ``LMDBError/corrupted`` when a damaged page points outside the data file.
    public func value(forKey key: UnsafeRawBufferPointer, in database: Database) throws -> UnsafeRawBufferPointer? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = clmdb_get(handle, database.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc)
        let value = UnsafeRawBufferPointer(v)
        guard environment.contains(value) else { throw LMDBError.corrupted }
        return value
    }

    /// The named database `name`, or `nil` when it does not exist. A handle opened in a read
    /// transaction is valid for others once that transaction commits.
    public func openDatabase(named name: String) throws -> Database? {
        var dbi: MDB_dbi = 0
        let rc = clmdb_dbi_open(handle, name, 0, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc)
        return Database(dbi: dbi, name: name)
    }

    /// The value stored under `key`, borrowed from the map, or `nil` when there is none.
    public func value(forKey key: [UInt8], in database: Database) throws -> UnsafeRawBufferPointer? {
        try key.withUnsafeBytes { try value(forKey: $0, in: database) }
    }

    /// A copy of the value stored under `key`, or `nil` when there is none.
    public func bytes(forKey key: [UInt8], in database: Database) throws -> [UInt8]? {
        try value(forKey: key, in: database).map { Array($0) }
    }

    /// Runs `body` with a cursor over `database`; the cursor is closed when `body` returns.
    public func withCursor<R>(on database: Database, _ body: (borrowing Cursor) throws -> R) throws -> R {
        let cursor = try Cursor(transaction: handle, dbi: database.dbi, environment: environment)
        return try body(cursor)
    }

    /// Where `value` lies in the data file (page and offset), when it points into the map (a
    /// committed page, not one this write transaction has copied).
    public func location(of value: UnsafeRawBufferPointer) -> (page: Int, offset: Int)? {
        guard let base = environment.bounds.start, let address = value.baseAddress else { return nil }
        let distance = address - UnsafeRawPointer(base)
        guard distance >= 0, distance + value.count <= environment.usedBytes else { return nil }
        return (distance / environment.pageSize, distance % environment.pageSize)
    }

    /// The id of the commit this transaction sees (a read) or will make (a write).
    public var transactionId: UInt64 { UInt64(mdb_txn_id(handle)) }

    /// The structure of the data file as this transaction's commit left it (see
    /// ``Environment/audit(_:transaction:)``). `nil` when a writer moved on by two commits during
    /// the check, so that the meta page of this snapshot was reused: nothing can be said then.
    public func auditStructure() throws -> StructureReport? {
        let seen = transactionId
        let report = try environment.audit(.full, transaction: seen)
        if !report.isSound && environment.info().lastTransaction >= Int(seen) + 2 { return nil }
        return report
    }

    /// Runs `body` with a cursor over LMDB's free list (transaction id → free page numbers).
    func withFreeListCursor<R>(_ body: (borrowing Cursor) throws -> R) throws -> R {
        let cursor = try Cursor(transaction: handle, dbi: 0, environment: environment)
        return try body(cursor)
    }

    /// The number of entries in `database`.
    public func count(of database: Database) throws -> Int {
        var stat = MDB_stat()
        try check(clmdb_stat(handle, database.dbi, &stat))
        return stat.ms_entries
    }
}

/// A read-only snapshot, valid only inside ``Environment/read(_:)``.
public struct ReadTransaction: TransactionReading, ~Copyable {
    public let handle: OpaquePointer
    public unowned(unsafe) let environment: Environment

    /// The same transaction as `other`, for layers that hand out their own scoped reader built
    /// on an enclosing ``Environment/read(_:)`` scope. The result must not outlive that scope.
    public init(borrowing other: borrowing ReadTransaction) {
        self.handle = other.handle
        self.environment = other.environment
    }

    init(handle: OpaquePointer, environment: Environment) {
        self.handle = handle
        self.environment = environment
    }
}

/// The one write transaction, valid only inside ``Environment/write(_:)`` or ``nested(_:)``.
public struct WriteTransaction: TransactionReading, ~Copyable {
    public let handle: OpaquePointer
    public unowned(unsafe) let environment: Environment

    /// The same transaction as `other`, for layers that hand out their own scoped writer built
    /// on an enclosing ``Environment/write(_:)`` scope. The result must not outlive that scope.
    public init(borrowing other: borrowing WriteTransaction) {
        self.handle = other.handle
        self.environment = other.environment
    }

    init(handle: OpaquePointer, environment: Environment) {
        self.handle = handle
        self.environment = environment
    }

    /// The named database `name`, created when it does not exist. Its handle is valid for
    /// others once this transaction commits, and gone if it aborts.
    public func createDatabase(named name: String) throws -> Database {
        var dbi: MDB_dbi = 0
        try check(clmdb_dbi_open(handle, name, UInt32(MDB_CREATE), &dbi))
        return Database(dbi: dbi, name: name)
    }

    /// How a value is put.
    public struct PutFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `MDB_NOOVERWRITE`: fail with ``LMDBError/keyExists`` if the key is present.
        public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
        /// `MDB_APPEND`: the key is greater than every key in the database (fast bulk load).
        public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
    }

    /// Stores `value` under `key`.
    public func put(_ value: UnsafeRawBufferPointer, forKey key: UnsafeRawBufferPointer, in database: Database, flags: PutFlags = []) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(clmdb_put(handle, database.dbi, &k, &v, flags.rawValue))
    }

    /// Stores `value` under `key`.
    public func put(_ value: [UInt8], forKey key: [UInt8], in database: Database, flags: PutFlags = []) throws {
        try value.withUnsafeBytes { v in
            try key.withUnsafeBytes { k in try put(v, forKey: k, in: database, flags: flags) }
        }
    }

    /// Reserves `count` bytes under `key` and lets `fill` write them in place in the map, so a
    /// value is written once instead of being built and then copied.
    public func put(
        count: Int, forKey key: [UInt8], in database: Database, flags: PutFlags = [],
        fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws {
        try key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var v = MDB_val(mv_size: count, mv_data: nil)
            try check(clmdb_put(handle, database.dbi, &k, &v, flags.rawValue | UInt32(MDB_RESERVE)))
            try fill(UnsafeMutableRawBufferPointer(start: v.mv_data, count: count))
        }
    }

    /// Deletes the value under `key`. Returns whether there was one.
    @discardableResult
    public func delete(forKey key: [UInt8], in database: Database) throws -> Bool {
        try key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            let rc = clmdb_del(handle, database.dbi, &k, nil)
            if rc == MDB_NOTFOUND { return false }
            try check(rc)
            return true
        }
    }

    /// Runs `body` in a nested transaction: its changes join this transaction when `body`
    /// returns, and are undone alone when it throws, leaving this transaction usable.
    public func nested<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        var child: OpaquePointer?
        try check(mdb_txn_begin(mdb_txn_env(handle), handle, 0, &child))
        guard let child else { throw LMDBError.badTransaction }
        let result: R
        do {
            result = try body(WriteTransaction(handle: child, environment: environment))
        } catch {
            mdb_txn_abort(child)
            throw error
        }
        try environment.commit(child)
        return result
    }
}

extension UnsafeRawBufferPointer {
    init(_ value: MDB_val) {
        self.init(start: value.mv_data, count: value.mv_size)
    }
}
