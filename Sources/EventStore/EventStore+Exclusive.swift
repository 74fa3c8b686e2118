import LMDB

/// Appends inside one exclusive write transaction, reading its own writes: for imports that must
/// land whole, check each event against everything before it (in the log or earlier in the same
/// input) and stream a large input in constant memory.
///
/// Valid only inside ``EventStore/withExclusiveTransaction(_:)``.
public struct ExclusiveAppender: ~Copyable {
    let txn: WriteTransaction
    let writer: LogWriter
    var tail: LogTail
    let now: Int64
    let session: SealingSession?
    /// How many events this transaction has written so far.
    public private(set) var appended = 0

    /// Appends one stream's batch; a refusal throws and, unless caught, aborts the whole transaction.
    @discardableResult
    public mutating func append(_ part: StreamAppend) throws -> AppendResult {
        try EventStore.validate([part])
        let result = try writer.append(part, in: txn, tail: &tail, now: now, session: session)
        appended += result.positions.filter { !$0.wasAlreadyStored }.count
        return result
    }

    /// The number of events in `stream`, this transaction's appends included.
    public func streamVersion(_ stream: String) throws -> UInt64 {
        try writer.layout.streamVersion(of: stream, in: txn)
    }

    /// The sequence of the event with id `id`, this transaction's appends included.
    public func sequence(ofEventId id: String) throws -> UInt64? {
        try txn.value(forKey: Array(id.utf8), in: writer.layout.eventIds).flatMap { Bytes.uint64(bigEndian: $0) }
    }

    /// The record at `sequence`, borrowed until the transaction ends; a sealed payload opened.
    public func record(at sequence: UInt64) throws -> EventRecordView? {
        guard let record = try writer.layout.record(at: sequence, in: txn) else { return nil }
        return try session.map { try $0.opened(record, owned: true, in: txn) } ?? record
    }

    /// The value under `key` in the application's index `index`; `nil` when absent.
    package func indexValue(_ index: String, key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        try txn.value(forKey: key, in: writer.layout.index(named: index))
    }
}

extension EventStore {
    /// Makes room for `bytes` more in the map before a write that cannot start over.
    public func reserveRoom(bytes: Int) throws {
        do {
            try environment.reserve(room: bytes)
        } catch {
            throw EventStoreError.wrap(error, operation: "reserve room in the store's map", path: path)
        }
    }

    /// Runs `body` in one write transaction of its own: everything it appends commits together
    /// (durably) when it returns, and nothing does when it throws. Group-committed appends from
    /// other tasks wait meanwhile.
    ///
    /// If the map fills up, the transaction is undone, the map grows and `body` runs again from
    /// the start: it must be repeatable (read its input anew).
    public func withExclusiveTransaction<R>(_ body: (inout ExclusiveAppender) throws -> R) throws -> R {
        if isClosed { throw EventStoreError.closed(path: path) }
        guard appendWriter != nil else { throw EventStoreError.readOnly(path: path) }
        let writer = LogWriter(layout: layout)
        do {
            var head: ChainHead?
            var retired: RetiredSeal?
            let result = try environment.write { txn in
                // The body may run again (a map grown): only the run that commits counts.
                head = nil
                retired = nil
                // The head seal this transaction replaces, where it lies in the file.
                let previous = layout.sealing == nil ? nil : try RetiredSeal.locate(in: txn, meta: layout.meta)
                var appender = ExclusiveAppender(
                    txn: WriteTransaction(borrowing: txn), writer: writer,
                    tail: try LogTail(layout: layout, txn: txn), now: Clock.nanosecondsSinceEpoch(),
                    session: layout.sealing.map { SealingSession(sealing: $0, meta: layout.meta) })
                let start = appender.tail
                let result = try body(&appender)
                // Closed while the body ran: nothing of it is committed.
                if isClosed { throw EventStoreError.closed(path: path) }
                if appender.tail != start {
                    try writer.writeHead(appender.tail, in: txn)
                    head = ChainHead(sequence: appender.tail.sequence, hash: appender.tail.chainHash)
                    retired = try previous?.replaced(in: txn, meta: layout.meta)
                }
                return result
            }
            retiredSeals.committed(head: head, replaced: retired, anchor: headAnchor, environment: lmdb, meta: layout.meta)
            commits.notify()
            return result
        } catch {
            throw EventStoreError.wrap(error, operation: "write to the store", path: path)
        }
    }
}
