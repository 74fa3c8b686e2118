import CProcessorCount
import Crypto
import Foundation
import LMDB

/// A set of event type codes, tested in one load: the router's table.
public struct EventTypeSet: Sendable, Hashable {
    private var words = [UInt64](repeating: 0, count: 1024)

    public init() {}

    public init<S: Sequence<UInt16>>(_ codes: S) {
        for code in codes { insert(code) }
    }

    /// Every code, including ones this version does not know.
    public static var all: EventTypeSet {
        var set = EventTypeSet()
        set.words = [UInt64](repeating: .max, count: 1024)
        return set
    }

    public mutating func insert(_ code: UInt16) {
        words[Int(code >> 6)] |= 1 << UInt64(code & 63)
    }

    public mutating func formUnion(_ other: EventTypeSet) {
        for index in words.indices { words[index] |= other.words[index] }
    }

    @inline(__always)
    public func contains(_ code: UInt16) -> Bool {
        words[Int(code >> 6)] & (1 << UInt64(code & 63)) != 0
    }

    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }
}

/// One part of a parallel replay: it receives, in log order, every selected record of the
/// streams routed to it, and no record of any other stream.
///
/// A partition runs on its own thread. Records are views into the memory map, valid only during
/// ``apply(_:)``: copy what must outlive the call. In a sealed store each record's payload is
/// opened on the partition's thread just before `apply` (see ``EventRecordView/payloadState``).
public protocol ReplayPartition: Sendable {
    mutating func apply(_ record: EventRecordView) throws
    /// Called once after the last record of the replay, on the partition's thread, for work
    /// that waits for the end (judging what is still open). Not called when the replay failed.
    mutating func finish() throws
}

extension ReplayPartition {
    public mutating func finish() throws {}
}

/// Which records a replay reads: a range of the log and the types wanted.
public struct ReplayRange: Sendable {
    /// The first sequence to read (1 for a full replay, a checkpoint + 1 to catch up).
    public var from: UInt64
    /// The last sequence to read (the head of the snapshot when larger).
    public var through: UInt64
    /// The type codes handed to partitions; others are skipped on their header alone.
    public var types: EventTypeSet
    /// The types whose payloads the partitions read; a sealed payload of another type is handed
    /// over unopened (its header alone is read). `nil`: every routed type.
    public var payloadTypes: EventTypeSet?
    /// Checks the hash chain of every record in the range (routed or not) as it is read, in the
    /// same pass, and stops before the first one that does not verify (see ``ChainProblem``).
    public var checksChain = false

    public init(from: UInt64 = 1, through: UInt64 = .max, types: EventTypeSet = .all, payloadTypes: EventTypeSet? = nil) {
        self.from = from
        self.through = through
        self.types = types
        self.payloadTypes = payloadTypes
    }

    /// Whether `record`'s payload must be opened before a partition sees it.
    @inline(__always)
    func opens(_ record: EventRecordView) -> Bool {
        record.isSealed && (payloadTypes?.contains(record.type) ?? true)
    }
}

/// The replay core: one read transaction, records routed by header to partitions over disjoint
/// sets of streams, payloads never copied by the core.
///
/// The calling thread walks `events` with one cursor, reads each header in place, drops records
/// of unwanted types, and queues a pointer to each wanted record for the partition that owns its
/// stream (a hash of the stream id). Each partition runs on its own thread and sees its streams'
/// records in log order. The read transaction stays open until every partition is done, so the
/// pointers stay valid; the queues are bounded, so memory does not grow with the log.
public enum ParallelReplay {
    /// A good number of partitions for this machine: one per core.
    /// Counts a record visited; every 16,384 records, reports progress and looks at the
    /// caller's cancellation (``LongWork``).
    @inline(__always)
    private static func visit(_ sequence: UInt64, count visited: inout Int, progress: ((UInt64) -> Void)?) throws {
        visited &+= 1
        if visited & ((1 << 14) - 1) == 0 {
            progress?(sequence)
            try LongWork.checkCancellation()
        }
    }

    /// A good number of partitions for this machine: one per core this process may run on (its
    /// CPU affinity, as `taskset` or a container's cpuset set it), else one per online core.
    public static var defaultPartitions: Int { max(1, Int(prs_processor_count())) }

    /// The partition that owns `stream`: FNV-1a of its bytes.
    @inline(__always)
    package static func partition(ofStream stream: UnsafeRawBufferPointer, count: Int) -> Int {
        guard count > 1 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in stream {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int(hash % UInt64(count))
    }

    /// Reads `range` of one snapshot and hands each wanted record to the partition of its stream.
    ///
    /// - Parameters:
    ///   - reader: the snapshot; its records are read in place.
    ///   - range: the sequences to read, the types wanted, and whether the chain is checked.
    ///   - partitions: one per worker; with one, everything runs on the calling thread.
    ///   - progress: called on the calling thread now and then with the last sequence routed.
    /// - Returns: the partitions after every record has been applied, in the same order, and
    ///   when the range checks the chain, the first record that did not verify.
    /// - Throws: the first error a partition threw, or (when the chain is not checked) a damaged
    ///   record's error; `CancellationError` when it runs for a cancelled task (`LongWork`).
    public static func run<P: ReplayPartition>(
        _ reader: borrowing LogReader, range: ReplayRange, partitions: [P],
        progress: ((UInt64) -> Void)? = nil
    ) throws -> Outcome<P> {
        precondition(!partitions.isEmpty, "a replay needs at least one partition")
        let through = min(range.through, try reader.head())
        guard range.from <= through, !range.types.isEmpty || range.checksChain else { return Outcome(partitions: partitions, integrity: nil) }
        var chain: ChainCheck?
        if range.checksChain {
            chain = range.from <= 1 ? ChainCheck()
                : try reader.storedRecord(at: range.from - 1).map { ChainCheck(after: $0.sequence, hash: Array($0.chainHash)) }
        }
        var integrity: ChainProblem?
        /// Walks the range with the chain checked in the same pass; `route` gets each record that verified.
        func walk(_ route: (EventRecordView) throws -> Bool) throws {
            var routeStopped = false
            var visited = 0
            do {
                try reader.forEachRecordOrDamage(from: range.from) { sequence, bytes in
                    guard sequence <= through else { return false }
                    try visit(sequence, count: &visited, progress: progress)
                    if chain != nil, let problem = chain?.check(sequence: sequence, bytes: bytes) {
                        integrity = ChainProblem(sequence: min(sequence, chain?.expected ?? sequence), reason: problem)
                        return false
                    }
                    guard let record = EventRecordView(sequence: sequence, bytes: bytes) else {
                        throw EventStoreError.corruptRecord(sequence: sequence, reason: "its header does not match its length")
                    }
                    guard range.types.contains(record.type) else { return true }
                    routeStopped = try !route(record)
                    return !routeStopped
                }
            } catch let error as LMDBError where chain != nil {
                integrity = ChainProblem(sequence: chain?.expected ?? range.from, reason: "a page of the store is damaged at or after this record (\(error))")
            }
            if chain != nil, integrity == nil, !routeStopped, let expected = chain?.expected, expected <= through {
                integrity = ChainProblem(sequence: expected, reason: "the record is missing")
            }
        }
        // Payloads are opened only for the records routed, on the thread that applies them.
        let sealing = reader.layout.sealing
        if partitions.count == 1 {
            var only = partitions[0]
            try walk { record in
                try only.apply(range.opens(record) ? reader.opened(record, owned: false) : record)
                return true
            }
            try only.finish()
            if integrity == nil { progress?(through) }
            return Outcome(partitions: [only], integrity: integrity)
        }

        let keys = try sealing.map { (sealing: $0, directory: try $0.directory(in: reader.txn)) }
        let workers = partitions.indices.map { Worker(partition: partitions[$0], range: range, keys: keys) }
        let done = DispatchGroup()
        for worker in workers {
            done.enter()
            let thread = Thread {
                worker.run()
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        var batches = [[Routed]](repeating: [], count: workers.count)
        for index in batches.indices { batches[index].reserveCapacity(batchSize) }
        var routingError: (any Error)?
        // With the chain checked, the routing thread checks only that sequences follow one
        // another and that headers hold; each record's hash is checked by the worker it goes to
        // (every record goes to one, wanted or not), against the previous record's stored hash,
        // which stays in the map as long as the transaction. So hashing runs in parallel too.
        let seed = UnsafeMutableRawBufferPointer.allocate(byteCount: EventRecordLayout.chainHashSize, alignment: 8)
        defer { seed.deallocate() }
        if let chain { chain.lastHash.withUnsafeBytes { seed.copyMemory(from: $0) } }
        var previousHash = UnsafeRawBufferPointer(seed)
        var expected = chain?.expected ?? range.from
        var routeStopped = false
        var visited = 0
        do {
            try reader.forEachRecordOrDamage(from: range.from) { sequence, bytes in
                guard sequence <= through else { return false }
                try visit(sequence, count: &visited, progress: progress)
                if chain != nil && sequence != expected {
                    integrity = ChainProblem(sequence: min(sequence, expected), reason: sequence > expected
                        ? "the log jumps from sequence \(expected - 1) to \(sequence)" : "sequence \(sequence) comes after \(expected - 1)")
                    return false
                }
                expected = sequence + 1
                guard let record = EventRecordView(sequence: sequence, bytes: bytes) else {
                    if chain != nil {
                        integrity = ChainProblem(sequence: sequence, reason: "its header does not match its length or format version")
                        return false
                    }
                    throw EventStoreError.corruptRecord(sequence: sequence, reason: "its header does not match its length")
                }
                let wanted = range.types.contains(record.type)
                guard wanted || chain != nil else { return true }
                let target = partition(ofStream: record.streamIdBytes, count: workers.count)
                batches[target].append(Routed(sequence: sequence, bytes: bytes, previousHash: chain == nil ? nil : previousHash, wanted: wanted))
                previousHash = record.chainHash
                if batches[target].count == batchSize {
                    guard workers[target].submit(batches[target]) else {
                        routeStopped = true
                        return false
                    }
                    batches[target].removeAll(keepingCapacity: true)
                }
                return true
            }
        } catch let error as LMDBError where chain != nil {
            integrity = ChainProblem(sequence: expected, reason: "a page of the store is damaged at or after this record (\(error))")
        } catch {
            routingError = error
        }
        if chain != nil, integrity == nil, routingError == nil, !routeStopped, expected <= through {
            integrity = ChainProblem(sequence: expected, reason: "the record is missing")
        }
        for (worker, batch) in zip(workers, batches) {
            // A routing error (a damaged record, the caller's cancellation) discards the result:
            // the workers drop what is queued and stop without finishing their partitions.
            if routingError != nil {
                worker.abandon()
                continue
            }
            if !batch.isEmpty { _ = worker.submit(batch) }
            worker.finish()
        }
        done.wait()
        if let error = routingError ?? workers.lazy.compactMap(\.error).first { throw error }
        // A record whose hash a worker found wrong (routing never passes a record it found wrong
        // itself, so this one is the first): other workers went on past it, so the range is
        // replayed again up to it, and nothing from it on is applied. Damage is rare; it costs
        // a second pass then.
        if let broken = workers.compactMap(\.chainBroken).min(by: { $0.sequence < $1.sequence }) {
            var before = range
            before.through = broken.sequence - 1
            before.checksChain = false
            let clean = broken.sequence > range.from
                ? try run(reader, range: before, partitions: partitions, progress: nil).partitions
                : try partitions.map { partition in
                    var empty = partition
                    try empty.finish()
                    return empty
                }
            return Outcome(partitions: clean, integrity: broken)
        }
        if integrity == nil { progress?(through) }
        return Outcome(partitions: workers.map(\.partition), integrity: integrity)
    }

    /// What a replay produced.
    public struct Outcome<P: ReplayPartition> {
        /// The partitions after every record has been applied, in the order given.
        public let partitions: [P]
        /// The first record that did not verify, when the range checked the chain and met one:
        /// nothing from it on was applied.
        public let integrity: ChainProblem?
    }

    /// Records handed to a partition at a time, and batches queued per partition at most.
    static let batchSize = 2048
    static let maxQueued = 8

    /// A record queued for a partition: a pointer into the memory map, valid while the routing
    /// read transaction is open (which outlives every worker).
    struct Routed: @unchecked Sendable {
        let sequence: UInt64
        let bytes: UnsafeRawBufferPointer
        /// The stored chain hash of the record before, when the worker checks this one's hash.
        let previousHash: UnsafeRawBufferPointer?
        /// Whether the partition applies it (or only checks its hash).
        let wanted: Bool
    }

    /// One partition's thread and its bounded queue.
    final class Worker<P: ReplayPartition>: @unchecked Sendable {

        private let condition = NSCondition()
        private var queue: [[Routed]] = []
        private var finished = false
        private var abandoned = false
        // Written by the worker thread only, read after it is done.
        private(set) var partition: P
        private(set) var error: (any Error)?
        /// The first record of this worker whose chain hash did not match; nothing after it was
        /// applied by this worker.
        private(set) var chainBroken: ChainProblem?
        /// Opens sealed payloads with keys from the snapshot's directory; this thread's alone.
        private let opener: PayloadOpener?
        private let range: ReplayRange

        init(partition: P, range: ReplayRange, keys: (sealing: StoreSealing, directory: StreamKeyDirectory)?) {
            self.partition = partition
            self.range = range
            opener = keys.map { PayloadOpener(sealing: $0.sealing, directory: $0.directory) }
        }

        /// Queues a batch, waiting while the queue is full; false once the worker has failed.
        func submit(_ batch: [Routed]) -> Bool {
            condition.lock()
            defer { condition.unlock() }
            while queue.count >= ParallelReplay.maxQueued && error == nil { condition.wait() }
            guard error == nil else { return false }
            queue.append(batch)
            condition.broadcast()
            return true
        }

        func finish() {
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }

        /// Drops the queued batches and stops the worker after the batch in hand, without
        /// finishing its partition.
        func abandon() {
            condition.lock()
            abandoned = true
            queue.removeAll()
            finished = true
            condition.broadcast()
            condition.unlock()
        }

        func run() {
            while true {
                condition.lock()
                while queue.isEmpty && !finished { condition.wait() }
                if abandoned {
                    condition.unlock()
                    return
                }
                if queue.isEmpty {
                    condition.unlock()
                    guard chainBroken == nil else { return }
                    do {
                        try partition.finish()
                    } catch {
                        condition.lock()
                        self.error = error
                        condition.unlock()
                    }
                    return
                }
                let batch = queue.removeFirst()
                condition.broadcast()
                condition.unlock()
                do {
                    for routed in batch where chainBroken == nil {
                        guard let record = EventRecordView(sequence: routed.sequence, bytes: routed.bytes) else {
                            throw EventStoreError.corruptRecord(sequence: routed.sequence, reason: "its header does not match its length")
                        }
                        if let previous = routed.previousHash,
                           !EventRecordView.chainHash(previous: previous, record: routed.bytes).withUnsafeBytes({ record.chainHash.elementsEqual($0) }) {
                            chainBroken = ChainProblem(sequence: routed.sequence, reason: "its chain hash does not match its bytes and the previous record")
                            break
                        }
                        guard routed.wanted else { continue }
                        if let opener, range.opens(record) {
                            try partition.apply(opener.open(record, owned: false))
                        } else {
                            try partition.apply(record)
                        }
                    }
                } catch {
                    condition.lock()
                    self.error = error
                    queue.removeAll()
                    condition.broadcast()
                    condition.unlock()
                    return
                }
            }
        }
    }
}

/// The first record of a replay's range whose hash chain does not verify, and why.
public struct ChainProblem: Sendable, Hashable {
    public let sequence: UInt64
    public let reason: String

    public init(sequence: UInt64, reason: String) {
        self.sequence = sequence
        self.reason = reason
    }
}
