@_spi(RawRecords) import ClinicalRecord
import EventStore
import Foundation
import TestSupport
import Testing

/// Every validation rule of docs/EVENTS.md: a bad line after the whole sample is refused with the line,
/// the field and the reason, and nothing of the file is written.
struct ValidationTests {
    static let sampleLines = Sample.lines

    static func line(_ number: Int, keepId: Bool = false, _ change: (inout [String: Any], inout [String: Any]) -> Void) -> String {
        Sample.line(number, keepId: keepId, change)
    }

    // Sample lines: 1 PatientRegistered EX-IV-1, 5 ConsentGiven, 6 TreatmentPlanned, 7 SessionScheduled,
    // 8 PreSessionCheckRecorded, 9 DoseAdministered, 10 DrugWasted, 11 VitalsRecorded,
    // 14 SideEffectObserved, 15 SideEffectResolved, 16 PatientDischarged, 3 AssessmentRecorded.
    static let cases: [(String, String, String)] = [
        ("missing attribute", line(9) { o, _ in o["actorid"] = nil }, "actorid: is required"),
        ("empty attribute", line(9) { o, _ in o["subject"] = "" }, "subject: is required and must not be empty"),
        ("time not RFC 3339", line(9) { o, _ in o["time"] = "yesterday" }, "time: must be an RFC 3339 time with a zone (Z or an offset), such as 2026-01-12T08:30:00Z, from 1677-09-22T00:00:00Z to 2262-04-11T00:00:00Z, not \"yesterday\""),
        // Found by tools/fuzz: a year outside 64 bits of nanoseconds overflowed and crashed the import.
        ("time out of range", line(9) { o, _ in o["time"] = "1013-01-17T09:10:00Z" }, "time: must be an RFC 3339 time with a zone (Z or an offset), such as 2026-01-12T08:30:00Z, from 1677-09-22T00:00:00Z to 2262-04-11T00:00:00Z, not \"1013-01-17T09:10:00Z\""),
        ("data time out of range", line(9) { _, d in d["startedAt"] = "9999-01-17T09:10:00Z" }, "data.startedAt: must be a time from 1677-09-22T00:00:00Z to 2262-04-11T00:00:00Z"),
        ("unknown type", line(9) { o, _ in o["type"] = "ketamine.v1.Teleported" }, "type: ketamine.v1.Teleported is not a known event type"),
        ("unknown attribute", line(9) { o, _ in o["Mood_1"] = "good" }, "Mood_1: is not an attribute of this interchange format, nor a CloudEvents extension name (a-z and 0-9, at most 20 characters)"),
        ("extension attribute too long", line(9) { o, _ in o["averyveryverylongname1"] = "x" }, "averyveryverylongname1: is not an attribute of this interchange format, nor a CloudEvents extension name (a-z and 0-9, at most 20 characters)"),
        ("extension attribute an object", line(9) { o, _ in o["traceparent"] = ["a": 1] }, "traceparent: must be a string, a number or a boolean (a CloudEvents extension attribute)"),
        ("unknown field in data", line(9) { _, d in d["bogus"] = 1 }, "data: bogus is not a field of DoseAdministered"),
        ("data not an object", line(9) { o, d in d = [:]; o["data"] = "dose" }, "data: must be a JSON object, not a string"),
        ("unknown role", line(9) { o, _ in o["actorrole"] = "janitor" }, "actorrole: must be one of psychiatrist, physician, nurse, staff, admin, auditor, system, not \"janitor\""),
        ("unspecified enum", line(9) { _, d in d["route"] = "ROUTE_UNSPECIFIED" }, "data.route: is required; the unspecified value is not allowed"),
        ("unknown enum", line(9) { _, d in d["route"] = "ROUTE_TELEPATHIC" }, "data: holds a value that is not one of its enum's values"),
        ("missing required field", line(9) { _, d in d["lotNumber"] = nil }, "data.lotNumber: is required and must not be empty"),
        ("missing timestamp", line(9) { _, d in d["startedAt"] = nil }, "data.startedAt: is required"),
        ("item count", line(3) { _, d in d["itemScores"] = [1, 1, 1, 1, 1, 1, 1, 1] }, "data.itemScores: PHQ-9 has 9 items, not 8"),
        ("item range", line(3) { _, d in d["itemScores"] = [1, 1, 7, 1, 1, 1, 1, 1, 0] }, "data.itemScores[2]: PHQ-9 item 3 must be 0-3, not 7"),
        ("weight", line(9) { _, d in d["weightKg"] = 1.5 }, "data.weightKg: must be 2.0-500.0 kg, not 1.5"),
        ("systolic", line(11) { _, d in d["bloodPressure"] = ["systolic": 400, "diastolic": 80] }, "data.bloodPressure.systolic: must be 40-300 mmHg, not 400"),
        ("diastolic", line(8) { _, d in d["bloodPressure"] = ["systolic": 120, "diastolic": 10] }, "data.bloodPressure.diastolic: must be 20-200 mmHg, not 10"),
        ("heart rate", line(11) { _, d in d["heartRate"] = 300 }, "data.heartRate: must be 20-250 beats per minute, not 300"),
        ("spo2", line(11) { _, d in d["spo2"] = 40 }, "data.spo2: must be 50-100 percent, not 40"),
        ("aldrete", line(16) { _, d in d["aldreteScore"] = 11 }, "data.aldreteScore: must be 0-10 points, not 11"),
        ("dose", line(9) { _, d in d["doseMg"] = 0 }, "data.doseMg: must be above 0 mg, not 0.0"),
        ("dose per kg", line(6) { _, d in d["doseMgPerKg"] = -0.5; d["planId"] = "EX-IV-1-PL9" }, "data.doseMgPerKg: must be above 0 mg, not -0.5"),
        ("waste amount", line(10) { _, d in d["amountMg"] = 0 }, "data.amountMg: must be above 0 mg, not 0.0"),
        ("plan of a session", line(7) { _, d in d["planId"] = "EX-IV-1-PL9" }, "data.planId: plan EX-IV-1-PL9 was not recorded earlier for patient EX-IV-1"),
        ("session of a dose", line(9) { _, d in d["sessionId"] = "EX-IV-1-S9" }, "data.sessionId: session EX-IV-1-S9 was not recorded earlier for patient EX-IV-1"),
        ("session of another patient", line(9) { o, _ in o["subject"] = "EX-ESK-1" }, "data.planId: plan EX-IV-1-PL1 was not recorded earlier for patient EX-ESK-1"),
        ("consent of a withdrawal", line(9) { o, d in o["type"] = "ketamine.v1.ConsentWithdrawn"; d = ["consentId": "EX-IV-1-C9", "reason": "changed mind"] }, "data.consentId: consent EX-IV-1-C9 was not recorded earlier for patient EX-IV-1"),
        ("side effect of a resolution", line(15) { _, d in d["sideEffectId"] = "EX-IV-1-SE9" }, "data.sideEffectId: side effect EX-IV-1-SE9 was not recorded earlier for patient EX-IV-1"),
        ("event of a void", line(9) { o, d in o["type"] = "ketamine.v1.EntryVoided"; d = ["voidedEventId": "no-such-event", "reason": "typo"] }, "data.voidedEventId: event no-such-event was not recorded earlier for patient EX-IV-1"),
        ("void of a registration", line(9) { o, d in o["type"] = "ketamine.v1.EntryVoided"; d = ["voidedEventId": "f38b2ffc-80a4-df5a-51c9-bc701e7ea419", "reason": "typo"] }, "data.voidedEventId: a PatientRegistered cannot be voided"),
        ("void of another's entry", line(9) { o, d in o["type"] = "ketamine.v1.EntryVoided"; o["actorid"] = "u-nurse-2"; d = ["voidedEventId": "1919e93a-d117-45ad-4988-93101c593af5", "reason": "typo"] }, "actorid: a nurse may void only entries they recorded; 1919e93a-d117-45ad-4988-93101c593af5 was recorded by u-nurse-1"),
        ("unregistered patient", line(9) { o, _ in o["subject"] = "NOBODY" }, "subject: patient NOBODY is not registered; record PatientRegistered first"),
        ("second registration", line(1) { _, _ in }, "subject: patient EX-IV-1 is already registered"),
        ("role", line(9) { o, _ in o["actorrole"] = "staff" }, "actorrole: a staff may not record DoseAdministered"),
        ("auditor writes", line(11) { o, _ in o["actorrole"] = "auditor" }, "actorrole: an auditor may not record VitalsRecorded"),
        ("expected version", line(11) { o, _ in o["expectedversion"] = 3 }, "expectedversion: patient EX-IV-1 has 25 events, not the 3 expected"),
        ("same id, other content", line(9, keepId: true) { _, d in d["doseMg"] = 41 }, "id: event 1919e93a-d117-45ad-4988-93101c593af5 is already stored (sequence 9) with other content"),
        ("disclosure without recipient", line(9) { o, d in o["type"] = "ketamine.v1.RecordAccessed"; d = ["purpose": "ACCESS_PURPOSE_DISCLOSURE", "description": "sent"] }, "data.disclosedTo: is required when the purpose is disclosure"),
        ("birth date", line(1) { o, d in o["subject"] = "NEW-1"; d["birthDate"] = "1980-02-30" }, "data.birthDate: must be a date written YYYY-MM-DD, not \"1980-02-30\""),
        ("not JSON", "{\"specversion\": ", "line: is not valid JSON (ends before the JSON is complete)"),
        ("duplicate key", line(9) { o, _ in o["zz"] = 1 }.replacingOccurrences(of: "\"zz\":1", with: "\"actorrole\":\"system\""), "actorrole: appears twice in the object; a member may be given once"),
        ("duplicate key in data", line(9) { _, d in d["zz"] = 1 }.replacingOccurrences(of: "\"zz\":1", with: "\"doseMg\":41"), "data.doseMg: appears twice in the object; a member may be given once"),
        ("expected version a boolean", line(11) { o, _ in o["expectedversion"] = true }, "expectedversion: must be a whole number of events, 0 or more (not a boolean such as true, -1 or 1.5)"),
        ("expected version too large", line(11) { o, _ in o["expectedversion"] = 7 }.replacingOccurrences(of: "\"expectedversion\":7", with: "\"expectedversion\":18446744073709551616"), "expectedversion: must be a whole number of events from 0 to 18446744073709551615"),
        ("birth date in the future", line(1) { o, d in o["subject"] = "NEW-1"; d["birthDate"] = "2999-01-01" }, "data.birthDate: must not be after the event's own date (2026-01-12), not 2999-01-01"),
        ("birth date before 1900", line(1) { o, d in o["subject"] = "NEW-1"; d["birthDate"] = "0000-01-01" }, "data.birthDate: must not be before 1900-01-01, not 0000-01-01"),
        ("a long name", line(1) { o, d in o["subject"] = "NEW-1"; d["givenName"] = String(repeating: "a", count: 600) }, "data.givenName: is 600 bytes long; at most 500 are allowed"),
        ("a long id", line(9) { o, _ in o["subject"] = String(repeating: "P", count: 600) }, "subject: is 600 bytes long; an id is at most 128 bytes of UTF-8"),
        ("a NUL in the subject", line(9) { o, _ in o["subject"] = "EX-IV-1\u{0}" }, "subject: holds the control character U+0000; an id is printable text"),
    ]

    @Test(arguments: cases)
    func aBadLineIsRefusedByLineFieldAndReasonAndNothingIsWritten(rule: String, badLine: String, expected: String) async throws {
        try await withRecordStore { store, directory in
            let file = directory + "/bad.ndjson"
            try (Self.sampleLines + [badLine]).joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let error = #expect(throws: EventValidationError.self, "\(rule)") {
                try store.importEvents(fromFile: file)
            }
            #expect(error?.description == "line \(Self.sampleLines.count + 1): " + expected, "\(rule)")
            #expect(try store.events.head() == 0, "\(rule): the import wrote events")
        }
    }

    @Test func theLibraryPathRefusesWithTheSameRulesAndWritesNothing() async throws {
        try await withRecordStore { store, _ in
            try await store.importEvents(fromFile: samplePath)
            var dose = Ketamine_V1_DoseAdministered()
            dose.sessionID = "EX-IV-1-S1"
            dose.planID = "EX-IV-1-PL1"
            dose.drug = .ketamine
            dose.route = .iv
            dose.setting = .clinic
            dose.doseMg = 40
            dose.weightKg = 80
            dose.lotNumber = "L1"
            dose.startedAt = ClinicalTime.timestamp(0)
            let input = ClinicalEventInput(source: "urn:test", patientId: "EX-IV-1", time: 0, actorId: "u-staff-1", actorRole: .staff, message: dose)
            let error = await #expect(throws: EventValidationError.self) { try await store.record(input) }
            #expect(error?.description == "actorrole: a staff may not record DoseAdministered")
            var nurse = input
            nurse.actorRole = .nurse
            let recorded = try await store.record(nurse)
            #expect(recorded.sequence == 129)
            #expect(try await store.record(nurse).wasAlreadyStored)
            #expect(try store.events.head() == 129)
        }
    }
}
