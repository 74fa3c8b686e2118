import LMDB

/// The end of the log that the next event chains onto.
struct LogTail: Equatable {
    var sequence: UInt64
    var chainHash: [UInt8]
    var recordedAt: Int64

    static let genesisHash = [UInt8](repeating: 0, count: 32)

    init<T: TransactionReading & ~Copyable>(layout: StoreLayout, txn: borrowing T) throws {
        if let last = try layout.lastRecord(in: txn) {
            sequence = last.sequence
            chainHash = Array(last.chainHash)
            recordedAt = last.recordedAt
        } else {
            sequence = 0
            chainHash = LogTail.genesisHash
            recordedAt = 0
        }
    }
}

/// Writes appends into one write transaction: the part of group commit that touches LMDB.
struct LogWriter {
    let layout: StoreLayout

    /// Applies every request of a group in one transaction. A request's own refusal (a version
    /// conflict, a reused id) fails that request alone; a storage error fails the whole group
    /// (and, for a full map, makes the environment retry it).
    func commit(_ requests: [[StreamAppend]], in txn: borrowing WriteTransaction, now: Int64) throws -> [Result<[AppendResult], EventStoreError>] {
        let session = layout.sealing.map { SealingSession(sealing: $0, meta: layout.meta) }
        let start = try LogTail(layout: layout, txn: txn)
        var tail = start
        var results: [Result<[AppendResult], EventStoreError>] = []
        results.reserveCapacity(requests.count)
        for parts in requests {
            do {
                if parts.count == 1 {
                    results.append(.success([try append(parts[0], in: txn, tail: &tail, now: now, session: session)]))
                } else {
                    // Several streams at once are all-or-nothing: a nested transaction undoes the
                    // parts already written when a later part is refused.
                    var attempt = tail
                    let appended = try txn.nested { child in
                        try parts.map { try append($0, in: child, tail: &attempt, now: now, session: session) }
                    }
                    tail = attempt
                    results.append(.success(appended))
                }
            } catch let refusal as EventStoreError {
                // Keys created in an undone nested transaction are gone from the store.
                if parts.count > 1 { session?.reset() }
                results.append(.failure(refusal))
            }
        }
        if tail != start { try writeHead(tail, in: txn) }
        return results
    }

    /// Checks one stream's batch against the log, then writes it. Nothing is written unless every
    /// check passes, so a refusal leaves the transaction as it was.
    func append(_ part: StreamAppend, in txn: borrowing WriteTransaction, tail: inout LogTail, now: Int64, session: SealingSession?) throws -> AppendResult {
        if part.destroysKey && session == nil {
            throw EventStoreError(code: .notSealed, message: "This store was created without sealing; it keeps no data key to destroy.")
        }
        let current = try layout.streamVersion(of: part.stream, in: txn)
        var stored: [AppendResult.Position?] = []
        stored.reserveCapacity(part.events.count)
        for event in part.events {
            guard let value = try txn.value(forKey: Array(event.id.utf8), in: layout.eventIds),
                  let sequence = Bytes.uint64(bigEndian: value) else {
                stored.append(nil)
                continue
            }
            guard let existing = try layout.record(at: sequence, in: txn) else {
                throw EventStoreError.corruptRecord(sequence: sequence, reason: "the event id index points at a missing record")
            }
            let record = try session.map { try $0.opened(existing, in: txn) } ?? existing
            if record.payloadState == .keyDestroyed { throw EventStoreError.streamKeyDestroyed(stream: part.stream) }
            guard record.hasSameContent(as: event, stream: part.stream) else {
                throw EventStoreError.duplicateEventId(id: event.id, storedAt: sequence)
            }
            stored.append(.init(sequence: sequence, streamVersion: record.streamVersion, wasAlreadyStored: true))
        }
        if stored.allSatisfy({ $0 != nil }) {
            return AppendResult(stream: part.stream, positions: stored.compactMap { $0 })
        }
        guard part.expectedVersion.admits(current) else {
            throw EventStoreError.versionConflict(stream: part.stream, expected: part.expectedVersion, actual: current)
        }
        let indexes = try part.indexEntries.map { try layout.index(named: $0.index) }

        var version = current
        var positions: [AppendResult.Position] = []
        positions.reserveCapacity(part.events.count)
        for (given, earlier) in zip(part.events, stored) {
            if let earlier {
                positions.append(earlier)
                continue
            }
            // What destroys a stream's key is recorded in the clear: no key will open it later.
            let event = try part.destroysKey ? given : session.map { try $0.sealed(given, stream: part.stream, in: txn) } ?? given
            let sequence = tail.sequence + 1
            version += 1
            let recordedAt = max(now, tail.recordedAt)
            let sequenceKey = Bytes.bigEndian(sequence)
            var hash: [UInt8] = []
            try txn.put(count: event.recordSize(stream: part.stream), forKey: sequenceKey, in: layout.events, flags: .append) { buffer in
                hash = tail.chainHash.withUnsafeBytes { previous in
                    event.encodeRecord(into: buffer, stream: part.stream, streamVersion: version, recordedAt: recordedAt, previousHash: previous)
                }
            }
            try txn.put(sequenceKey, forKey: StoreLayout.streamKey(part.stream, version: version), in: layout.streams, flags: .noOverwrite)
            try txn.put(sequenceKey, forKey: Array(event.id.utf8), in: layout.eventIds, flags: .noOverwrite)
            tail = LogTail(sequence: sequence, chainHash: hash, recordedAt: recordedAt)
            positions.append(.init(sequence: sequence, streamVersion: version, wasAlreadyStored: false))
        }
        for (entry, index) in zip(part.indexEntries, indexes) {
            try txn.put(entry.value, forKey: entry.key, in: index)
        }
        var result = AppendResult(stream: part.stream, positions: positions)
        if part.destroysKey, let session { result.destroyedKey = try session.destroyKey(of: part.stream, in: txn) }
        return result
    }

    /// Records the new head, and in a sealed store its seal, in the same transaction as the events.
    func writeHead(_ tail: LogTail, in txn: borrowing WriteTransaction) throws {
        try txn.put(Bytes.bigEndian(tail.sequence), forKey: StoreLayout.MetaKey.headSequence, in: layout.meta)
        try txn.put(tail.chainHash, forKey: StoreLayout.MetaKey.chainHead, in: layout.meta)
        if let sealing = layout.sealing {
            // Another process may have rotated the master key since this one opened the store:
            // then neither the head's seal nor a new data key may be made with the old key.
            guard let stored = try txn.value(forKey: StoreLayout.MetaKey.keyCheck, in: layout.meta),
                  stored.elementsEqual(sealing.writerKeyCheck) else {
                throw EventStoreError.masterKeyRotated()
            }
            try txn.put(sealing.headSeal(sequence: tail.sequence, chainHash: tail.chainHash), forKey: StoreLayout.MetaKey.headSeal, in: layout.meta)
        }
    }
}

extension LogTail {
    init(sequence: UInt64, chainHash: [UInt8], recordedAt: Int64) {
        self.sequence = sequence
        self.chainHash = chainHash
        self.recordedAt = recordedAt
    }
}
