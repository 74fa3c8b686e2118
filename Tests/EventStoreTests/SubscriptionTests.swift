import EventStore
import TestSupport
import Testing

struct SubscriptionTests {
    // A hang guard: the suite's other tests may keep both cooperative threads busy for a while.
    @Test(.timeLimit(.minutes(3)))
    func deliversTheHistoryThenNewEventsInOrderWithoutGapsOrDuplicates() async throws {
        try await withStore { store, _ async throws in
            for index in 0..<100 { try await store.append([event("old-\(index)")], to: "S\(index % 3)") }
            let received = Task {
                var sequences: [UInt64] = []
                for try await event in store.subscribe(from: 1) {
                    sequences.append(event.sequence)
                    if sequences.count == 400 { break }
                }
                return sequences
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        for index in 0..<75 { try await store.append([event("new-\(writer)-\(index)")], to: "W\(writer)") }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await received.value == Array(1...400))
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func startsFromTheGivenSequence() async throws {
        try await withStore { store, _ async throws in
            for index in 0..<10 { try await store.append([event("e\(index)")], to: "S") }
            var ids: [String] = []
            for try await event in store.subscribe(from: 8) {
                ids.append(event.id)
                if ids.count == 3 { break }
            }
            #expect(ids == ["e7", "e8", "e9"])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func endsWhenItsTaskIsCancelled() async throws {
        try await withStore { store, _ async throws in
            let waiting = Task {
                var count = 0
                for try await _ in store.subscribe() { count += 1 }
                return count
            }
            try await Task.sleep(for: .milliseconds(50))
            waiting.cancel()
            #expect(try await waiting.value == 0)
        }
    }
}
