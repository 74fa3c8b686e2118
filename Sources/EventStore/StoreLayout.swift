import LMDB

/// The named databases of one store and the keys inside them (see docs/STORAGE.md).
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
    /// created without sealing (or a sealed one opened without its key, read-only).
    let sealing: StoreSealing?
    /// The format the store is at (a read-only process may see an older one).
    let formatVersion: UInt32
    /// The `stream-keys` database, also when the store is opened without its master key.
    var keysDatabase: Database? = nil

    func index(named name: String) throws -> Database {
        guard let database = indexes[name] else {
            throw EventStoreError.unknownIndex(name)
        }
        return database
    }

    /// The databases every store has; a data file without one of them is not a store.
    static let coreDatabases = ["events", "streams", "event-ids", "meta"]
    /// Databases added beside the log (older stores may lack them until opened for writing).
    static let projectionsDatabase = "projections", keysDatabase = "stream-keys"

    /// The format this build writes. 1: the first release. 2: the sealing marker in `meta`, the
    /// master key check bound to the format version, and the sealed chain head (`head-seal`).
    static let formatVersion: UInt32 = 2
    /// The formats this build reads; older ones are brought to ``formatVersion`` when opened for writing.
    static let readableFormats: ClosedRange<UInt32> = 1...2

    enum MetaKey {
        static let formatVersion = Array("format-version".utf8)
        static let storeId = Array("store-id".utf8)
        static let headSequence = Array("head-sequence".utf8)
        static let chainHead = Array("chain-head".utf8)
        /// Present in a sealed store: tells the right master key from a wrong one.
        static let keyCheck = Array("master-key-check".utf8)
        /// Format 2: `aes-256-gcm` or `none`, whether the store seals its payloads.
        static let sealing = Array("sealing".utf8)
        /// Format 2, sealed stores: an HMAC of the head sequence and chain head under a key
        /// derived from the master key, so that a log rewritten without the key is found.
        static let headSeal = Array("head-seal".utf8)
        /// Bumped after a destroyed key's pages are freed, so that no meta page refers to them.
        static let maintenance = Array("maintenance".utf8)
        /// Places in free pages where a retired secret (a destroyed data key) still lies because a
        /// reader could see them when it was retired: overwritten by a later commit (see
        /// `EventStore+Scrub.swift`). Page numbers and digests only, never the secret.
        static let scrubPending = Array("scrub-pending".utf8)
    }

    enum Sealing {
        static let sealed = Array("aes-256-gcm".utf8)
        static let none = Array("none".utf8)
    }

    /// The key of `version` in `stream`. The 0x00 after the id keeps one stream's keys together
    /// and ahead of any longer id that starts with the same bytes.
    static func streamKey(_ stream: String, version: UInt64) -> [UInt8] {
        var key = Array(stream.utf8)
        key.append(0)
        key.append(contentsOf: Bytes.bigEndian(version))
        return key
    }

    static func streamKey(_ stream: UnsafeRawBufferPointer, version: UInt64) -> [UInt8] {
        var key = Array(stream)
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
