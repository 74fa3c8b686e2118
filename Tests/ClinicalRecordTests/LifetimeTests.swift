import ClinicGenerator
import ClinicalRecord
import EventStore
import Foundation
import Synchronization
import TestSupport
import Testing

/// The store's lifetime for a service that embeds it: long work that answers cancellation and
/// writes nothing when cancelled, and a `close()` after which every use throws one clear error.
@Suite struct LifetimeTests {
    /// Holds the task to cancel from inside its own progress callback (which runs on the work's
    /// thread), so that the cancellation lands in the middle of the work, deterministically.
    final class TaskToCancel: Sendable {
        let task = Mutex<Task<ImportSummary, any Error>?>(nil)
        let progressCalls = Counter()
        /// Cancels the task, waiting (on the work's thread) until it has been handed over.
        func cancel() {
            progressCalls.add()
            while !task.withLock({ task in task.map { $0.cancel(); return true } ?? false }) { usleep(200) }
        }
    }

    /// A count shared with work on other threads.
    final class Counter: Sendable {
        private let count = Atomic<Int>(0)
        func add() { count.add(1, ordering: .relaxed) }
        var value: Int { count.load(ordering: .relaxed) }
    }

    @Test func aCancelledImportStopsAndWritesNothing() async throws {
        try await withRecordStore { store, _ in
            let holder = TaskToCancel()
            let task = Task {
                try await store.importEvents(fromFile: samplePath) { _, _, _ in holder.cancel() }
            }
            holder.task.withLock { $0 = task }
            let outcome = await task.result
            // Cancelled at its first progress point, after lines were parsed and appended to its
            // transaction: the import stops there and its transaction is rolled back.
            #expect(holder.progressCalls.value == 1)
            #expect(throws: CancellationError.self) { try outcome.get() }
            #expect(try store.head() == 0, "a cancelled import wrote events")
            // The store is usable afterwards, and the same import completes when left alone.
            let summary = try await store.importEvents(fromFile: samplePath)
            #expect(summary.imported > 0)
            #expect(try store.head() == UInt64(summary.imported))
        }
    }

    @Test func aCancelledReplayThrowsAndTheStoreStaysUsable() async throws {
        try await withRecordStore { store, _ in
            // More than 16,384 events: the replay looks at cancellation every 16,384 records.
            let generator = ClinicGenerator(seed: 7, patients: 400, months: 12, ruleBreakingShare: 0)
            try await store.importEvents((0..<400).lazy.flatMap { generator.events(forPatient: $0) })
            let head = try store.head()
            try #require(head > 20_000, "the generated history has \(head) events")

            let reachedProgress = Counter()
            let cancelled = Mutex<Task<ReplayResult, any Error>?>(nil)
            // Cancels from the replay's first progress point (on its routing thread), waiting
            // until the task has been handed over.
            let task = Task {
                var replay = ClinicalReplay()
                _ = replay.add(PatientStateProjection())
                return try await replay.run(store) { replayed, through in
                    guard replayed < through else { return }
                    reachedProgress.add()
                    while !cancelled.withLock({ task in task.map { $0.cancel(); return true } ?? false }) { usleep(200) }
                }
            }
            cancelled.withLock { $0 = task }
            let outcome = await task.result
            #expect(reachedProgress.value == 1)
            #expect(throws: CancellationError.self) { try outcome.get() }

            // Not cancelled, the same replay runs to the head.
            var replay = ClinicalReplay()
            let states = replay.add(PatientStateProjection())
            let result = try await replay.run(store)
            #expect(result.through == head)
            #expect(result.states(of: states).count == 400)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func afterCloseEveryUseThrowsClosedAndSubscriptionsEnd() async throws {
        try await withTemporaryDirectory { directory in
            let store = try PatientRecordStore.open(at: directory + "/store", durable: false)
            try await store.importEvents(fromFile: samplePath)
            let head = try store.head()
            #expect(head > 0)

            // A subscription that has read the history and waits for the next commit.
            let delivered = Counter()
            let following = Task {
                for try await _ in store.subscribe() { delivered.add() }
            }
            while delivered.value < Int(head) { try await Task.sleep(for: .milliseconds(5)) }

            store.close()
            #expect(store.isClosed)
            // The subscription ends by itself (no cancellation), woken by the close.
            try await following.value
            #expect(delivered.value == Int(head))

            func expectClosed(_ what: String, _ body: () throws -> Void) {
                do {
                    try body()
                    Issue.record("\(what) worked after close()")
                } catch let error as EventStoreError {
                    #expect(error.code == .closed, "\(what): \(error)")
                } catch {
                    Issue.record("\(what) threw \(error), not EventStoreError.closed")
                }
            }
            expectClosed("head") { _ = try store.head() }
            expectClosed("patientState") { _ = try store.patientState("P-0001") }
            expectClosed("auditTrail") { _ = try store.auditTrail() }
            expectClosed("export") { _ = try exportText(store) }
            expectClosed("verify") { _ = try store.verify() }
            expectClosed("replay") {
                var replay = ClinicalReplay()
                _ = replay.add(PatientStateProjection())
                _ = try replay.run(store)
            }
            expectClosed("import") { try store.importEvents(fromFile: samplePath) }
            do {
                _ = try await store.record(ClinicalEventInput(
                    source: "urn:test", patientId: "P-CLOSED", time: ClinicalTime.now,
                    actorId: "u-staff-1", actorRole: .staff, message: sampleRegistration()))
                Issue.record("record worked after close()")
            } catch let error as EventStoreError {
                #expect(error.code == .closed)
            }
            // A second close is harmless.
            store.close()
        }
    }
}
