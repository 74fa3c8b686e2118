import EventStore
import Foundation
import TestSupport
import Testing

/// Real faults: processes killed mid-append, a map far too small.
struct CrashTests {
    @Test(.timeLimit(.minutes(3)))
    func everyAcknowledgedAppendSurvivesSIGKILLAtTwentyRandomMoments() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            let acks = directory + "/acks"
            #expect(FileManager.default.createFile(atPath: acks, contents: nil))
            let batchSize = 3
            var generator = SystemRandomNumberGenerator()
            for round in 1...20 {
                let child = try Probe.start(["append-forever", path, acks, "4", "\(batchSize)"])
                try await Task.sleep(for: .milliseconds(Int.random(in: 40...400, using: &generator)))
                kill(child.processIdentifier, SIGKILL)
                child.waitUntilExit()
                #expect(child.terminationReason == .uncaughtSignal, "round \(round): the probe ended by itself")

                let store = try EventStore.open(at: path, options: .init(readOnly: true))
                let acknowledged = try String(contentsOfFile: acks, encoding: .utf8).split(separator: "\n")
                for line in acknowledged {
                    let fields = line.split(separator: " ")
                    // A line cut by the kill is not an acknowledgement the test can read.
                    guard fields.count == 2, fields[0].hasSuffix("-0"), Int(fields[1]) == batchSize else { continue }
                    let batch = fields[0].dropLast(2)
                    for index in 0..<batchSize {
                        #expect(try store.event(id: "\(batch)-\(index)") != nil, "round \(round): acknowledged \(batch)-\(index) is lost")
                    }
                }
                // No batch is partial: every batch prefix appears exactly batchSize times.
                let perBatch = Dictionary(grouping: try store.headers(), by: { $0.id.split(separator: "-").dropLast().joined(separator: "-") })
                #expect(perBatch.values.allSatisfy { $0.count == batchSize }, "round \(round): a batch was stored in part")
                let report = try store.verify()
                #expect(report.isIntact, "round \(round): \(report.problem ?? "")")
            }
            let store = try EventStore.open(at: path, options: .init(readOnly: true))
            #expect(try store.head() > 0, "the probes never appended")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aTinyMapTakesAHundredMegabytesWithoutAnError() async throws {
        var options = EventStore.Options()
        options.initialMapSize = 64 << 10
        try await withStore(options: options) { store, _ async throws in
            let payload = String(repeating: "x", count: 10_000)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        for batch in 0..<125 {
                            let events = (0..<10).map { event("big-\(writer)-\(batch)-\($0)", payload: payload) }
                            try await store.append(events, to: "S\(writer)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try store.head() == 10_000)
            #expect(try store.verify().isIntact)
        }
    }
}
