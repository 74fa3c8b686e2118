import EventStore
import Foundation
import TestSupport
import Testing

struct AppendTests {
    @Test func appendAssignsGaplessSequencesAndStreamVersions() async throws {
        try await withStore { store, _ async throws in
            let first = try await store.append([event("a1"), event("a2")], to: "A", expectedVersion: .noStream)
            let second = try await store.append([event("b1")], to: "B")
            let third = try await store.append([event("a3")], to: "A", expectedVersion: .exactly(2))
            #expect(first.positions.map(\.sequence) == [1, 2])
            #expect(first.positions.map(\.streamVersion) == [1, 2])
            #expect(second.positions.map(\.sequence) == [3])
            #expect(third.positions.map(\.streamVersion) == [3])
            #expect(try store.head() == 4)
            #expect(try store.streamVersion("A") == 3)
            #expect(try store.streamVersion("AB") == 0)
            let stream = try store.events(inStream: "A")
            #expect(stream.map(\.id) == ["a1", "a2", "a3"])
            #expect(stream.map(\.sequence) == [1, 2, 4])
            #expect(stream[0].payload == Array("payload of a1".utf8))
            #expect(stream[0].metadata == Array("meta".utf8))
            #expect(try store.events(inStream: "A", from: 3).map(\.id) == ["a3"])
        }
    }

    @Test func streamsWhoseIdsSharePrefixesStayApart() async throws {
        try await withStore { store, _ async throws in
            try await store.append([event("p1-1")], to: "P1")
            try await store.append([event("p10-1"), event("p10-2")], to: "P10")
            try await store.append([event("p1-2")], to: "P1")
            #expect(try store.streamVersion("P1") == 2)
            #expect(try store.streamVersion("P10") == 2)
            #expect(try store.events(inStream: "P1").map(\.id) == ["p1-1", "p1-2"])
        }
    }

    @Test func anIndexTheStoreWasNotOpenedWithIsRefusedByItsOwnCode() async throws {
        try await withStore { store, _ async throws in
            let entry = IndexEntry(index: "no-such-index", key: Array("k".utf8), value: Array("v".utf8))
            do throws(EventStoreError) {
                try await store.appendAtomically([StreamAppend(stream: "S", events: [event("e1")], indexEntries: [entry])])
                Issue.record("an entry of an undeclared index was written")
            } catch {
                #expect(error.code == .unknownIndex, "\(error.code): \(error.message)")
                #expect(error.message.contains("no-such-index"))
            }
            #expect(try store.head() == 0)
        }
    }

    @Test func aWrongExpectedVersionIsRefusedAndWritesNothing() async throws {
        try await withStore { store, _ async throws in
            try await store.append([event("e1")], to: "S")
            await #expect(throws: EventStoreError.versionConflict(stream: "S", expected: .noStream, actual: 1)) {
                try await store.append([event("e2"), event("e3")], to: "S", expectedVersion: .noStream)
            }
            await #expect(throws: EventStoreError.versionConflict(stream: "S", expected: .exactly(5), actual: 1)) {
                try await store.append([event("e2")], to: "S", expectedVersion: .exactly(5))
            }
            #expect(try store.head() == 1)
            #expect(try store.event(id: "e2") == nil)
            // Appends and reads declare `throws(EventStoreError)`: in a `do throws(EventStoreError)`
            // block the caught error is typed, so its code is read without a cast.
            do throws(EventStoreError) {
                try await store.append([event("e2")], to: "S", expectedVersion: .exactly(7))
                Issue.record("the append at a wrong version landed")
            } catch {
                #expect(error.code == .versionConflict, "\(error.code): \(error.message)")
                #expect(error.stream == "S")
            }
            #expect(try store.streamVersion("S") == 1)
        }
    }

    @Test(arguments: [2, 8, 32])
    func ofManyAppendersExpectingTheSameVersionExactlyOneWins(appenders: Int) async throws {
        try await withStore { store, _ async throws in
            try await store.append([event("seed")], to: "S")
            let outcomes = await withTaskGroup(of: Result<AppendResult, any Error>.self) { group in
                for index in 0..<appenders {
                    group.addTask {
                        do {
                            return .success(try await store.append([event("racer-\(index)")], to: "S", expectedVersion: .exactly(1)))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let winners = outcomes.filter { if case .success = $0 { true } else { false } }
            #expect(winners.count == 1)
            for case .failure(let error) in outcomes {
                guard error as? EventStoreError == EventStoreError.versionConflict(stream: "S", expected: .exactly(1), actual: 2) else {
                    Issue.record("expected a version conflict, got \(error)")
                    continue
                }
            }
            #expect(try store.streamVersion("S") == 2)
        }
    }

    @Test func aThousandConcurrentAppendersEachLandExactlyOnce() async throws {
        try await withStore { store, _ async throws in
            let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
                for index in 0..<1_000 {
                    group.addTask { try await store.append([event("c-\(index)")], to: "stream-\(index % 10)") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(results.flatMap { $0.positions.map(\.sequence) }) == Set(1...1_000))
            let all = try store.events()
            #expect(all.map(\.sequence) == Array(1...1_000))
            #expect(Set(all.map(\.id)) == Set((0..<1_000).map { "c-\($0)" }))
            for stream in 0..<10 {
                let events = try store.events(inStream: "stream-\(stream)")
                #expect(events.map(\.streamVersion) == Array(1...100))
                #expect(events.map(\.sequence) == events.map(\.sequence).sorted())
                #expect(events.allSatisfy { $0.streamId == "stream-\(stream)" })
            }
            #expect(try store.verify().isIntact)
        }
    }

    @Test func oneBatchsConflictFailsOnlyThatBatchInTheSameGroup() async throws {
        try await withStore { store, _ async throws in
            // Many appends in flight at once are committed in shared transactions; the conflicting
            // ones must fail alone.
            let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let expected: ExpectedVersion = index.isMultiple(of: 2) ? .any : .exactly(999)
                        let ok = (try? await store.append([event("g-\(index)")], to: "G\(index % 3)", expectedVersion: expected)) != nil
                        return (index, ok)
                    }
                }
                return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
            }
            for (index, ok) in outcomes { #expect(ok == index.isMultiple(of: 2)) }
            #expect(try store.head() == 100)
        }
    }

    @Test func theSameIdWithTheSameContentReturnsTheOriginalPositions() async throws {
        try await withStore { store, _ async throws in
            let original = try await store.append([event("x1"), event("x2")], to: "S")
            try await store.append([event("x3")], to: "S")
            let again = try await store.append([event("x1"), event("x2")], to: "S", expectedVersion: .noStream)
            #expect(again.positions.map(\.sequence) == original.positions.map(\.sequence))
            #expect(again.wasAlreadyStored)
            #expect(try store.head() == 3)
        }
    }

    @Test func theSameIdWithOtherContentIsRefused() async throws {
        try await withStore { store, _ async throws in
            try await store.append([event("x1")], to: "S")
            await #expect(throws: EventStoreError.duplicateEventId(id: "x1", storedAt: 1)) {
                try await store.append([event("x1", payload: "something else")], to: "S")
            }
            await #expect(throws: EventStoreError.duplicateEventId(id: "x1", storedAt: 1)) {
                try await store.append([event("x1")], to: "other stream")
            }
            #expect(try store.head() == 1)
        }
    }

    @Test func anAtomicAppendToSeveralStreamsLandsWholeOrNotAtAll() async throws {
        try await withStore { store, _ async throws in
            try await store.append([event("s1")], to: "S")
            await #expect(throws: EventStoreError.versionConflict(stream: "S", expected: .noStream, actual: 1)) {
                try await store.appendAtomically([
                    StreamAppend(stream: "T", events: [event("t1"), event("t2")]),
                    StreamAppend(stream: "S", events: [event("s2")], expectedVersion: .noStream),
                ])
            }
            #expect(try store.head() == 1)
            #expect(try store.streamVersion("T") == 0)
            let results = try await store.appendAtomically([
                StreamAppend(stream: "T", events: [event("t1"), event("t2")]),
                StreamAppend(stream: "S", events: [event("s2")], expectedVersion: .exactly(1)),
            ])
            #expect(results.map(\.streamVersion) == [2, 2])
            #expect(try store.head() == 4)
            #expect(try store.verify().isIntact)
        }
    }

    @Test func whatTheLogCannotStoreIsRefusedBeforeWriting() async throws {
        try await withStore { store, _ async throws in
            await #expect(throws: EventStoreError.invalidEvent("The stream id is empty.")) {
                try await store.append([event("e")], to: "")
            }
            await #expect(throws: EventStoreError.invalidEvent("The event id is empty.")) {
                try await store.append([event("")], to: "S")
            }
            await #expect(throws: EventStoreError.invalidEvent("Event id d appears twice in one append.")) {
                try await store.append([event("d"), event("d")], to: "S")
            }
            await #expect(throws: EventStoreError.invalidEvent("The append to stream S has no events.")) {
                try await store.append([], to: "S")
            }
            #expect(try store.head() == 0)
        }
    }

    @Test func recordedTimesNeverGoBackAndHeadersComeWithoutPayloads() async throws {
        try await withStore { store, _ async throws in
            for index in 0..<20 { try await store.append([event("t\(index)")], to: "S") }
            let headers = try store.headers()
            #expect(headers.count == 20)
            #expect(headers.map(\.recordedAt) == headers.map(\.recordedAt).sorted())
            #expect(headers[3].id == "t3")
            #expect(headers[3].payloadCount == "payload of t3".utf8.count)
            #expect(try store.headers(from: 19, limit: 5).map(\.sequence) == [19, 20])
        }
    }

    @Test func plainThreadsAppendAndWait() async throws {
        try await withStore { store, _ async throws in
            DispatchQueue.concurrentPerform(iterations: 16) { index in
                #expect(throws: Never.self) { try store.appendAndWait([event("th-\(index)")], to: "S") }
            }
            #expect(try store.head() == 16)
        }
    }

    @Test func aReadOnlyStoreRefusesAppends() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            try EventStore.open(at: path).close()
            let reader = try EventStore.open(at: path, options: .init(readOnly: true))
            await #expect(throws: EventStoreError.readOnly(path: path)) {
                try await reader.append([event("e")], to: "S")
            }
        }
    }
}
