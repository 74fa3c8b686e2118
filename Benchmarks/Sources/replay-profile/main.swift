import BenchmarkFixtures
import ClinicalRecord
import Compliance
import Foundation

// Runs one replay of the 1M fixture outside the benchmark harness, for profilers:
//   valgrind --tool=callgrind .build/release/replay-profile all 1
//   perf record -g .build/release/replay-profile all
// Arguments: all|narrow|state|compliance [partitions]; PROFILE_UNSEALED=1 replays the store
// created without sealing.
let arguments = CommandLine.arguments.dropFirst()
let which = arguments.first ?? "all"
let partitions = arguments.dropFirst().first.flatMap(Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
let store = try ProcessInfo.processInfo.environment["PROFILE_UNSEALED"] == "1" ? Fixtures.unsealedStore(.oneMillion) : Fixtures.store(.oneMillion)
var replay = ClinicalReplay()
let judgedAt = ClinicalTime.parse("2030-01-01T00:00:00Z") ?? 0
if which == "all" || which == "state" { _ = replay.add(PatientStateProjection()) }
if which == "all" || which == "compliance" { _ = replay.add(ComplianceProjection(judgedAt: judgedAt)) }
if which == "all" || which == "narrow" { _ = replay.add(DosingProjection()) }
let start = ContinuousClock.now
let result = try store.events.read { try replay.run($0, partitions: partitions) }
let seconds = (ContinuousClock.now - start) / .seconds(1)
print("\(which): \(result.through) events, \(result.patientCount) patients, \(Int(Double(result.through) / seconds)) events/s on \(partitions) partitions")
