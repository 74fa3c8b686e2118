@_spi(RawRecords) import ClinicalRecord
import ClinicGenerator
import EventStore
import Foundation
import SwiftProtobuf
import TestSupport
import Testing

/// Counts each patient's events, in the order they arrive, to check routing and order.
private struct Arrivals: PatientProjection {
    let types: Set<ClinicalEventType>
    var eventTypes: Set<ClinicalEventType> { types }
    func makeState(patientId: String) -> [UInt64] { [] }
    func apply(_ event: ReplayedEvent, voided: Bool, to state: inout [UInt64]) { state.append(event.sequence) }
}

struct ReplayTests {
    // README example: begin
    func dosesGiven(to patient: String, in store: PatientRecordStore) throws -> Int {
        var replay = ClinicalReplay()
        let dosing = replay.add(DosingProjection()) // reads 2 of the 22 event types
        let result = try replay.run(store)          // in parallel, one partition per core
        return result.states(of: dosing).first { $0.patientId == patient }?.state.doses ?? 0
    }
    // README example: end

    @Test func theReadmeReplayExampleCountsDosesAndIsShownVerbatim() async throws {
        try expectReadmeShowsExample(of: #filePath)
        try await withRecordStore { store, _ in
            try store.importEvents(fromFile: samplePath)
            let doses = try store.events(ofPatient: "EX-IV-1").filter { $0.type == .doseAdministered }.count
            #expect(doses > 0)
            #expect(try dosesGiven(to: "EX-IV-1", in: store) == doses)
        }
    }

    static let now = ClinicalTime.parse("2026-08-01T00:00:00Z")!

    static func generated(_ store: PatientRecordStore, patients: Int = 12, months: Int = 3, seed: UInt64 = 7, maintenance: Bool = false) throws {
        var generator = ClinicGenerator(seed: seed, patients: patients, months: months)
        generator.maintenance = maintenance
        try store.importEvents(generator.allEvents())
    }

    @Test func partitionsSeeEachPatientsEventsInLogOrderAndNothingElse() async throws {
        try await withRecordStore { store, _ in
            try Self.generated(store)
            var replay = ClinicalReplay()
            let doses = replay.add(Arrivals(types: [.doseAdministered]))
            let all = replay.add(Arrivals(types: Set(ClinicalEventType.allCases)))
            let (result, expected) = try store.events.read { reader in
                var expected: [String: [UInt64]] = [:], doseTypes: [String: [UInt64]] = [:]
                try reader.forEachRecord { record in
                    expected[record.streamId, default: []].append(record.sequence)
                    if record.type == ClinicalEventType.doseAdministered.rawValue { doseTypes[record.streamId, default: []].append(record.sequence) }
                    return true
                }
                return (try replay.run(reader, partitions: 3), (expected, doseTypes))
            }
            #expect(byPatient(result.states(of: all)) == expected.0)
            // Patients without a dose still exist (they had other events), with no dose.
            #expect(byPatient(result.states(of: doses)).filter { !$0.value.isEmpty } == expected.1)
            #expect(result.patientCount == 12)
        }
    }

    @Test func oneAndManyPartitionsGiveTheSameStates() async throws {
        try await withRecordStore { store, _ in
            try Self.generated(store)
            let states = try [1, 2, 5].map { partitions in
                try store.events.read { reader in
                    var replay = ClinicalReplay()
                    let handle = replay.add(PatientStateProjection())
                    return byPatient(try replay.run(reader, partitions: partitions).states(of: handle)).mapValues { PatientState(record: $0.state, judgedAt: Self.now) }
                }
            }
            #expect(states[0].count == 12)
            #expect(states[0] == states[1])
            #expect(states[0] == states[2])
            // And the same as folding one patient's stream.
            for (patient, state) in states[0] {
                #expect(try store.patientState(patient, now: Self.now) == state)
            }
        }
    }

    @Test func aProjectionThatDeclaresNoTypeReadsNothing() async throws {
        try await withRecordStore { store, _ in
            try Self.generated(store, patients: 3)
            var replay = ClinicalReplay()
            let none = replay.add(Arrivals(types: []))
            let result = try replay.run(store)
            #expect(result.eventsApplied == 0)
            #expect(result.states(of: none).isEmpty)
        }
    }

    @Test func snapshotsCatchUpByTheNewEventsOnlyAndMatchAFullRebuild() async throws {
        try await withRecordStore { store, _ in
            try Self.generated(store, patients: 6)
            let first = try await store.refreshSnapshots()
            #expect(first.from == 0)
            #expect(first.patientsUpdated == 6)
            let head = try store.events.head()
            #expect(first.through == head)
            #expect(try await store.refreshSnapshots().eventsApplied == 0)

            // New events for one patient, among them a void of an entry older than the checkpoint.
            let patient = ClinicGenerator.patientId(2)
            let old = try #require(try store.events(ofPatient: patient).first { $0.type == .vitalsRecorded })
            let voidedBefore = try #require(try store.patientState(patient)).record.voidedCount
            var change = Ketamine_V1_PatientDetailsUpdated()
            change.phone = "+1 555 0100"
            try await store.record(ClinicalEventInput(id: "new-1", source: "urn:test", patientId: patient, time: Self.now, actorId: "u-staff-1", actorRole: .staff, message: change))
            var void = Ketamine_V1_EntryVoided()
            void.voidedEventID = old.id
            void.reason = "recorded for the wrong session"
            try await store.record(ClinicalEventInput(id: "void-1", source: "urn:test", patientId: patient, time: Self.now, actorId: old.actorId, actorRole: try #require(old.actorRole), message: void))

            let caughtUp = try await store.refreshSnapshots()
            #expect(caughtUp.from == head)
            #expect(caughtUp.eventsApplied == 2)
            #expect(caughtUp.patientsUpdated == 1)

            // Every patient's snapshot-based state equals a replay of the whole log.
            var replay = ClinicalReplay()
            let handle = replay.add(PatientStateProjection())
            let rebuilt = byPatient(try await replay.run(store).states(of: handle))
            for (id, builder) in rebuilt {
                #expect(try store.patientState(id, now: Self.now) == PatientState(record: builder.state, judgedAt: Self.now))
            }
            let state = try #require(try store.patientState(patient, now: Self.now))
            #expect(state.registration?.phone == "+1 555 0100")
            #expect(state.record.voidedCount == voidedBefore + 1)
        }
    }

    @Test func aLongHistoryKeepsTheLatestSessionsAndCountsThemAll() async throws {
        try await withRecordStore { store, _ in
            try Self.generated(store, patients: 2, months: 24, maintenance: true)
            let states = try (0..<2).map { try #require(try store.patientState(ClinicGenerator.patientId($0), now: Self.now)) }
            let long = try #require(states.max { $0.record.sessionCount < $1.record.sessionCount })
            #expect(long.record.sessionCount > UInt64(PatientStateBuilder.recentKept))
            #expect(long.sessions.count == PatientStateBuilder.recentKept)
            #expect(long.showsLatestSessionsOnly)
            let all = try store.events(ofPatient: long.patientId).compactMap { $0.payload(as: Ketamine_V1_SessionScheduled.self)?.sessionID }
            #expect(long.sessions.last?.sessionID == all.last)

            // Snapshots of long histories (every kind of entry) load as the replay built them.
            try store.refreshSnapshots()
            var replay = ClinicalReplay()
            let handle = replay.add(PatientStateProjection())
            for (id, builder) in try replay.run(store).states(of: handle) {
                #expect(try store.patientState(id, now: Self.now) == PatientState(record: builder.state, judgedAt: Self.now))
            }
        }
    }
}

/// States by patient id, for tests whose ids are plain ASCII.
func byPatient<State>(_ states: [(patientId: String, state: State)]) -> [String: State] {
    Dictionary(uniqueKeysWithValues: states.map { ($0.patientId, $0.state) })
}
