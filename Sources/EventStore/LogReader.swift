import LMDB

/// One consistent snapshot of the log, valid only inside ``EventStore/read(_:)``.
///
/// Records are handed out in place (``EventRecordView``): nothing is copied unless asked for.
/// In a sealed store their payloads are opened with their streams' data keys.
public struct LogReader: ~Copyable {
    let txn: ReadTransaction
    let layout: StoreLayout
    let opener: PayloadOpener?

    init(txn: consuming ReadTransaction, layout: StoreLayout) {
        self.txn = txn
        self.layout = layout
        opener = layout.sealing.map { PayloadOpener(sealing: $0) }
    }

    /// `record` with its payload opened (a clear record as it is): owned by the view, or, when not
    /// `owned`, valid until the next record this reader opens.
    func opened(_ record: EventRecordView, owned: Bool = true) throws -> EventRecordView {
        guard let opener, record.isSealed else { return record }
        return try opener.open(record, owned: owned) { bytes in try opener.sealing.key(of: bytes, in: txn) }
    }

    /// The sequence of the last event in this snapshot (0 when the log is empty).
    public func head() throws -> UInt64 {
        try layout.lastRecord(in: txn)?.sequence ?? 0
    }

    /// The number of events in `stream`.
    public func streamVersion(_ stream: String) throws -> UInt64 {
        try layout.streamVersion(of: stream, in: txn)
    }

    /// The record at `sequence`, or `nil` past the head.
    public func record(at sequence: UInt64) throws -> EventRecordView? {
        guard let record = try layout.record(at: sequence, in: txn) else { return nil }
        return try opened(record)
    }

    /// The record at `sequence` as stored: a sealed payload is not opened.
    public func storedRecord(at sequence: UInt64) throws -> EventRecordView? {
        try layout.record(at: sequence, in: txn)
    }

    /// The sequence of the event with id `id`, or `nil` when it is not stored.
    public func sequence(ofEventId id: String) throws -> UInt64? {
        try txn.value(forKey: Array(id.utf8), in: layout.eventIds).flatMap { Bytes.uint64(bigEndian: $0) }
    }

    /// The value under `key` in the application's index `index`, borrowed; `nil` when absent.
    package func indexValue(_ index: String, key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        guard let database = layout.indexes[index] else { return nil }
        return try txn.value(forKey: key, in: database)
    }

    /// Calls `body` with each key and value of the application's index `index` (borrowed), in key
    /// order from the first key at or after `start`, until it returns false. Nothing happens for an
    /// index the store does not have.
    package func forEachIndexEntry(_ index: String, from start: [UInt8] = [], _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        guard let database = layout.indexes[index] else { return }
        try forEachEntry(of: database, from: start, body)
    }

    /// ``forEachIndexEntry(_:from:_:)`` over the projections database.
    package func forEachProjectionEntry(from start: [UInt8] = [], _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        guard let database = layout.projections else { return }
        try forEachEntry(of: database, from: start, body)
    }

    private func forEachEntry(of database: Database, from start: [UInt8], _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        try txn.withCursor(on: database) { cursor in
            var entry = start.isEmpty ? try cursor.first() : try cursor.seek(atOrAfter: start)
            while let current = entry, try body(current.key, current.value) {
                entry = try cursor.next()
            }
        }
    }

    /// Calls `body` with each record from `sequence` on, in log order, until it returns false.
    public func forEachRecord(from sequence: UInt64 = 1, _ body: (EventRecordView) throws -> Bool) throws {
        try forEachStoredRecord(from: sequence) { try body(try opened($0)) }
    }

    /// How many bytes of records a scan reads between two `Environment.releaseReadPages()` in the LMDB layer.
    /// The pages of the log lie among those of the indexes written in the same transactions,
    /// and the kernel maps a fault's neighbours with it (fault-around): a few MiB of records
    /// map some tens of MiB of the file, which is what a scan then keeps resident.
    static let releaseEvery = 4 << 20

    /// Gives back to the kernel the pages of the map this process has read (see
    /// `Environment.releaseReadPages()` in the LMDB layer), for long walks over indexes.
    public func releaseReadPages() {
        txn.environment.releaseReadPages()
    }

    /// ``forEachRecord(from:_:)`` without opening sealed payloads: headers, routing, hashing.
    public func forEachStoredRecord(from sequence: UInt64 = 1, _ body: (EventRecordView) throws -> Bool) throws {
        try txn.withCursor(on: layout.events) { cursor in
            var entry = try cursor.seek(atOrAfter: Bytes.bigEndian(max(sequence, 1)))
            var read = 0
            while let current = entry {
                read += current.value.count
                if read >= Self.releaseEvery {
                    txn.environment.releaseReadPages()
                    read = 0
                }
                guard let position = Bytes.uint64(bigEndian: current.key) else {
                    throw EventStoreError.corruptRecord(sequence: 0, reason: "a key in the events database is not 8 bytes")
                }
                guard let view = EventRecordView(sequence: position, bytes: current.value) else {
                    throw EventStoreError.corruptRecord(sequence: position, reason: "its header does not match its length")
                }
                guard try body(view) else { return }
                entry = try cursor.next()
            }
        }
    }

    /// Calls `body` with each record's sequence and stored bytes from `sequence` on, unchecked (a
    /// record that does not parse is the caller's to report), until it returns false.
    func forEachRecordOrDamage(from sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        try txn.withCursor(on: layout.events) { cursor in
            var entry = try cursor.seek(atOrAfter: Bytes.bigEndian(max(sequence, 1)))
            while let current = entry {
                guard let position = Bytes.uint64(bigEndian: current.key) else {
                    throw EventStoreError.corruptRecord(sequence: 0, reason: "a key in the events database is not 8 bytes")
                }
                guard try body(position, current.value) else { return }
                entry = try cursor.next()
            }
        }
    }

    /// The sequence of the event whose id has these bytes, or `nil` when it is not stored.
    package func sequence(ofEventIdBytes id: UnsafeRawBufferPointer) throws -> UInt64? {
        try txn.value(forKey: id, in: layout.eventIds).flatMap { Bytes.uint64(bigEndian: $0) }
    }

    /// Calls `body` with the bytes of every value of `events`, in key order, nothing checked or
    /// parsed: the raw cursor scan that replay speed is measured against (docs/PERFORMANCE.md).
    @_spi(RawRecords) public func forEachRawRecord(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try txn.withCursor(on: layout.events) { cursor in
            var entry = try cursor.first()
            while let current = entry {
                try body(current.value)
                entry = try cursor.next()
            }
        }
    }

    /// Calls `body` with every stream's id and version (its number of events), in the order of
    /// their ids' bytes, until it returns false: two seeks a stream, no record read.
    public func forEachStream(_ body: (String, UInt64) throws -> Bool) throws {
        try txn.withCursor(on: layout.streams) { cursor in
            var entry = try cursor.first()
            var visited = 0
            while let current = entry {
                visited += 1
                if visited % 512 == 0 { txn.environment.releaseReadPages() }
                guard current.key.count >= 9 else { return }
                let stream = UnsafeRawBufferPointer(rebasing: current.key.dropLast(9))
                // The largest key the stream can have: the next key is the next stream's first.
                let upper = StoreLayout.streamKey(stream, version: .max)
                let name = String(decoding: stream, as: UTF8.self)
                let version = try layout.streamVersion(of: name, in: txn)
                guard try body(name, version) else { return }
                entry = try cursor.seek(atOrAfter: upper)
                if let found = entry, found.key.elementsEqual(upper) { entry = try cursor.next() }
            }
        }
    }

    /// Calls `body` with each record of `stream` from `version` on, in stream order, until it returns false.
    public func forEachRecord(inStream stream: String, from version: UInt64 = 1, _ body: (EventRecordView) throws -> Bool) throws {
        try forEachStoredRecord(inStream: stream, from: version) { try body(try opened($0)) }
    }

    /// ``forEachRecord(inStream:from:_:)`` without opening sealed payloads.
    public func forEachStoredRecord(inStream stream: String, from version: UInt64 = 1, _ body: (EventRecordView) throws -> Bool) throws {
        let prefix = StoreLayout.streamKey(stream, version: 0).dropLast(8)
        try txn.withCursor(on: layout.streams) { cursor in
            var entry = try cursor.seek(atOrAfter: StoreLayout.streamKey(stream, version: max(version, 1)))
            while let current = entry, current.key.count == prefix.count + 8, current.key.prefix(prefix.count).elementsEqual(prefix) {
                guard let sequence = Bytes.uint64(bigEndian: current.value) else {
                    throw EventStoreError.corruptRecord(sequence: 0, reason: "the stream index of \(stream) holds a malformed sequence")
                }
                guard let view = try layout.record(at: sequence, in: txn) else {
                    throw EventStoreError.corruptRecord(sequence: sequence, reason: "the stream index of \(stream) points at a missing record")
                }
                guard try body(view) else { return }
                entry = try cursor.next()
            }
        }
    }
}

extension EventStore {
    /// Runs `body` on one consistent snapshot of the log. Other readers and the writer go on.
    public func read<R>(_ body: (borrowing LogReader) throws -> R) throws -> R {
        do {
            return try environment.read { txn in
                let reader = LogReader(txn: ReadTransaction(borrowing: txn), layout: layout)
                return try body(reader)
            }
        } catch {
            throw EventStoreError.wrap(error, operation: "read the store", path: path)
        }
    }

    /// Runs a read whose failures are all the store's, with its errors typed.
    private func typedRead<R>(_ body: (borrowing LogReader) throws -> R) throws(EventStoreError) -> R {
        do {
            return try read(body)
        } catch {
            throw EventStoreError.converting(error, operation: "read the store", path: path)
        }
    }

    /// The sequence of the last event (0 when the log is empty).
    public func head() throws(EventStoreError) -> UInt64 {
        try typedRead { try $0.head() }
    }

    /// The number of events in `stream` (0 when it does not exist).
    public func streamVersion(_ stream: String) throws(EventStoreError) -> UInt64 {
        try typedRead { try $0.streamVersion(stream) }
    }

    /// Up to `limit` events from global `sequence` on, copied.
    public func events(from sequence: UInt64 = 1, limit: Int = .max) throws(EventStoreError) -> [RecordedEvent] {
        try collect(.log(from: sequence), limit: limit) { $0.event }
    }

    /// Up to `limit` events of `stream` from `version` on, copied.
    public func events(inStream stream: String, from version: UInt64 = 1, limit: Int = .max) throws(EventStoreError) -> [RecordedEvent] {
        try collect(.stream(stream, from: version), limit: limit) { $0.event }
    }

    /// Up to `limit` headers from `sequence` on: ids, types, times, no payload copied or opened.
    public func headers(from sequence: UInt64 = 1, limit: Int = .max) throws(EventStoreError) -> [EventHeader] {
        guard limit > 0 else { return [] }
        return try typedRead { reader in
            var out: [EventHeader] = []
            try reader.forEachStoredRecord(from: sequence) { view in
                out.append(view.header)
                return out.count < limit
            }
            return out
        }
    }

    /// The event with id `id`, or `nil` when it is not stored.
    public func event(id: String) throws(EventStoreError) -> RecordedEvent? {
        try typedRead { reader in
            guard let sequence = try reader.sequence(ofEventId: id) else { return nil }
            return try reader.record(at: sequence)?.event
        }
    }

    private enum Range {
        case log(from: UInt64)
        case stream(String, from: UInt64)
    }

    private func collect<T>(_ range: Range, limit: Int, _ map: (EventRecordView) -> T) throws(EventStoreError) -> [T] {
        guard limit > 0 else { return [] }
        return try typedRead { reader in
            var out: [T] = []
            let keepGoing = { (view: EventRecordView) -> Bool in
                out.append(map(view))
                return out.count < limit
            }
            switch range {
            case .log(let sequence): try reader.forEachRecord(from: sequence, keepGoing)
            case .stream(let stream, let version): try reader.forEachRecord(inStream: stream, from: version, keepGoing)
            }
            return out
        }
    }
}
