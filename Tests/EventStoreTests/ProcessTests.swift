import EventStore
import Foundation
import TestSupport
import Testing

/// Several processes on one store at once, for real.
struct ProcessTests {
    @Test(.timeLimit(.minutes(2)))
    func aReaderProcessFollowsAWriterProcessEventByEvent() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            try EventStore.open(at: path).close()
            let count = 1_500
            let writer = Task { try await Probe.run(["append", path, "S", "w", "\(count)", "4"]) }
            let reader = try EventStore.open(at: path, options: .init(readOnly: true))
            var sequences: [UInt64] = []
            var ids = Set<String>()
            for try await event in reader.subscribe(from: 1) {
                sequences.append(event.sequence)
                ids.insert(event.id)
                if sequences.count == count { break }
            }
            let (status, stderr) = try await writer.value
            #expect(status == 0, "\(stderr)")
            #expect(sequences == Array(1...UInt64(count)))
            #expect(ids == Set((0..<count).map { "w-\($0)" }))
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func twoWriterProcessesAppendAtOnceAndNothingIsLost() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            try EventStore.open(at: path).close()
            async let first = Probe.run(["append", path, "shared", "a", "1000", "4"])
            async let second = Probe.run(["append", path, "shared", "b", "1000", "4"])
            let results = try await [first, second]
            for (status, stderr) in results { #expect(status == 0, "\(stderr)") }
            let store = try EventStore.open(at: path, options: .init(readOnly: true))
            let events = try store.events(inStream: "shared")
            #expect(events.count == 2_000)
            #expect(events.map(\.streamVersion) == Array(1...2_000))
            #expect(try store.events().map(\.sequence) == Array(1...2_000))
            #expect(Set(events.map(\.id)) == Set((0..<1000).flatMap { ["a-\($0)", "b-\($0)"] }))
            #expect(try store.verify().isIntact)
        }
    }
}
