import CSQLite
@_spi(RawRecords) import ClinicalRecord
@_spi(RawRecords) import EventStore
import Foundation

/// The SQLite reference of docs/PERFORMANCE.md: the same events in one table (the record bytes as a
/// blob, with the sequence, stream and type in columns), read and written through the system
/// libsqlite3. Durable appends use WAL mode with `synchronous=FULL`.
public final class SQLiteLog: @unchecked Sendable {
    let db: OpaquePointer
    public let path: String

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public init(path: String) throws {
        self.path = path
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil) == SQLITE_OK, let handle else {
            throw Failure(description: "cannot open \(path)")
        }
        db = handle
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        sqlite3_busy_timeout(db, 60_000)
        try execute("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, type INTEGER NOT NULL, record BLOB NOT NULL)")
        try execute("CREATE INDEX IF NOT EXISTS events_by_stream ON events (stream, seq)")
    }

    deinit { sqlite3_close_v2(db) }

    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &message) == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "unknown"
            sqlite3_free(message)
            throw Failure(description: "\(sql): \(text)")
        }
    }

    private func prepare(_ sql: String) throws -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw Failure(description: "\(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
        return statement
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Copies every record of `store` into the table, in one transaction.
    func load(from store: PatientRecordStore) throws {
        try execute("PRAGMA synchronous=OFF")
        try execute("BEGIN")
        let insert = try prepare("INSERT INTO events (seq, stream, type, record) VALUES (?, ?, ?, ?)")
        defer { sqlite3_finalize(insert) }
        try store.events.read { reader in
            try reader.forEachRecord { record in
                sqlite3_bind_int64(insert, 1, Int64(record.sequence))
                _ = record.streamIdBytes.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(insert, 2, $0.baseAddress, Int32($0.count), Self.transient) }
                sqlite3_bind_int(insert, 3, Int32(record.type))
                sqlite3_bind_blob(insert, 4, record.bytes.baseAddress, Int32(record.bytes.count), Self.transient)
                guard sqlite3_step(insert) == SQLITE_DONE else { throw Failure(description: String(cString: sqlite3_errmsg(db))) }
                sqlite3_reset(insert)
                return true
            }
        }
        try execute("COMMIT")
        try execute("PRAGMA synchronous=FULL")
    }

    /// Calls `body` with each record in sequence order, optionally of some types only (the
    /// `type` column does the routing SQLite can do).
    /// Sealed payloads are opened with `opener` (the store's keys), as the store's replay does.
    @_spi(RawRecords) public func forEachRecord(types: [UInt16]? = nil, opener: RecordOpener? = nil, _ body: (EventRecordView) throws -> Void) throws {
        let filter = types.map { " WHERE type IN (" + $0.map(String.init).joined(separator: ",") + ")" } ?? ""
        let select = try prepare("SELECT seq, record FROM events" + filter + " ORDER BY seq")
        defer { sqlite3_finalize(select) }
        while true {
            let rc = sqlite3_step(select)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw Failure(description: String(cString: sqlite3_errmsg(db))) }
            let bytes = UnsafeRawBufferPointer(start: sqlite3_column_blob(select, 1), count: Int(sqlite3_column_bytes(select, 1)))
            guard let record = EventRecordView(sequence: UInt64(sqlite3_column_int64(select, 0)), bytes: bytes) else {
                throw Failure(description: "a malformed record in SQLite")
            }
            try body(opener.map { $0.open(record) } ?? record)
        }
    }

    /// Appends one event in its own durable transaction (the reference for durable appends).
    public func append(stream: String, type: UInt16, record: [UInt8]) throws {
        let insert = try prepare("INSERT INTO events (stream, type, record) VALUES (?, ?, ?)")
        defer { sqlite3_finalize(insert) }
        sqlite3_bind_text(insert, 1, stream, -1, Self.transient)
        sqlite3_bind_int(insert, 2, Int32(type))
        _ = record.withUnsafeBytes { sqlite3_bind_blob(insert, 3, $0.baseAddress, Int32($0.count), Self.transient) }
        guard sqlite3_step(insert) == SQLITE_DONE else { throw Failure(description: String(cString: sqlite3_errmsg(db))) }
    }
}
