import LMDB

/// The named databases of one store and the keys inside them (see ARCHITECTURE.md, Storage).
struct StoreLayout: Sendable {
    /// Global sequence (8 bytes, big-endian) → event record.
    let events: Database
    /// Stream id, 0x00, stream version (8 bytes, big-endian) → global sequence.
    let streams: Database
    /// Event id → global sequence.
    let eventIds: Database
    /// Name → value: format version, store id, head sequence, chain head.
    let meta: Database
    /// The application's own indexes, by name (see ``EventStore/Options/indexes``).
    let indexes: [String: Database]
    /// Projection checkpoints and snapshots, by the application's keys; `nil` in a read-only
    /// process on a store written before it existed.
    let projections: Database?
    /// The master key and the `stream-keys` database of a sealed store; `nil` for a store
    /// created without sealing.
    let sealing: StoreSealing?

    func index(named name: String) throws -> Database {
        guard let database = indexes[name] else {
            throw EventStoreError.invalidEvent("There is no index named \(name); declare it in EventStore.Options.indexes.")
        }
        return database
    }

    static let databaseNames = ["events", "streams", "event-ids", "meta"]
    static let formatVersion: UInt32 = 1

    enum MetaKey {
        static let formatVersion = Array("format-version".utf8)
        static let storeId = Array("store-id".utf8)
        static let headSequence = Array("head-sequence".utf8)
        static let chainHead = Array("chain-head".utf8)
        /// Present in a sealed store: tells the right master key from a wrong one.
        static let keyCheck = Array("master-key-check".utf8)
    }

    /// The key of `version` in `stream`. The 0x00 after the id keeps one stream's keys together
    /// and ahead of any longer id that starts with the same bytes.
    static func streamKey(_ stream: String, version: UInt64) -> [UInt8] {
        var key = Array(stream.utf8)
        key.append(0)
        key.append(contentsOf: Bytes.bigEndian(version))
        return key
    }

    /// The number of events in `stream`: the version of its last key.
    func streamVersion<T: TransactionReading & ~Copyable>(of stream: String, in txn: borrowing T) throws -> UInt64 {
        let upper = StoreLayout.streamKey(stream, version: .max)
        return try txn.withCursor(on: streams) { cursor in
            let entry = try cursor.seek(atOrAfter: upper) != nil ? try cursor.previous() : try cursor.last()
            guard let entry, entry.key.count == upper.count,
                  entry.key.prefix(upper.count - 8).elementsEqual(upper.prefix(upper.count - 8)) else { return 0 }
            return Bytes.uint64(bigEndian: UnsafeRawBufferPointer(rebasing: entry.key.suffix(8))) ?? 0
        }
    }

    /// The record at `sequence`, checked, or `nil` when there is none.
    func record<T: TransactionReading & ~Copyable>(at sequence: UInt64, in txn: borrowing T) throws -> EventRecordView? {
        guard let bytes = try txn.value(forKey: Bytes.bigEndian(sequence), in: events) else { return nil }
        guard let view = EventRecordView(sequence: sequence, bytes: bytes) else {
            throw EventStoreError.corruptRecord(sequence: sequence, reason: "its header does not match its length")
        }
        return view
    }

    /// The last record of the log, or `nil` when the log is empty.
    func lastRecord<T: TransactionReading & ~Copyable>(in txn: borrowing T) throws -> EventRecordView? {
        try txn.withCursor(on: events) { cursor in
            guard let entry = try cursor.last() else { return nil }
            guard let sequence = Bytes.uint64(bigEndian: entry.key),
                  let view = EventRecordView(sequence: sequence, bytes: entry.value) else {
                throw EventStoreError.corruptRecord(sequence: Bytes.uint64(bigEndian: entry.key) ?? 0, reason: "the last record is malformed")
            }
            return view
        }
    }
}
