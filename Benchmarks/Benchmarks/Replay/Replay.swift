import ClinicGenerator
import Benchmark
@_spi(RawRecords) import BenchmarkFixtures
@_spi(RawRecords) import ClinicalRecord
import Compliance
@_spi(RawRecords) import EventStore
import Foundation

/// Replay at 1M events (and 10M with PATIENT_RECORDS_BENCH_10M=1), each beside its reference
/// from docs/PERFORMANCE.md in the same run: the raw LMDB cursor scan of `events`, and SQLite holding
/// the same records, read and decoded by the same projections.
///
/// Every benchmark records `events/s` (events read per second of the iteration); the replay
/// benchmark of all projections also records `heap growth MB`, the peak growth of the heap
/// in use during the replay (the memory-mapped store is not heap).
let benchmarks: @Sendable () -> Void = {
    let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
    let heapGrowth = BenchmarkMetric.custom("heap growth MB", polarity: .prefersSmaller, useScalingFactor: false)
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, eventsPerSecond], timeUnits: .milliseconds,
        warmupIterations: 0, maxDuration: .seconds(20), maxIterations: 5)

    func rate(_ benchmark: Benchmark, events: UInt64, since start: ContinuousClock.Instant) {
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        benchmark.measurement(eventsPerSecond, Int(Double(events) / max(seconds, 1e-9)))
    }

    /// All projections: each patient's state, the compliance rules, the dosing summary.
    func allProjections(judgedAt: Int64) -> ClinicalReplay {
        var replay = ClinicalReplay()
        _ = replay.add(PatientStateProjection())
        _ = replay.add(ComplianceProjection(judgedAt: judgedAt))
        _ = replay.add(DosingProjection())
        return replay
    }

    func narrowProjection() -> ClinicalReplay {
        var replay = ClinicalReplay()
        _ = replay.add(DosingProjection())
        return replay
    }

    let judgedAt = ClinicalTime.parse("2030-01-01T00:00:00Z") ?? 0

    Benchmark("Batch import, 100k events", configuration: .init(maxIterations: 5)) { benchmark in
        let file = try Fixtures.ndjson(lines: 100_000)
        let path = NSTemporaryDirectory() + "import-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try PatientRecordStore.open(at: path, keyFile: Fixtures.keyFile)
        defer { store.close() }
        let start = ContinuousClock.now
        benchmark.startMeasurement()
        let summary = try store.importEvents(fromFile: file)
        benchmark.stopMeasurement()
        precondition(summary.imported == 100_000, "imported \(summary.imported)")
        rate(benchmark, events: UInt64(summary.imported), since: start)
    }

    for scale in Scale.enabled {
        let name = scale.rawValue

        Benchmark("Raw LMDB scan of events, \(name) (reference)") { benchmark in
            let store = try Fixtures.store(scale)
            let start = ContinuousClock.now
            benchmark.startMeasurement()
            let (count, sum) = try store.events.read { reader in
                var count: UInt64 = 0, sum: UInt64 = 0
                try reader.forEachRawRecord { bytes in
                    count += 1
                    // Touch every byte of the value.
                    var word: UInt64 = 0
                    for byte in bytes { word &+= UInt64(byte) }
                    sum &+= word
                }
                return (count, sum)
            }
            benchmark.stopMeasurement()
            blackHole(sum)
            rate(benchmark, events: count, since: start)
        }

        Benchmark("Full replay, all projections, \(name)", configuration: .init(metrics: [.wallClock, .throughput, eventsPerSecond, heapGrowth])) { benchmark in
            let store = try Fixtures.store(scale)
            let start = ContinuousClock.now
            benchmark.startMeasurement()
            let (result, growth) = try peakHeapGrowth { try allProjections(judgedAt: judgedAt).run(store) }
            benchmark.stopMeasurement()
            rate(benchmark, events: result.through, since: start)
            benchmark.measurement(heapGrowth, growth >> 20)
        }

        Benchmark("Full replay, all projections, unsealed store, \(name) (reference)") { benchmark in
            let store = try Fixtures.unsealedStore(scale)
            let start = ContinuousClock.now
            benchmark.startMeasurement()
            let result = try allProjections(judgedAt: judgedAt).run(store)
            benchmark.stopMeasurement()
            rate(benchmark, events: result.through, since: start)
        }

        Benchmark("Full replay, all projections, 1 worker, \(name)") { benchmark in
            let store = try Fixtures.store(scale)
            let start = ContinuousClock.now
            benchmark.startMeasurement()
            let result = try store.events.read { try allProjections(judgedAt: judgedAt).run($0, partitions: 1) }
            benchmark.stopMeasurement()
            rate(benchmark, events: result.through, since: start)
        }

        Benchmark("Narrow replay, dosing (2 of 22 types), \(name)") { benchmark in
            let store = try Fixtures.store(scale)
            let start = ContinuousClock.now
            benchmark.startMeasurement()
            let result = try narrowProjection().run(store)
            benchmark.stopMeasurement()
            rate(benchmark, events: result.through, since: start)
        }

        Benchmark("SQLite full replay, all projections, \(name) (reference)") { benchmark in
            let sqlite = try Fixtures.sqlite(scale)
            let store = try Fixtures.store(scale)
            let start = ContinuousClock.now
            benchmark.startMeasurement()
            // The same sealed records, opened with the store's keys as its own replay opens them.
            let opener = try store.events.recordOpener()
            var voided = Set<[UInt8]>()
            try sqlite.forEachRecord(types: [ClinicalEventType.entryVoided.rawValue], opener: opener) { record in
                if let id = ClinicalReplay.voidedEventId(in: record) { voided.insert(id) }
            }
            let result = try allProjections(judgedAt: judgedAt).run(voided: voided) { body in
                try sqlite.forEachRecord(opener: opener, body)
            }
            benchmark.stopMeasurement()
            rate(benchmark, events: result.through, since: start)
        }

        Benchmark("Catch-up after 1k new events, \(name)", configuration: .init(maxIterations: 10)) { benchmark in
            let store = try Fixtures.store(scale)
            let patients = Fixtures.patientIds()
            var random = SystemRandomNumberGenerator()
            // 1,000 new events (records read by an auditor) for patients across the clinic.
            let inputs = (0..<1_000).map { _ in
                var access = Ketamine_V1_RecordAccessed()
                access.purpose = .audit
                access.description_p = "benchmark audit"
                return ClinicalEventInput(
                    source: "urn:bench", patientId: patients.randomElement(using: &random) ?? "P-0001",
                    time: judgedAt, actorId: "u-auditor-1", actorRole: .auditor, message: access)
            }
            try store.importEvents(inputs)
            let start = ContinuousClock.now
            benchmark.startMeasurement()
            let refresh = try store.refreshSnapshots()
            benchmark.stopMeasurement()
            precondition(refresh.eventsApplied == 1_000, "the catch-up read \(refresh.eventsApplied) events, not the 1,000 new ones")
            rate(benchmark, events: UInt64(refresh.eventsApplied), since: start)
        }

        Benchmark("Load one patient's current state, \(name)",
                  configuration: .init(metrics: [.wallClock, .throughput], timeUnits: .microseconds, maxDuration: .seconds(10), maxIterations: 10_000)) { benchmark in
            let store = try Fixtures.store(scale)
            let patient = ClinicGenerator.patientId(Int.random(in: 0..<Scale.patients))
            benchmark.startMeasurement()
            let state = try store.patientState(patient, now: judgedAt)
            benchmark.stopMeasurement()
            precondition(state != nil, "\(patient) has no state")
            blackHole(state)
        }
    }
}

