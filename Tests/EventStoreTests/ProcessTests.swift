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

    /// Finding 1 of the fault review: with a writer appending without pause, lock.mdb removed and
    /// a second writer started, both used to report success while one's commits were overwritten.
    /// Now the newcomer is refused (the first still holds its lock on data.mdb), the first writer
    /// refuses to write once its lock file is gone, and every acknowledged append is in the store.
    @Test(.timeLimit(.minutes(2)))
    func removingTheLockFileUnderAWriterLosesNoAcknowledgedAppend() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            try EventStore.open(at: path).close()
            let acks = directory + "/acks"
            _ = FileManager.default.createFile(atPath: acks, contents: nil)
            let writer = try Probe.start(["append-forever", path, acks, "2", "5"])
            defer { if writer.isRunning { kill(writer.processIdentifier, SIGKILL) } }
            // Let it acknowledge some appends, then take its lock file away under it.
            while (try String(contentsOfFile: acks, encoding: .utf8)).split(separator: "\n").count < 20 { try await Task.sleep(for: .milliseconds(5)) }
            try FileManager.default.removeItem(atPath: path + "/lock.mdb")
            let (status, stderr) = try await Probe.run(["append", path, "second", "b", "200", "2"])
            #expect(status != 0, "a second writer was let in beside the first")
            #expect(stderr.contains("lock.mdb"), "\(stderr)")
            // The first writer stops appending (its lock file is gone); give it a moment, then stop it.
            try await Task.sleep(for: .milliseconds(200))
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
            let store = try EventStore.open(at: path, options: .init(readOnly: true))
            defer { store.close() }
            #expect(try store.verify().isIntact)
            var missing = 0
            let acknowledged = try String(contentsOfFile: acks, encoding: .utf8).split(separator: "\n")
            #expect(acknowledged.count >= 20)
            for line in acknowledged {
                let parts = line.split(separator: " ")
                guard parts.count == 2, let count = Int(parts[1]) else { continue }
                let first = String(parts[0])
                let prefix = first.split(separator: "-").dropLast().joined(separator: "-")
                for index in 0..<count where try store.event(id: "\(prefix)-\(index)") == nil { missing += 1 }
            }
            #expect(missing == 0, "\(missing) acknowledged events are gone")
        }
    }
}
