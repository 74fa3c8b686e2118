import Foundation

/// Group commit: appenders queue their requests; one writer thread takes everything queued,
/// applies it in one write transaction and one fsync, then answers each appender on its own.
///
/// Throughput so grows with the number of concurrent appenders, while every request keeps its
/// own all-or-nothing result.
final class GroupCommitWriter: @unchecked Sendable {
    // @unchecked: `pending` and `state` are only touched while holding `condition`.
    typealias Completion = @Sendable (Result<[AppendResult], any Error>) -> Void
    typealias CommitGroup = @Sendable ([[StreamAppend]]) -> Result<[Result<[AppendResult], EventStoreError>], any Error>

    private struct Request {
        let parts: [StreamAppend]
        let eventCount: Int
        let completion: Completion
    }

    private enum State { case running, stopping, stopped }

    /// The most events one transaction takes; the rest wait for the next one.
    static let maxEventsPerGroup = 16_384

    /// How long the writer waits for a group to fill up to the size of the last one. Appenders
    /// answered by a commit come back within microseconds; without the wait the writer would
    /// commit the first one alone and the rest in the next group, halving the group size.
    static let gatherWindow: TimeInterval = 0.000_3

    private let condition = NSCondition()
    private var pending: [Request] = []
    /// Requests in the last group: about how many appenders are waiting on each commit.
    private var lastGroupSize = 1
    private var state = State.running
    private let commitGroup: CommitGroup
    /// The store's directory, for the error of an append after ``stop()``.
    private let path: String

    init(name: String, path: String, commitGroup: @escaping CommitGroup) {
        self.commitGroup = commitGroup
        self.path = path
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Queues `parts` as one all-or-nothing request; `completion` runs on the writer thread.
    func submit(_ parts: [StreamAppend], completion: @escaping Completion) {
        condition.lock()
        guard state == .running else {
            condition.unlock()
            completion(.failure(EventStoreError.closed(path: path)))
            return
        }
        pending.append(Request(parts: parts, eventCount: parts.reduce(0) { $0 + $1.events.count }, completion: completion))
        condition.signal()
        condition.unlock()
    }

    /// Finishes what is queued, then ends the writer thread.
    func stop() {
        condition.lock()
        if state == .running { state = .stopping }
        condition.broadcast()
        while state != .stopped { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while let group = nextGroup() {
            switch commitGroup(group.map(\.parts)) {
            case .success(let results):
                for (request, result) in zip(group, results) {
                    request.completion(result.mapError { $0 })
                }
            case .failure(let error):
                for request in group { request.completion(.failure(error)) }
            }
        }
        condition.lock()
        state = .stopped
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for work; `nil` when stopping and nothing is left.
    private func nextGroup() -> [Request]? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && state == .running { condition.wait() }
        if pending.isEmpty { return nil }
        if pending.count < lastGroupSize && state == .running {
            let deadline = Date(timeIntervalSinceNow: Self.gatherWindow)
            while pending.count < lastGroupSize && state == .running && condition.wait(until: deadline) {}
        }
        var events = 0
        var taken = 0
        while taken < pending.count && (taken == 0 || events + pending[taken].eventCount <= Self.maxEventsPerGroup) {
            events += pending[taken].eventCount
            taken += 1
        }
        let group = Array(pending[..<taken])
        pending.removeFirst(taken)
        lastGroupSize = taken
        return group
    }
}
