import CLMDB
import CLMDBGuard

/// A position in a database inside one transaction. Closed when its scope ends.
///
/// Keys and values it returns are borrowed from the map and valid until the transaction ends.
public struct Cursor: ~Copyable {
    private let handle: OpaquePointer
    private unowned(unsafe) let environment: Environment

    /// A key and value borrowed from the map.
    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    init(transaction: OpaquePointer, dbi: MDB_dbi, environment: Environment) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(transaction, dbi, &cursor))
        guard let cursor else { throw LMDBError.badTransaction }
        handle = cursor
        self.environment = environment
    }

    deinit {
        mdb_cursor_close(handle)
    }

    private func move(_ op: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil) throws -> Entry? {
        var k = MDB_val(mv_size: key?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: key?.baseAddress))
        var v = MDB_val()
        let rc = clmdb_cursor_get(handle, &k, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc)
        let entry = (key: UnsafeRawBufferPointer(k), value: UnsafeRawBufferPointer(v))
        // A damaged page can point past the end of the file, where reading ends in SIGBUS.
        guard environment.contains(entry.key), environment.contains(entry.value) else { throw LMDBError.corrupted }
        return entry
    }

    /// The first entry.
    public func first() throws -> Entry? { try move(MDB_FIRST) }
    /// The last entry.
    public func last() throws -> Entry? { try move(MDB_LAST) }
    /// The entry after the current one.
    public func next() throws -> Entry? { try move(MDB_NEXT) }
    /// The entry before the current one.
    public func previous() throws -> Entry? { try move(MDB_PREV) }
    /// The entry at the cursor.
    public func current() throws -> Entry? { try move(MDB_GET_CURRENT) }

    /// The first entry whose key is greater than or equal to `key`.
    public func seek(atOrAfter key: [UInt8]) throws -> Entry? {
        try key.withUnsafeBytes { try move(MDB_SET_RANGE, key: $0) }
    }

    /// The entry whose key equals `key`.
    public func seek(exactly key: [UInt8]) throws -> Entry? {
        try key.withUnsafeBytes { try move(MDB_SET_KEY, key: $0) }
    }
}
