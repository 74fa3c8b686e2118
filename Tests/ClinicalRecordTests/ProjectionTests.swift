@_spi(RawRecords) import ClinicalRecord
import EventStore
import Foundation
import SwiftProtobuf
import Testing

struct ProjectionTests {
    static let judgedAt = ClinicalTime.parse("2026-02-01T00:00:00Z")!

    @Test func theSamplePatientsStateIsRebuiltFromTheLog() async throws {
        try await withRecordStore { store, _ in
            try store.importEvents(fromFile: samplePath)
            let state = try #require(try store.patientState("EX-IV-1", now: Self.judgedAt))
            #expect(state.registration?.givenName == "Ana")
            #expect(state.age == 45)
            #expect(state.consents.filter { $0.status == .active }.map(\.consent.consentID) == ["EX-IV-1-C1"])
            #expect(state.consents.first?.consent.scope == .ketamineIv)
            #expect(state.evaluation?.eligible == true)
            #expect(state.evaluation?.eligibleModalities == [.ketamineIv])
            #expect(state.medications.map(\.name) == ["sertraline"])
            let plan = try #require(state.currentPlan)
            #expect(plan.plan.planID == "EX-IV-1-PL1")
            #expect(plan.dosesGiven == state.sessions.filter(\.hasDose).count)
            #expect(plan.plan.sessionsPlanned == 6)
            let phq9 = try #require(state.instruments.first { $0.instrument == .phq9 })
            #expect(phq9.baseline?.total == 13)
            #expect(state.openSideEffects.isEmpty)
            #expect(state.sessions.first?.sessionID == "EX-IV-1-S1")
            #expect(state.sessions.first?.vitals.count == 3)
            #expect(state.record.eventCount == 25)
            #expect(try store.patientState("NOBODY") == nil)
        }
    }

    @Test func aVoidedEntryIsLeftOutOfTheStateButStaysInTheAuditTrail() async throws {
        try await withRecordStore { store, _ in
            try await store.importEvents(fromFile: samplePath)
            var change = Ketamine_V1_PatientDetailsUpdated()
            change.weightKg = 95
            let wrong = try await store.record(ClinicalEventInput(id: "w-1", source: "urn:test", patientId: "EX-IV-1", time: Self.judgedAt, actorId: "u-staff-1", actorRole: .staff, message: change))
            #expect(try store.patientState("EX-IV-1")?.weightKg == 95)
            var void = Ketamine_V1_EntryVoided()
            void.voidedEventID = "w-1"
            void.reason = "wrong patient"
            try await store.record(ClinicalEventInput(id: "v-1", source: "urn:test", patientId: "EX-IV-1", time: Self.judgedAt, actorId: "u-staff-1", actorRole: .staff, message: void))
            let state = try #require(try store.patientState("EX-IV-1"))
            #expect(state.weightKg != 95)
            #expect(state.record.voidedCount == 1)
            let trail = try store.auditTrail(AuditQuery(patientId: "EX-IV-1"))
            #expect(trail.first { $0.eventId == "w-1" }?.voidedBy == "v-1")
            #expect(trail.last?.action == .void)
            // As of the sequence before the void, the entry still counts.
            #expect(try store.patientState("EX-IV-1", asOf: .sequence(wrong.sequence))?.weightKg == 95)
        }
    }

    @Test func stateAsOfASequenceOrATimeSeesOnlyWhatWasRecordedByThen() async throws {
        try await withRecordStore { store, _ in
            try store.importEvents(fromFile: samplePath)
            let early = try #require(try store.patientState("EX-IV-1", asOf: .sequence(6)))
            #expect(early.record.eventCount == 6)
            #expect(early.sessions.isEmpty)
            #expect(early.currentPlan?.plan.planID == "EX-IV-1-PL1")
            let head = try store.events.headers(from: 128, limit: 1)[0]
            #expect(try store.patientState("EX-IV-1", asOf: .time(head.recordedAt))?.record.eventCount == 25)
            #expect(try store.patientState("EX-IV-1", asOf: .time(0)) == nil)
            #expect(AsOf("5120") == .sequence(5120))
            #expect(AsOf("2026-03-01T00:00:00Z") == .time(ClinicalTime.parse("2026-03-01T00:00:00Z")!))
            #expect(AsOf("soon") == nil)
        }
    }

    @Test func theAuditTrailAnswersByPatientActorTimeAndType() async throws {
        try await withRecordStore { store, _ in
            try store.importEvents(fromFile: samplePath)
            let all = try store.auditTrail()
            #expect(all.count == 128)
            #expect(all.map(\.sequence) == Array(1...128))
            #expect(all.allSatisfy { $0.action == .create })
            let nurse = try store.auditTrail(AuditQuery(actorId: "u-nurse-1"))
            #expect(!nurse.isEmpty && nurse.allSatisfy { $0.actorId == "u-nurse-1" })
            let doses = try store.auditTrail(AuditQuery(patientId: "EX-IV-1", types: ["DoseAdministered"]))
            #expect(doses.allSatisfy { $0.type == "DoseAdministered" && $0.patientId == "EX-IV-1" })
            #expect(doses.first?.summary.hasPrefix("Dose 40 mg ketamine iv") == true)
            let none = try store.auditTrail(AuditQuery(until: 0))
            #expect(none.isEmpty)
            #expect(try store.auditTrail(AuditQuery(limit: 3)).map(\.sequence) == [126, 127, 128])
        }
    }

    @Test func theAccountingOfDisclosuresGoesSixYearsBack() async throws {
        try await withRecordStore { store, _ in
            try await store.importEvents(fromFile: samplePath)
            func disclose(_ id: String, at time: String) async throws {
                var access = Ketamine_V1_RecordAccessed()
                access.purpose = .disclosure
                access.disclosedTo = "County health department"
                access.description_p = "Adverse event report"
                try await store.record(ClinicalEventInput(id: id, source: "urn:test", patientId: "EX-IV-1", time: ClinicalTime.parse(time)!, actorId: "u-staff-1", actorRole: .staff, message: access))
            }
            try await disclose("d-old", at: "2019-01-01T00:00:00Z")
            try await disclose("d-new", at: "2026-01-20T00:00:00Z")
            var read = Ketamine_V1_RecordAccessed()
            read.purpose = .treatment
            read.description_p = "chart review"
            try await store.record(ClinicalEventInput(source: "urn:test", patientId: "EX-IV-1", time: Self.judgedAt, actorId: "u-nurse-1", actorRole: .nurse, message: read))
            let disclosures = try store.disclosures(of: "EX-IV-1", now: Self.judgedAt)
            #expect(disclosures.map(\.eventId) == ["d-new"])
            #expect(disclosures.first?.recipient == "County health department")
            #expect(disclosures.first?.date == "2026-01-20T00:00:00Z")
            #expect(disclosures.first?.description == "Adverse event report")
        }
    }

    @Test func recordsOfATypeThisVersionDoesNotKnowAreSkippedAndCounted() async throws {
        try await withRecordStore { store, _ in
            try await store.importEvents(fromFile: samplePath)
            // A newer version wrote type code 999 into the patient's stream.
            try await store.events.append([NewEvent(id: "future-1", type: 999, occurredAt: 0, actor: "u-new", payload: [1, 2, 3])], to: "EX-IV-1")
            let state = try #require(try store.patientState("EX-IV-1"))
            #expect(state.record.unknownTypeCount == 1)
            #expect(state.record.eventCount == 25)
            #expect(try store.auditTrail().count == 128)
            #expect(try store.forEachEvent { _ in true } == 1)
        }
    }
}
