import EventStore
import Foundation
import Logging
import MetricsTestKit
import Synchronization
import Testing

/// The store reports to the host's hooks, and to nothing else unless asked.
struct ObservabilityTests {
    /// A log handler that keeps what it is given.
    final class Kept: LogHandler, @unchecked Sendable {
        let lines = Mutex<[String]>([])
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            lines.withLock { $0.append("\(event.level) \(event.message) \(event.metadata ?? [:])") }
        }
    }

    func event(_ id: String) -> NewEvent {
        NewEvent(id: id, type: 1, occurredAt: 0, actor: "u-1", payload: Array("x".utf8))
    }

    @Test func appendsCommitsGroupsAndRefusalsAreCountedAndTimed() async throws {
        let metrics = TestMetrics()
        let kept = Kept()
        var options = EventStore.Options()
        options.observability = Observability(logger: Logger(label: "test") { _ in kept }, metricsFactory: metrics)
        try await withStore(options: options) { store, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for appender in 0..<8 {
                    group.addTask { try await store.append([self.event("e-\(appender)-1"), self.event("e-\(appender)-2")], to: "S\(appender)") }
                }
                try await group.waitForAll()
            }
            // The same event again is not a new one; a wrong expected version is a refusal.
            try await store.append([event("e-0-1")], to: "S0")
            await #expect(throws: EventStoreError.self) { try await store.append([event("late")], to: "S1", expectedVersion: .noStream) }

            #expect(try metrics.expectCounter("patient_record_store_appended_events_total").totalValue == 16)
            let commits = try metrics.expectCounter("patient_record_store_commits_total").totalValue
            let groups = try metrics.expectRecorder("patient_record_store_commit_group_size").values
            #expect(commits >= 3 && commits <= 10 && groups.count == commits)
            #expect(groups.reduce(0, +) == 10, "every append answered by exactly one commit")
            #expect(try metrics.expectTimer("patient_record_store_commit_duration").values.count == commits)
            #expect(try metrics.expectCounter("patient_record_store_refusals_total", [("reason", "version-conflict")]).totalValue == 1)
            #expect(kept.lines.withLock { $0.contains { $0.hasPrefix("debug append refused") } })
        }
    }

    @Test func mapGrowthIsReportedWithTheNewSize() async throws {
        let metrics = TestMetrics()
        let kept = Kept()
        var options = EventStore.Options(durable: false)
        options.initialMapSize = 1 << 20
        options.observability = Observability(logger: Logger(label: "test") { _ in kept }, metricsFactory: metrics)
        try await withStore(options: options) { store, _ in
            let payload = [UInt8](repeating: 7, count: 4_000)
            for batch in 0..<4 {
                try await store.append((0..<200).map { NewEvent(id: "g-\(batch)-\($0)", type: 1, occurredAt: 0, actor: "u-1", payload: payload) }, to: "S")
            }
            let sizes = try metrics.expectGauge("patient_record_store_map_size_bytes").values
            #expect(!sizes.isEmpty && sizes.allSatisfy { $0 > Double(1 << 20) }, "\(sizes)")
            #expect(kept.lines.withLock { $0.contains { $0.hasPrefix("notice memory map grown") } })
        }
    }
}
