import BenchmarkFixtures
@_spi(RawRecords) import ClinicalRecord
import Compliance
import Foundation

// Runs one replay of the 1M fixture outside the benchmark harness, for profilers:
//   valgrind --tool=callgrind .build/release/replay-profile all 1
//   perf record -g .build/release/replay-profile all
// Arguments: all|narrow|state|compliance [partitions], or catchup, or patient; PROFILE_UNSEALED=1
// uses the store created without sealing, PROFILE_10M=1 the 10M fixture.
let arguments = CommandLine.arguments.dropFirst()
let which = arguments.first ?? "all"
let partitions = arguments.dropFirst().first.flatMap(Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
let scale: Scale = ProcessInfo.processInfo.environment["PROFILE_10M"] == "1" ? .tenMillion : .oneMillion
let store = try ProcessInfo.processInfo.environment["PROFILE_UNSEALED"] == "1" ? Fixtures.unsealedStore(scale) : Fixtures.store(scale)
if which == "catchup" || which == "patient" {
    // The catch-up after 1,000 new events for random patients, or 2,000 loads of one patient.
    var random = SystemRandomNumberGenerator()
    let patients = Fixtures.patientIds()
    if which == "patient" {
        var times: [Duration] = []
        for _ in 0..<2_000 {
            let start = ContinuousClock.now
            _ = try store.patientState(patients.randomElement(using: &random)!)
            times.append(ContinuousClock.now - start)
        }
        times.sort()
        print("patient: p50 \(times[1_000]), p99 \(times[1_980])")
        exit(0)
    }
    let inputs = (0..<1_000).map { _ in
        var access = Ketamine_V1_RecordAccessed()
        access.purpose = .audit
        access.description_p = "profile audit"
        return ClinicalEventInput(source: "urn:profile", patientId: patients.randomElement(using: &random)!, time: 0,
                                  actorId: "u-auditor-1", actorRole: .auditor, message: access)
    }
    try store.importEvents(inputs)
    let start = ContinuousClock.now
    let refresh = try store.refreshSnapshots()
    print("catch-up: \(refresh.eventsApplied) events, \(refresh.patientsUpdated) patients in \(ContinuousClock.now - start)")
    exit(0)
}
var replay = ClinicalReplay()
let judgedAt = ClinicalTime.parse("2030-01-01T00:00:00Z") ?? 0
if which == "all" || which == "state" { _ = replay.add(PatientStateProjection()) }
if which == "all" || which == "compliance" { _ = replay.add(ComplianceProjection(judgedAt: judgedAt)) }
if which == "all" || which == "narrow" { _ = replay.add(DosingProjection()) }
let start = ContinuousClock.now
let result = try store.events.read { try replay.run($0, partitions: partitions) }
let seconds = (ContinuousClock.now - start) / .seconds(1)
print("\(which): \(result.through) events, \(result.patientCount) patients, \(Int(Double(result.through) / seconds)) events/s on \(partitions) partitions")
