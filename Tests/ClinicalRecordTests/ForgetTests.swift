@_spi(RawRecords) import ClinicalRecord
import ClinicGenerator
import EventStore
import Foundation
import Testing

/// Forgetting a patient (crypto-shredding): their data key is destroyed, nothing of theirs can be
/// read again, and nothing else changes.
struct ForgetTests {
    static func occurrences(of text: String, inFileAt path: String) throws -> Int {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let needle = Array(text.utf8)
        guard needle.count <= bytes.count else { return 0 }
        return (0...(bytes.count - needle.count)).reduce(0) { count, index in
            bytes[index] == needle[0] && bytes[index..<(index + needle.count)].elementsEqual(needle) ? count + 1 : count
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aForgottenPatientCanNoLongerBeReadAndEveryoneElseIsUntouched() async throws {
        try await withRecordStore { store, directory in
            let generator = ClinicGenerator(seed: 11, patients: 12, months: 3)
            try await store.importEvents(generator.allEvents())
            try await store.refreshSnapshots()
            let patient = ClinicGenerator.patientId(4)
            let others = (0..<12).map { ClinicGenerator.patientId($0) }.filter { $0 != patient }
            let before = try store.patientState(patient)
            let familyName = try #require(before?.registration?.familyName)
            let head = try store.events.head()
            let othersBefore = try others.map { try store.patientState($0, asOf: .sequence(head), now: 0) }
            let exportBefore = withoutStoreAssignedTimes(try exportText(store))

            try await store.forget(patient, reason: "erasure request ER-2026-118", actorId: "u-privacy-1", actorRole: .admin, source: "urn:test")

            // Projections show the patient as forgotten, from the log and not from the old snapshot.
            let after = try #require(try store.patientState(patient))
            #expect(after.forgotten?.reason == "erasure request ER-2026-118" && after.forgotten?.by == "u-privacy-1")
            #expect(after.registration == nil && after.sessions.isEmpty && after.instruments.isEmpty)
            try await store.refreshSnapshots()
            #expect(try store.patientState(patient)?.forgotten != nil)
            #expect(try store.patientState(patient)?.registration == nil)
            // Every other patient is what they were.
            #expect(try others.map { try store.patientState($0, asOf: .sequence(head), now: 0) } == othersBefore)
            // Their payloads no longer open; the audit trail keeps who did what and when.
            let events = try store.events(ofPatient: patient)
            #expect(events.dropLast().allSatisfy(\.isForgotten) && events.last?.type == .patientForgotten)
            let trail = try store.auditTrail(AuditQuery(patientId: patient))
            #expect(trail.count == events.count && trail.first?.type == "PatientRegistered")
            #expect(!trail.contains { $0.summary.contains(familyName) })
            // The export leaves the patient out whole, and everyone else as before.
            let exportAfter = withoutStoreAssignedTimes(try exportText(store))
            #expect(!exportAfter.contains("\"subject\":\"\(patient)\""))
            #expect(exportAfter == exportBefore.split(separator: "\n").filter { !$0.contains("\"subject\":\"\(patient)\"") }.map { $0 + "\n" }.joined())
            // The chain still verifies: it covers the sealed bytes, which did not change.
            #expect(try store.events.verify().isIntact)
            // Nothing more can be recorded for them, and they cannot be forgotten twice.
            var details = Ketamine_V1_PatientDetailsUpdated()
            details.phone = "+1-555-0199"
            await #expect(throws: EventValidationError(field: "subject", reason: "patient \(patient) was forgotten (their data key was destroyed); nothing more can be recorded for them")) {
                try await store.record(ClinicalEventInput(source: "urn:test", patientId: patient, time: 0, actorId: "u-staff-1", actorRole: .staff, message: details))
            }
            await #expect(throws: EventValidationError.self) {
                try await store.forget(patient, reason: "again", actorId: "u-privacy-1", actorRole: .admin, source: "urn:test")
            }
            #expect(try store.isForgotten(patient) && !(try store.isForgotten(others[0])))
            // Nothing personal of anyone is in the file in the clear: payloads and snapshots are sealed.
            for name in Set(try others.compactMap { try store.patientState($0)?.registration?.familyName } + [familyName]) {
                #expect(try Self.occurrences(of: name, inFileAt: directory + "/store/data.mdb") == 0, "\(name) is in the file in the clear")
            }
        }
    }

    @Test func theForgetEventIsRecordedOnlyByForget() async throws {
        try await withRecordStore { store, _ in
            try await store.importEvents(ClinicGenerator(seed: 3, patients: 2, months: 1).allEvents())
            var forgotten = Ketamine_V1_PatientForgotten()
            forgotten.reason = "erasure request"
            let input = ClinicalEventInput(source: "urn:test", patientId: ClinicGenerator.patientId(0), time: 0, actorId: "u-admin", actorRole: .system, message: forgotten)
            await #expect(throws: EventValidationError.self) { try await store.record(input) }
            #expect(throws: EventValidationError.self) { try store.importEvents([input]) }
            #expect(try !store.isForgotten(ClinicGenerator.patientId(0)))
            await #expect(throws: EventValidationError(field: "data.reason", reason: "is required and must not be empty")) {
                try await store.forget(ClinicGenerator.patientId(0), reason: " ", actorId: "u-admin", actorRole: .admin, source: "urn:test")
            }
            await #expect(throws: EventValidationError(field: "subject", reason: "patient NOBODY is not registered; record PatientRegistered first")) {
                try await store.forget("NOBODY", reason: "request", actorId: "u-admin", actorRole: .admin, source: "urn:test")
            }
        }
    }
}
