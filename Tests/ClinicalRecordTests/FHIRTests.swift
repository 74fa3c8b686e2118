import ClinicalRecord
import Foundation
import Testing

/// The FHIR export is checked by an independent implementation of the FHIR models: the Python
/// package fhir.resources (R4B, whose AuditEvent and Bundle are R4's), which tools/test installs.
struct FHIRTests {
    static let validator = """
        import sys, json
        from fhir.resources.R4B.bundle import Bundle
        bundle = Bundle.model_validate_json(open(sys.argv[1]).read())
        assert bundle.type == "collection"
        print(len(bundle.entry or []), ",".join(sorted({e.resource.action for e in bundle.entry})))
        """

    static var pythonHasFHIRModels: Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import fhir.resources.R4B.bundle"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    @Test(.enabled(if: pythonHasFHIRModels, "needs python3 with fhir.resources (tools/test installs it)"))
    func theAuditTrailExportsAsAFHIRBundleThatValidates() async throws {
        try await withRecordStore { store, directory in
            try store.importEvents(fromFile: samplePath)
            var access = Ketamine_V1_RecordAccessed()
            access.purpose = .disclosure
            access.disclosedTo = "County health department"
            access.description_p = "Adverse event report"
            try await store.record(ClinicalEventInput(source: "urn:test", patientId: "EX-IV-1", time: 0, actorId: "u-staff-1", actorRole: .staff, message: access))
            var void = Ketamine_V1_EntryVoided()
            void.voidedEventID = "5071950e-adec-6f11-7d83-6e77af67d461"
            void.reason = "wrong minute"
            try await store.record(ClinicalEventInput(source: "urn:test", patientId: "EX-IV-1", time: 0, actorId: "u-nurse-1", actorRole: .nurse, message: void))
            let file = directory + "/bundle.json"
            try FHIRAuditBundle.json(for: try store.auditTrail()).write(to: URL(fileURLWithPath: file))

            let process = Process()
            let output = Pipe(), errors = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", Self.validator, file]
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            process.waitUntilExit()
            let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 0, "\(complaint)")
            #expect(printed.trimmingCharacters(in: .whitespacesAndNewlines) == "130 C,R,U")
        }
    }

    @Test func eachEntryBecomesAnAuditEventWithItsAgentAndPatient() async throws {
        try await withRecordStore { store, _ in
            try store.importEvents(fromFile: samplePath)
            let data = try FHIRAuditBundle.json(for: try store.auditTrail(AuditQuery(limit: 1)), bundleId: "b-1")
            let bundle = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(bundle["resourceType"] as? String == "Bundle")
            let entries = try #require(bundle["entry"] as? [[String: Any]])
            let event = try #require(entries.first?["resource"] as? [String: Any])
            #expect(event["resourceType"] as? String == "AuditEvent")
            #expect(event["action"] as? String == "C")
            let agent = try #require((event["agent"] as? [[String: Any]])?.first)
            #expect((agent["who"] as? [String: Any])?["display"] as? String != nil)
            let entity = try #require((event["entity"] as? [[String: Any]])?.first)
            #expect(((entity["what"] as? [String: Any])?["reference"] as? String)?.hasPrefix("Patient/") == true)
        }
    }
}
