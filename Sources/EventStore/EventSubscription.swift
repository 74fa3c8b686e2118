/// The log from a sequence on: first the history, then each new event as it is committed, in
/// order, with no gap and no duplicate, whether the writer is this process or another.
///
/// ```swift
/// for try await event in store.subscribe(from: checkpoint + 1) {
///     apply(event)
/// }
/// ```
///
/// Iteration ends when the task is cancelled or the store is closed. Events committed by this
/// process arrive at once (a commit wakes the subscription); those of another process within
/// ``pollInterval``.
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = RecordedEvent

    let store: EventStore
    let start: UInt64
    /// How often to look for events written by other processes.
    public var pollInterval: Duration = .milliseconds(20)
    /// How many events to copy out of the store per read.
    public var chunkSize = 512

    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, next: start, pollInterval: pollInterval, chunkSize: chunkSize)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let store: EventStore
        var next: UInt64
        let pollInterval: Duration
        let chunkSize: Int
        var buffer: [RecordedEvent] = []
        var index = 0

        public mutating func next() async throws -> RecordedEvent? {
            while index == buffer.count {
                if Task.isCancelled || store.isClosed { return nil }
                let generation = store.commits.generation
                let chunk = Result { [next, chunkSize] in try store.events(from: next, limit: chunkSize) }
                // Closed between the check above and the read: the subscription ends.
                if case .failure(let error) = chunk, (error as? EventStoreError)?.code == .closed { return nil }
                buffer = try chunk.get()
                index = 0
                if buffer.isEmpty {
                    await store.commits.wait(after: generation, timeout: pollInterval)
                }
            }
            let event = buffer[index]
            index += 1
            next = event.sequence + 1
            return event
        }
    }
}

extension EventStore {
    /// Subscribes to the log from `sequence` on (1: the whole history).
    public func subscribe(from sequence: UInt64 = 1) -> EventSubscription {
        EventSubscription(store: self, start: max(sequence, 1))
    }
}
