import ClinicalRecord
import Foundation
import TestSupport
import Testing

struct ReadmeExampleTests {
    // README example: begin
    func readmeExample(storeDirectory: String) async throws -> PatientState? {
        let records = try PatientRecordStore.open(at: storeDirectory)
        defer { records.close() }

        var registration = Ketamine_V1_PatientRegistered()
        registration.givenName = "Ana"
        registration.familyName = "Ruiz"
        registration.birthDate = "1980-05-01"
        registration.sex = .female
        registration.weightKg = 80
        // Checked (fields, ranges, role, references), then durable before it returns.
        try await records.record(ClinicalEventInput(
            source: "urn:clinic:northside", patientId: "P-0001",
            time: ClinicalTime.parse("2026-01-12T08:30:00Z") ?? 0,
            actorId: "u-staff-1", actorRole: .staff, message: registration))

        // Who did what, when; and the patient's state, rebuilt from the log.
        for entry in try records.auditTrail(AuditQuery(patientId: "P-0001")) {
            print(entry.recordedAt, entry.actorId, entry.action, entry.summary)
        }
        return try records.patientState("P-0001")
    }
    // README example: end

    @Test func theReadmeExampleRuns() async throws {
        let directory = NSTemporaryDirectory() + "readme-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = try await readmeExample(storeDirectory: directory)
        #expect(state?.registration?.familyName == "Ruiz")
        #expect(state?.weightKg == 80)
    }

    @Test func theReadmeShowsThisExampleVerbatim() throws {
        try expectReadmeShowsExample(of: #filePath, alsoIn: "Sources/ClinicalRecord/ClinicalRecord.docc/ClinicalRecord.md")
    }
}
