@_spi(RawRecords) import EventStore
import Foundation
import Logging
import PostgresNIO

/// Ships a store's log to PostgreSQL: every committed record, byte for byte (clear header,
/// sealed payload, chain hash), in order and in batches, with the store's wrapped data keys and
/// identity. Each batch and the checkpoint it advances (the last sequence shipped and its chain
/// hash) are one PostgreSQL transaction, so a shipper killed at any point resumes exactly where
/// the last commit left it: no gap, no duplicate. A batch is accepted only if it continues the
/// shipped chain, so a store cannot overwrite another's rows, nor a rewritten log its own.
///
/// Payloads stay sealed: the master key never leaves the clinic. A patient forgotten later is
/// forgotten in PostgreSQL too (the tombstone replaces the key when the PatientForgotten record is
/// shipped), but PostgreSQL may keep the old key in dead row versions until it vacuums; see
/// docs/DEPLOYMENT.md.
public struct LogShipper: Sendable {
    public let store: EventStore
    public let target: PostgresTarget
    public var batchSize = 2_000
    /// How long to wait for a commit of another process before looking again.
    public var pollInterval: Duration = .milliseconds(200)
    public let logger: Logger

    /// What a pass shipped, for progress.
    public struct Progress: Sendable {
        /// The last sequence shipped (the checkpoint in PostgreSQL).
        public let shippedThrough: UInt64
        /// The head of the local log when the batch was read.
        public let head: UInt64
        /// Records shipped by this shipper so far.
        public let shipped: UInt64
    }

    public struct Diverged: Error, CustomStringConvertible {
        public let description: String
    }

    public init(store: EventStore, target: PostgresTarget, logger: Logger = Logger(label: "patient-record-store.shipping")) {
        self.store = store
        self.target = target
        self.logger = logger
    }

    /// How long one batch (or the first contact) may take before the connection is given up
    /// and made again: a server that restarted or a network that dropped packets must not
    /// leave the shipper waiting on a connection that will never answer.
    public var stepTimeout: Duration = .seconds(15)

    /// Ships until cancelled (following new commits), or, with `once`, until PostgreSQL has
    /// every record committed when it started. Connection failures are retried (PostgreSQL
    /// restarting, the network down) with growing pauses, each time on a new client; a log that
    /// diverges from what was shipped stops it with ``Diverged``.
    public func run(once: Bool = false, progress: (@Sendable (Progress) -> Void)? = nil) async throws {
        var pause = Duration.milliseconds(100)
        var shipped: UInt64 = 0
        let stopAt = once ? try store.head() : UInt64.max
        while !Task.isCancelled {
            let before = shipped
            let episode: Episode
            do {
                episode = try await target.withConnection(logger: logger) { connection in
                    try await ship(connection, stopAt: stopAt, shippedBefore: before, progress: progress)
                }
            } catch {
                // Not connected (PostgreSQL down or restarting, the network away).
                episode = Episode(end: .failed(error), shipped: shipped, progressed: false)
            }
            shipped = episode.shipped
            switch episode.end {
            case .finished, .cancelled:
                return
            case .failed(let error):
                if let diverged = error as? Diverged { throw diverged }
                // The local store failing (closed, damaged) is not PostgreSQL going away: no retry.
                if let local = error as? EventStoreError { throw local }
                if Task.isCancelled { return }
                if episode.progressed { pause = .milliseconds(100) }
                logger.warning("shipping to \(target) failed; trying again on a new connection",
                               metadata: ["error": "\(String(reflecting: error))", "pause": "\(pause)"])
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(5))
            }
        }
    }

    /// How one client's turn ended.
    struct Episode: Sendable {
        enum End: Sendable {
            case finished, cancelled
            case failed(any Error)
        }
        var end: End
        var shipped: UInt64
        var progressed: Bool
    }

    /// Ships on one client until done, cancelled, or the first failure (returned, not thrown, so
    /// that the caller starts over on a new client).
    func ship(_ client: PostgresConnection, stopAt: UInt64, shippedBefore: UInt64,
              progress: (@Sendable (Progress) -> Void)?) async throws -> Episode {
        var episode = Episode(end: .cancelled, shipped: shippedBefore, progressed: false)
        do {
            try await withTimeout(client) {
                try await ShippedLog.prepare(client, logger: logger)
                try await register(client)
            }
            while !Task.isCancelled {
                let step = try await withTimeout(client) { try await shipBatch(client, stopAt: stopAt) }
                episode.shipped += step.count
                episode.progressed = true
                progress?(Progress(shippedThrough: step.through, head: step.head, shipped: episode.shipped))
                // The valid prefix is committed; the damaged record is the local store's failure.
                if let damaged = step.damaged { throw damaged }
                if step.count == 0 {
                    if step.through >= stopAt {
                        episode.end = .finished
                        return episode
                    }
                    try await Task.sleep(for: pollInterval)
                }
            }
        } catch is CancellationError where Task.isCancelled {
            episode.end = .cancelled
        } catch {
            episode.end = .failed(error)
        }
        return episode
    }

    /// The store's identity changed since it was registered (its master key rotated).
    struct IdentityChanged: Error, CustomStringConvertible {
        var description: String { "the store's master key was rotated; registering it again" }
    }

    struct StepTimedOut: Error, CustomStringConvertible {
        let limit: Duration
        var description: String { "PostgreSQL did not answer within \(limit)" }
    }

    /// `body`, or ``StepTimedOut`` when it takes longer than ``stepTimeout``: then the
    /// connection is closed and `body` is left behind. (A query in flight when PostgreSQL
    /// terminates the connection can wait forever in the client, deaf to cancellation and to
    /// the connection's closing; measured with a restart mid-batch. Leaving it behind costs
    /// one suspended task per such event, and the shipper goes on.)
    func withTimeout<R: Sendable>(_ connection: PostgresConnection, _ body: @escaping @Sendable () async throws -> R) async throws -> R {
        let limit = stepTimeout
        let race = FirstOutcome<R>()
        // Cancelled (the shipper told to stop): answered at once; a batch under way may still
        // commit in PostgreSQL, which the checkpoint makes harmless.
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.wait(continuation)
                let work = Task { race.finish(await outcome(of: body)) }
                Task {
                    try? await Task.sleep(for: limit)
                    if race.finish(.failure(StepTimedOut(limit: limit))) {
                        work.cancel()
                        try? await connection.close()
                    }
                }
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }

    /// Records the store's identity in PostgreSQL, or checks that the row there is this store's.
    func register(_ client: PostgresConnection) async throws {
        let identity = try store.read { try $0.identity() }
        let genesis = Data(repeating: 0, count: 32)
        try await client.query("""
            INSERT INTO prs_stores (store_id, format_version, sealed, key_check, shipped_through, chain_hash)
            VALUES (\(identity.storeId), \(Int32(identity.formatVersion)), \(identity.isSealed), \(identity.keyCheck.map { Data($0) }), 0, \(genesis))
            ON CONFLICT (store_id) DO NOTHING
            """, logger: logger)
        guard let shipped = try await ShippedLog.stores(client, id: identity.storeId, logger: logger).first else {
            throw Diverged(description: "PostgreSQL holds no row for store \(identity.storeId) after registering it")
        }
        // The same id with other sealing is another store; whether the log is the same one is
        // judged by the chain, batch by batch.
        guard shipped.identity.isSealed == identity.isSealed else {
            throw Diverged(description: "PostgreSQL holds another store under the id \(identity.storeId) (sealed: \(shipped.identity.isSealed))")
        }
        if shipped.identity.formatVersion != identity.formatVersion || shipped.identity.keyCheck != identity.keyCheck {
            // The store was brought to a newer format, or its master key rotated, since. After a
            // rotation every data key was re-wrapped: all of them are shipped again with the new
            // key check, in one transaction, so that PostgreSQL never pairs a key check with
            // keys wrapped under another master key.
            // The identity and the keys from one snapshot, so that a rotation cannot fall between.
            let (identity, keys) = try store.read { reader in
                let now = try reader.identity()
                return (now, now.keyCheck != shipped.identity.keyCheck ? try reader.storedStreamKeys() : [])
            }
            let storeId = identity.storeId
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT 1 FROM prs_stores WHERE store_id = \(storeId) FOR UPDATE", logger: logger)
                for (stream, value) in keys {
                    try await connection.query("""
                        INSERT INTO prs_stream_keys (store_id, stream, stored_key) VALUES (\(storeId), \(Data(stream)), \(Data(value)))
                        ON CONFLICT (store_id, stream) DO UPDATE SET stored_key = EXCLUDED.stored_key
                        """, logger: logger)
                }
                try await connection.query("""
                    UPDATE prs_stores SET format_version = \(Int32(identity.formatVersion)), key_check = \(identity.keyCheck.map { Data($0) })
                    WHERE store_id = \(storeId)
                    """, logger: logger)
            }
        }
    }

    struct Step {
        let count: UInt64
        let through: UInt64
        let head: UInt64
        /// The local record the batch stopped before because it does not verify.
        var damaged: EventStoreError?
    }

    /// One batch: read after the checkpoint, written with the new checkpoint in one transaction.
    func shipBatch(_ client: PostgresConnection, stopAt: UInt64) async throws -> Step {
        let storeId = store.storeId
        let batchSize = self.batchSize
        return try await client.withTransaction(logger: logger) { connection in
            // The checkpoint, locked: a second shipper of the same store waits here.
            let rows = try await connection.query(
                "SELECT shipped_through, chain_hash, key_check, head_seal FROM prs_stores WHERE store_id = \(storeId) FOR UPDATE", logger: logger)
            var checkpoint: (UInt64, [UInt8], [UInt8]?, [UInt8]?)?
            for try await (through, hash, keyCheck, seal) in rows.decode((Int64, Data, Data?, Data?).self) {
                checkpoint = (UInt64(through), Array(hash), keyCheck.map { Array($0) }, seal.map { Array($0) })
            }
            guard let (through, shippedHash, shippedKeyCheck, shippedSeal) = checkpoint else {
                throw Diverged(description: "store \(storeId) is not registered in PostgreSQL")
            }
            let batch = try store.read { reader -> Batch in
                // The master key rotated since the store was registered: register again (which
                // ships every re-wrapped key) before shipping keys wrapped under the new one.
                guard try reader.identity().keyCheck == shippedKeyCheck else { throw IdentityChanged() }
                let head = try reader.head()
                if through > head {
                    throw Diverged(description: "PostgreSQL holds store \(storeId) up to sequence \(through), past its local head \(head): the local store is an older copy")
                }
                // The local record at the checkpoint must carry the chain hash shipped with it.
                if through > 0 {
                    guard let local = try reader.storedRecord(at: through), Array(local.chainHash) == shippedHash else {
                        throw Diverged(description: "the local log of store \(storeId) differs from the shipped one at sequence \(through)")
                    }
                }
                var batch = Batch(head: head)
                var streams = Set<[UInt8]>()
                // Only what verifies goes out: each record's structure and its chain hash, from the
                // hash shipped with the checkpoint. A damaged record stops the batch before it, so
                // that PostgreSQL keeps a prefix that restores.
                var chain = through > 0 ? ChainCheck(after: through, hash: shippedHash) : ChainCheck()
                try reader.forEachStoredRecord(from: through + 1) { record in
                    guard record.sequence <= min(stopAt, through + UInt64(batchSize)) else { return false }
                    if let problem = chain.check(sequence: record.sequence, bytes: record.bytes) {
                        batch.damaged = EventStoreError.corruptRecord(
                            sequence: record.sequence,
                            reason: "\(problem); shipping stops before it, and PostgreSQL keeps the log through sequence \(record.sequence - 1), which restores. Restore the local store from a backup or from PostgreSQL")
                        return false
                    }
                    batch.records.append((record.sequence, record.type, Array(record.streamIdBytes), Array(record.bytes)))
                    batch.lastHash = Array(record.chainHash)
                    streams.insert(Array(record.streamIdBytes))
                    return true
                }
                for stream in streams {
                    if let value = try stream.withUnsafeBytes({ try reader.storedStreamKey($0) }) { batch.keys.append((stream, value)) }
                }
                // The batch reaches the head: its seal goes with the checkpoint (keyed evidence
                // that PostgreSQL's copy is the store's own, which the shipper, holding no key,
                // copies and cannot make).
                // (Also when nothing is left to ship: the head was sealed anew since, by a
                // rotation of the master key, and PostgreSQL's seal is the old key's.)
                let lastSequence = batch.records.last?.sequence ?? through
                let lastHash = batch.records.isEmpty ? shippedHash : batch.lastHash
                if let sealed = try reader.sealedHead(), sealed.sequence == lastSequence, sealed.chainHash == lastHash {
                    batch.sealedHead = sealed
                }
                return batch
            }
            guard let last = batch.records.last else {
                if let sealed = batch.sealedHead, sealed.seal != shippedSeal {
                    try await connection.query("""
                        UPDATE prs_stores SET sealed_through = \(Int64(sealed.sequence)), sealed_hash = \(Data(sealed.chainHash)), head_seal = \(Data(sealed.seal))
                        WHERE store_id = \(storeId)
                        """, logger: logger)
                }
                return Step(count: 0, through: through, head: batch.head, damaged: batch.damaged)
            }
            // Multi-row inserts, a few hundred rows to a statement (PostgreSQL takes 65,535 binds).
            for chunk in stride(from: 0, to: batch.records.count, by: 500) {
                var sql = "INSERT INTO prs_records (store_id, sequence, type, stream, record) VALUES "
                var binds = PostgresBindings()
                for (offset, record) in batch.records[chunk..<min(chunk + 500, batch.records.count)].enumerated() {
                    let base = offset * 5
                    sql += (offset == 0 ? "" : ",") + "($\(base + 1),$\(base + 2),$\(base + 3),$\(base + 4),$\(base + 5))"
                    binds.append(storeId)
                    binds.append(Int64(record.sequence))
                    binds.append(Int32(record.type))
                    try binds.append(Data(record.stream))
                    try binds.append(Data(record.bytes))
                }
                try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            }
            for (stream, value) in batch.keys {
                try await connection.query("""
                    INSERT INTO prs_stream_keys (store_id, stream, stored_key) VALUES (\(storeId), \(Data(stream)), \(Data(value)))
                    ON CONFLICT (store_id, stream) DO UPDATE SET stored_key = EXCLUDED.stored_key
                    """, logger: logger)
            }
            try await connection.query("""
                UPDATE prs_stores SET shipped_through = \(Int64(last.sequence)), chain_hash = \(Data(batch.lastHash)), shipped_at = now()
                WHERE store_id = \(storeId)
                """, logger: logger)
            if let sealed = batch.sealedHead {
                try await connection.query("""
                    UPDATE prs_stores SET sealed_through = \(Int64(sealed.sequence)), sealed_hash = \(Data(sealed.chainHash)), head_seal = \(Data(sealed.seal))
                    WHERE store_id = \(storeId)
                    """, logger: logger)
            }
            return Step(count: UInt64(batch.records.count), through: last.sequence, head: batch.head, damaged: batch.damaged)
        }
    }

    struct Batch {
        let head: UInt64
        var records: [(sequence: UInt64, type: UInt16, stream: [UInt8], bytes: [UInt8])] = []
        var keys: [(stream: [UInt8], value: [UInt8])] = []
        var lastHash: [UInt8] = []
        var damaged: EventStoreError?
        var sealedHead: SealedHead?

        init(head: UInt64) { self.head = head }
    }
}

/// Whichever of several outcomes comes first resumes the waiter; the others are dropped. An
/// outcome that comes before the waiter (a task cancelled already) is kept for it.
private final class FirstOutcome<R: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<R, any Error>?
    private var first: Result<R, any Error>?

    func wait(_ continuation: CheckedContinuation<R, any Error>) {
        let ready: Result<R, any Error>? = lock.withLock {
            if let first { return first }
            self.continuation = continuation
            return nil
        }
        if let ready { continuation.resume(with: ready) }
    }

    /// Resumes the waiter with `outcome` if no outcome came before; whether this one was first.
    @discardableResult
    func finish(_ outcome: Result<R, any Error>) -> Bool {
        let (wasFirst, waiting): (Bool, CheckedContinuation<R, any Error>?) = lock.withLock {
            guard first == nil else { return (false, nil) }
            first = outcome
            defer { continuation = nil }
            return (true, continuation)
        }
        waiting?.resume(with: outcome)
        return wasFirst
    }
}

private func outcome<R>(of body: () async throws -> R) async -> Result<R, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}
