import EventStore
import Foundation

/// Reads and parses the lines of an import ahead of the transaction that records them: a
/// thread of its own reads batches of lines and parses each batch on every core, while the
/// importing thread checks and appends the batch before. Parsing (JSON, then the protobuf
/// mapping) is most of an import's work and needs nothing of the store, so it runs beside it.
///
/// Batches come out in line order, each line with its result, so the first refusal reported is
/// still the first in the file, whether it is a parse error or a check against the store. At
/// most a few batches wait at once.
final class ParsePipeline: @unchecked Sendable {
    // @unchecked: the queue and flags are guarded by `condition`; the reader is the parse
    // thread's alone.

    struct Line: Sendable {
        let number: Int
        /// `nil` for a blank line.
        let result: Result<ClinicalEventInput, EventValidationError>?
    }

    struct Batch: Sendable {
        let lines: [Line]
        /// Input bytes read when the batch was cut, for progress.
        let bytesRead: Int
    }

    private let condition = NSCondition()
    private var queue: [Batch] = []
    private var finished = false
    private var cancelled = false
    private var exited = false
    private var reader: LineReader
    private let batchSize: Int
    private let workers: Int
    static let maxQueued = 4

    init(reader: LineReader, batchSize: Int = 1024, workers: Int = ParallelReplay.defaultPartitions) {
        self.reader = reader
        self.batchSize = batchSize
        self.workers = max(1, workers)
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The next batch, waiting for it; `nil` after the last.
    func next() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !finished { condition.wait() }
        guard !queue.isEmpty else { return nil }
        let batch = queue.removeFirst()
        condition.broadcast()
        return batch
    }

    /// Stops reading (the import failed or ended). With `waiting`, returns once the reading
    /// thread is done with the input (so that a file may be closed: its descriptor could
    /// otherwise be reused under that thread); never wait on a stream, whose read may block.
    func cancel(waiting: Bool) {
        condition.lock()
        cancelled = true
        queue.removeAll()
        condition.broadcast()
        if waiting { while !exited { condition.wait() } }
        condition.unlock()
    }

    private func run() {
        defer {
            condition.lock()
            exited = true
            condition.broadcast()
            condition.unlock()
        }
        var number = 0
        var stop = false
        while !stop {
            // Read a batch of lines (copied: the reader's buffer moves on).
            var raw: [(number: Int, bytes: [UInt8])] = []
            var readFailure: Line?
            do {
                while raw.count < batchSize, let line = try reader.next(lineNumber: number + 1) {
                    number += 1
                    raw.append((number, Array(line)))
                }
            } catch let error as EventValidationError {
                readFailure = Line(number: number + 1, result: .failure(error))
            } catch {
                readFailure = Line(number: number + 1, result: .failure(EventValidationError(line: number + 1, field: "file", reason: "\(error)")))
            }
            if raw.count < batchSize || readFailure != nil { stop = true }
            let parsed = Self.parse(raw, workers: workers) + (readFailure.map { [$0] } ?? [])
            condition.lock()
            while queue.count >= Self.maxQueued && !cancelled { condition.wait() }
            if cancelled {
                condition.unlock()
                return
            }
            if !parsed.isEmpty { queue.append(Batch(lines: parsed, bytesRead: reader.bytesRead)) }
            if stop { finished = true }
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Parses the lines of a batch, split among `workers` threads.
    private static func parse(_ raw: [(number: Int, bytes: [UInt8])], workers: Int) -> [Line] {
        let results = ParsedSlots(count: raw.count)
        let slice = (raw.count + workers - 1) / max(workers, 1)
        let work = { @Sendable (worker: Int) in
            let start = worker * slice, end = min(raw.count, start + slice)
            guard start < end else { return }
            for index in start..<end {
                let (number, bytes) = raw[index]
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) {
                    results.set(index, Line(number: number, result: nil))
                    continue
                }
                do throws(EventValidationError) {
                    results.set(index, Line(number: number, result: .success(try CloudEventCodec.decode(bytes, lineNumber: number))))
                } catch {
                    results.set(index, Line(number: number, result: .failure(error)))
                }
            }
        }
        if workers > 1 && raw.count >= 64 {
            DispatchQueue.concurrentPerform(iterations: workers, execute: work)
        } else {
            for worker in 0..<max(workers, 1) { work(worker) }
        }
        return results.lines()
    }
}

/// One batch's parsed lines: each slot written by one worker. The slots are memory of their
/// own, not an Array: an Array's mutating accessors move its storage out and back, which two
/// threads writing different slots at once would race on.
private final class ParsedSlots: @unchecked Sendable {
    // @unchecked: disjoint slots per worker, read after all are done.
    private let slots: UnsafeMutableBufferPointer<ParsePipeline.Line?>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    func set(_ index: Int, _ line: ParsePipeline.Line) { slots[index] = line }

    func lines() -> [ParsePipeline.Line] { slots.map { $0! } }
}
