import Foundation

extension LogReader {
    /// Transforms the records from `sequence` on on several threads at once, and hands the
    /// results to `consume` in log order, on the calling thread, until it returns false: for
    /// work per record that is much dearer than reading it (decoding and encoding a whole
    /// export, an audit trail), whose output must keep the log's order.
    ///
    /// Records are read in chunks of `chunk`; each chunk is split among `threads` workers, each
    /// with its own payload opener, and its results are consumed before the next chunk is read,
    /// so memory holds one chunk of results at most. A record reaches `transform` with its
    /// payload opened (or marked with why it cannot be) and is valid only during the call.
    ///
    /// - Throws: the first error `transform` or `consume` threw (the rest of the chunk is
    ///   dropped), or a damaged record's error.
    public func forEachRecordTransformed<T: Sendable>(
        from sequence: UInt64 = 1, through last: UInt64 = .max, threads: Int = ParallelReplay.defaultPartitions, chunk: Int = 2048,
        _ transform: @escaping @Sendable (EventRecordView) throws -> T, consume: (T) throws -> Bool
    ) throws {
        let workers = max(1, threads)
        let directory = try layout.sealing.map { try $0.directory(in: txn) }
        let openers = (0..<workers).map { _ in
            layout.sealing.map { OpenerBox(PayloadOpener(sealing: $0, directory: directory ?? StreamKeyDirectory(entries: BytesTable()))) }
        }
        var pending: [EventRecordView] = []
        pending.reserveCapacity(chunk)
        var stopped = false

        func drain() throws {
            guard !pending.isEmpty else { return }
            let records = UncheckedRecords(records: pending)
            let results = ChunkResults<T>(count: pending.count)
            let slice = (pending.count + workers - 1) / workers
            let work = { @Sendable (worker: Int) in
                let start = worker * slice, end = min(records.records.count, start + slice)
                guard start < end else { return }
                for index in start..<end {
                    guard !results.failed else { return }
                    do {
                        let record = records.records[index]
                        let opened = record.isSealed ? (openers[worker]?.opener.open(record, owned: false) ?? record) : record
                        results.set(index, try transform(opened))
                    } catch {
                        results.fail(error)
                        return
                    }
                }
            }
            if workers == 1 || pending.count < 64 {
                work(0)
                if workers > 1 { for worker in 1..<workers { work(worker) } }
            } else {
                DispatchQueue.concurrentPerform(iterations: workers, execute: work)
            }
            if let error = results.error { throw error }
            for index in pending.indices {
                guard try consume(results.take(index)) else {
                    stopped = true
                    break
                }
            }
            pending.removeAll(keepingCapacity: true)
        }

        try forEachStoredRecord(from: sequence) { record in
            guard record.sequence <= last else { return false }
            pending.append(record)
            if pending.count == chunk {
                try drain()
                if stopped { return false }
            }
            return true
        }
        if !stopped { try drain() }
    }
}

/// Records of one read transaction handed to workers that finish before it ends.
private struct UncheckedRecords: @unchecked Sendable {
    // @unchecked: views into the map, read-only, valid while the transaction that outlives the
    // workers is open.
    let records: [EventRecordView]
}

/// A payload opener that one worker of ``LogReader/forEachRecordTransformed`` uses alone.
private final class OpenerBox: @unchecked Sendable {
    // @unchecked: each box is used by one worker thread only.
    let opener: PayloadOpener
    init(_ opener: PayloadOpener) { self.opener = opener }
}

/// The results of one chunk: each slot written by one worker, read after all are done.
private final class ChunkResults<T>: @unchecked Sendable {
    // @unchecked: disjoint slots per worker; the lock guards only the first error.
    private let slots: UnsafeMutableBufferPointer<T?>
    private let lock = NSLock()
    private(set) var error: (any Error)?
    private var failedFlag = false

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    var failed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return failedFlag
    }

    func set(_ index: Int, _ value: T) { slots[index] = value }

    func take(_ index: Int) -> T {
        // Every slot is set when no worker failed.
        let value = slots[index]!
        slots[index] = nil
        return value
    }

    func fail(_ error: any Error) {
        lock.lock()
        if self.error == nil { self.error = error }
        failedFlag = true
        lock.unlock()
    }
}
