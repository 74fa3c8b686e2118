import Dispatch
import LMDB
import Tracing

extension EventStore {
    /// Appends `events` to `stream`, all or nothing, and returns once they are durable.
    ///
    /// Concurrent appends are committed together (group commit); each still succeeds or fails on
    /// its own. An event whose id is stored already with the same content is not written again
    /// and keeps its original position; the same id with other content is refused.
    ///
    /// - Throws: ``EventStoreError/versionConflict(stream:expected:actual:)`` when the stream is not
    ///   at `expectedVersion`, ``EventStoreError/duplicateEventId(id:storedAt:)``,
    ///   ``EventStoreError/invalidEvent(_:)`` for an event the store cannot take.
    @discardableResult
    public func append(_ events: [NewEvent], to stream: String, expectedVersion: ExpectedVersion = .any) async throws(EventStoreError) -> AppendResult {
        let results = try await appendAtomically([StreamAppend(stream: stream, events: events, expectedVersion: expectedVersion)])
        return results[0]
    }

    /// Appends to several streams at once: every part lands, or none does.
    @discardableResult
    public func appendAtomically(_ parts: [StreamAppend]) async throws(EventStoreError) -> [AppendResult] {
        do {
            // A span in the host's tracer (a no-op until it bootstraps one), child of the caller's.
            return try await withSpan("EventStore.append", ofKind: .internal) { span in
                span.attributes["patient_record_store.events"] = Int64(parts.reduce(0) { $0 + $1.events.count })
                let writer = try acceptingWriter(for: parts)
                return try await withCheckedThrowingContinuation { continuation in
                    writer.submit(parts) { continuation.resume(with: $0) }
                }
            }
        } catch {
            throw EventStoreError.converting(error, operation: "append to the store", path: path)
        }
    }

    /// ``append(_:to:expectedVersion:)`` for callers on plain threads: blocks until durable.
    @discardableResult
    public func appendAndWait(_ events: [NewEvent], to stream: String, expectedVersion: ExpectedVersion = .any) throws(EventStoreError) -> AppendResult {
        let parts = [StreamAppend(stream: stream, events: events, expectedVersion: expectedVersion)]
        let writer: GroupCommitWriter
        do { writer = try acceptingWriter(for: parts) } catch { throw EventStoreError.converting(error, operation: "append to the store", path: path) }
        let done = DispatchSemaphore(value: 0)
        let outcome = OutcomeBox()
        writer.submit(parts) { result in
            outcome.result = result
            done.signal()
        }
        done.wait()
        // The writer always completes a submitted request before signalling.
        guard let result = outcome.result else { throw EventStoreError.closed(path: path) }
        do { return try result.get()[0] } catch { throw EventStoreError.converting(error, operation: "append to the store", path: path) }
    }

    /// Appends `events` to `stream` in the clear and destroys the stream's data key in the same
    /// durable transaction (crypto-shredding): afterwards no one can open the stream's earlier
    /// payloads, and nothing more can be appended to it. Headers, indexes and the hash chain stay.
    ///
    /// - Throws: ``EventStoreError/notSealed(path:)`` for a store without sealing,
    ///   ``EventStoreError/streamKeyDestroyed(stream:)`` when the key is gone already.
    ///
    /// LMDB writes a changed page to a new place and frees the old one, so the wrapped key would
    /// live on in a free page until LMDB reuses it. Once the destroying commit is durable, one
    /// more commit moves both meta pages past it, and every copy of the wrapped key left in free
    /// pages is overwritten with zeros and flushed: the live file keeps no usable copy.
    @discardableResult
    public func destroyKey(ofStream stream: String, recording events: [NewEvent], expectedVersion: ExpectedVersion = .any, indexEntries: [IndexEntry] = []) async throws -> AppendResult {
        guard layout.sealing != nil else { throw EventStoreError.notSealed(path: path) }
        var part = StreamAppend(stream: stream, events: events, expectedVersion: expectedVersion, indexEntries: indexEntries)
        part.destroysKey = true
        var result = try await appendAtomically([part])[0]
        if let wrapped = result.destroyedKey {
            result.destroyedKey = nil
            try wipeStaleCopies(of: wrapped)
        }
        return result
    }

    /// Whether payloads can be read: the store does not seal them, or it was opened with its key.
    public var opensPayloads: Bool { !isSealed || layout.sealing != nil }

    /// Overwrites the copies of `bytes` that LMDB's copy-on-write left in free pages: now where
    /// no reader can see them, later (by the commits that follow) where a reader still can.
    func wipeStaleCopies(of bytes: [UInt8]) throws {
        do {
            try environment.write { txn in
                try txn.put(Bytes.bigEndian(UInt64(Clock.nanosecondsSinceEpoch())), forKey: StoreLayout.MetaKey.maintenance, in: layout.meta)
            }
            try scrubs.process(environment: environment, meta: layout.meta)
            try scrubs.retire([bytes], environment: environment, meta: layout.meta)
        } catch {
            throw EventStoreError.wrap(error, operation: "overwrite the destroyed key's old pages", path: path)
        }
    }

    private func acceptingWriter(for parts: [StreamAppend]) throws -> GroupCommitWriter {
        if isClosed { throw EventStoreError.closed(path: path) }
        guard let writer = appendWriter else { throw EventStoreError.readOnly(path: path) }
        try Self.validate(parts)
        return writer
    }

    /// Refuses what the log cannot store, before it reaches the writer.
    static func validate(_ parts: [StreamAppend]) throws {
        guard !parts.isEmpty else { throw EventStoreError.invalidEvent("An append needs at least one event.") }
        // Ids are bytes: two spellings of one text (NFC and NFD) are two ids, as in LMDB's keys.
        var ids = Set<[UInt8]>()
        for part in parts {
            try checkIdentifier(part.stream, named: "stream id")
            guard !part.stream.utf8.contains(0) else {
                throw EventStoreError.invalidEvent("The stream id \(part.stream.debugDescription) contains a NUL byte.")
            }
            guard !part.events.isEmpty else {
                throw EventStoreError.invalidEvent("The append to stream \(part.stream) has no events.")
            }
            for event in part.events {
                try checkIdentifier(event.id, named: "event id")
                try checkIdentifier(event.actor, named: "actor of event \(event.id)")
                guard event.metadata.count <= EventRecordLayout.maxMetadataBytes else {
                    throw EventStoreError.invalidEvent("The metadata of event \(event.id) is \(event.metadata.count) bytes; at most \(EventRecordLayout.maxMetadataBytes) fit.")
                }
                guard event.payload.count <= Int(UInt32.max) else {
                    throw EventStoreError.invalidEvent("The payload of event \(event.id) is larger than 4 GiB.")
                }
                guard event.flags & EventRecordLayout.sealedFlag == 0 else {
                    throw EventStoreError.invalidEvent("Event \(event.id) sets flag bit 7, which the store keeps for sealed payloads.")
                }
                guard ids.insert(Array(event.id.utf8)).inserted else {
                    throw EventStoreError.invalidEvent("Event id \(event.id) appears twice in one append.")
                }
            }
        }
    }

    private static func checkIdentifier(_ value: String, named name: String) throws {
        guard !value.isEmpty else { throw EventStoreError.invalidEvent("The \(name) is empty.") }
        guard value.utf8.count <= EventRecordLayout.maxIdentifierBytes else {
            throw EventStoreError.invalidEvent("The \(name) is \(value.utf8.count) bytes long; at most \(EventRecordLayout.maxIdentifierBytes) are allowed.")
        }
    }
}

/// Carries a result from the writer thread to a thread blocked on a semaphore.
private final class OutcomeBox: @unchecked Sendable {
    // @unchecked: written once before the semaphore is signalled, read after it is waited on.
    var result: Result<[AppendResult], any Error>?
}
