import ClinicGenerator
import ClinicalRecord
import Compliance
import EventStore
import Foundation
import TestSupport
import Testing

/// Replays `ndjson` in a fresh store and returns the report. The v1 sample was recorded before
/// the v1.1 fields, so its rules are judged with the two rules that need them switched off.
func replay(_ ndjson: String, asOf: AsOf? = nil, policy: Policy = .beforeV11) throws -> ComplianceReport {
    try withTemporaryDirectory { directory in
        let file = directory + "/history.ndjson"
        try ndjson.write(toFile: file, atomically: true, encoding: .utf8)
        let store = try PatientRecordStore.open(at: directory + "/store", durable: false)
        defer { store.close() }
        try store.importEvents(fromFile: file)
        return try ComplianceReplay.run(store, asOf: asOf, policy: policy)
    }
}

func rules(of patient: String, in report: ComplianceReport) -> [String] {
    report.findings.filter { $0.patient == patient }.map(\.rule.rawValue)
}

typealias Change = @Sendable (inout [String: Any], inout [String: Any]) -> Void

struct ComplianceTests {
    @Test func theSampleGivesExactlyTheExpectedRulesPerPatient() async throws {
        let expectedPath = (Sample.path as NSString).deletingPathExtension + ".expected.json"
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: expectedPath))) as? [String: [String]])
        let report = try replay(Sample.edited())
        #expect(report.eventsReplayed == 128)
        #expect(report.patients == expected.count)
        for (patient, rules) in expected {
            #expect(ComplianceTests.sorted(Compliance_rules(patient, report)) == rules.sorted(), "\(patient)")
        }
    }

    static func sorted(_ values: [String]) -> [String] { values.sorted() }

    // Lines of the sample: EX-IV-1 1-25 (3 PHQ-9, 4 evaluation, 5 consent, 6 plan, 8 check S1,
    // 9 dose S1, 10 waste, 14 side effect, 15 resolution, 16 discharge S1), EX-ESK-1 26-52
    // (31 REMS enrollment, 35 dose S1, 37 vitals at 40 minutes, 41 discharge, 42 REMS form).
    static let brokenOnce: [(Rule, String, [Int: Change], Set<Int>, [String])] = [
        (.consentBeforeDose, "EX-IV-1", [5: { _, d in d["signedAt"] = "2026-01-15T10:00:00Z" }], [], []),
        (.evaluationBeforeFirstDose, "EX-IV-1", [4: { _, d in d["eligibleModalities"] = ["MODALITY_KETAMINE_IM"] }], [], []),
        (.baselineAssessment, "EX-IV-1", [3: { o, _ in o["time"] = "2025-11-01T09:00:00Z" }], [], []),
        (.contraindication, "EX-IV-1", [:], [], [Sample.line(2) { o, d in o["time"] = "2026-01-16T09:00:00Z"; d["pregnant"] = true }]),
        (.preSessionCheckMissing, "EX-IV-1", [:], [8], []),
        (.fasting, "EX-IV-1", [8: { _, d in d["lastSolidFoodAt"] = "2026-01-14T07:00:00Z" }], [], []),
        (.escort, "EX-IV-1", [8: { _, d in d["escortPresent"] = false }], [], []),
        (.bloodPressureThreshold, "EX-IV-1", [8: { _, d in d["bloodPressure"] = ["systolic": 150, "diastolic": 85] }], [], []),
        (.esketamineVitals, "EX-ESK-1", [:], [37], []),
        (.monitoringDuration, "EX-IV-1", [15: { _, d in d["resolvedAt"] = "2026-01-14T10:00:00Z" }, 16: { _, d in d["dischargedAt"] = "2026-01-14T10:15:00Z" }], [], []),
        (.dischargeWithUnresolvedEffect, "EX-IV-1", [15: { _, d in d["resolvedAt"] = "2026-01-14T12:30:00Z" }], [], []),
        (.dischargeReadiness, "EX-IV-1", [16: { _, d in d["aldreteScore"] = 8 }], [], []),
        (.drivingAdvice, "EX-IV-1", [16: { _, d in d["drivingAdviceGiven"] = false }], [], []),
        (.esketamineSetting, "EX-ESK-1", [35: { _, d in d["setting"] = "SETTING_HOME" }], [], []),
        (.remsEnrollment, "EX-ESK-1", [31: { _, d in d["enrolledAt"] = "2026-01-16T09:00:00Z" }], [], []),
        (.remsFormDeadline, "EX-ESK-1", [42: { _, d in d["submittedAt"] = "2026-01-25T12:00:00Z" }], [], []),
        (.doseRange, "EX-IV-1", [9: { _, d in d["doseMg"] = 100 }], [], []),
        (.sessionFrequency, "EX-IV-1", [6: { _, d in d["maxSessionsPerWeek"] = 1 }], [], []),
        (.suicideRiskFollowUp, "EX-IV-1", [:], [], [Sample.line(3) { o, d in o["time"] = "2026-01-20T09:00:00Z"; d["assessmentId"] = "EX-IV-1-A9"; d["itemScores"] = [1, 1, 1, 1, 1, 1, 1, 1, 1] }]),
        (.wasteWitness, "EX-IV-1", [10: { _, d in d["witnessedBy"] = "u-nurse-1" }], [], []),
    ]

    @Test(arguments: brokenOnce.indices)
    func aScenarioThatBreaksOneRuleOnceGetsExactlyThatFinding(case index: Int) async throws {
        let (rule, patient, replacing, removing, appending) = Self.brokenOnce[index]
        let report = try replay(Sample.edited(replacing: replacing, removing: removing, appending: appending))
        #expect(Compliance_rules(patient, report) == [rule.rawValue], "\(rule.rawValue)")
        let finding = report.findings.first { $0.patient == patient }
        #expect(finding?.severity == rule.severity)
        #expect(finding?.message.isEmpty == false)
        #expect((finding?.sequence ?? 0) > 0)
        for clean in ["EX-IV-1", "EX-ESK-1", "EX-NASAL-1"] where clean != patient {
            #expect(Compliance_rules(clean, report).isEmpty, "\(rule.rawValue) leaked to \(clean)")
        }
    }

    @Test func aCleanIntramuscularCourseHasNoFinding() async throws {
        let im: [Int: Change] = [
            4: { _, d in d["eligibleModalities"] = ["MODALITY_KETAMINE_IM"] },
            5: { _, d in d["scope"] = "CONSENT_SCOPE_KETAMINE_IM" },
            6: { _, d in d["modality"] = "MODALITY_KETAMINE_IM" },
            9: { _, d in d["route"] = "ROUTE_IM"; d["infusionMinutes"] = nil },
            19: { _, d in d["route"] = "ROUTE_IM"; d["infusionMinutes"] = nil },
        ]
        let report = try replay(Sample.edited(replacing: im))
        #expect(Compliance_rules("EX-IV-1", report).isEmpty)
    }

    @Test func aVoidedEntryThatWouldBreakARuleGivesNoFinding() async throws {
        let sedation = Sample.line(14) { o, d in o["id"] = "unresolved-sedation"; d["sideEffectId"] = "EX-IV-1-S1-SE9"; d["kind"] = "SIDE_EFFECT_KIND_SEDATION" }
        let unvoided = try replay(Sample.edited(appending: [sedation]))
        #expect(Compliance_rules("EX-IV-1", unvoided) == ["discharge-with-unresolved-effect"])
        let void = Sample.line(14) { o, d in o["type"] = "ketamine.v1.EntryVoided"; d = ["voidedEventId": "unresolved-sedation", "reason": "recorded for the wrong patient"] }
        let voided = try replay(Sample.edited(appending: [sedation, void]))
        #expect(Compliance_rules("EX-IV-1", voided).isEmpty)
    }

    @Test func aWindowStillOpenAtTheAsOfTimeIsPendingNotBroken() async throws {
        // EX-REMS-FORM's dose, moved to a day ago, with no form yet.
        let now = Int64(Date().timeIntervalSince1970) * 1_000_000_000
        let lines = Sample.lines.indices.map { $0 + 1 }.filter { Sample.lines[$0 - 1].contains("\"subject\":\"EX-REMS-FORM\"") }
        let doseTime = ClinicalTime.parse("2026-01-21T09:30:00Z")! // its last dose
        let shift = now - ClinicalTime.day - doseTime
        func shifted(_ text: String) -> String {
            guard let time = ClinicalTime.parse(text) else { return text }
            return ClinicalTime.format(time + shift)
        }
        func shiftAll(_ value: Any) -> Any {
            if let text = value as? String { return shifted(text) }
            if let object = value as? [String: Any] { return object.mapValues(shiftAll) }
            return value
        }
        let recent = lines.map { number in
            Sample.line(number) { o, d in
                o["subject"] = "RECENT"
                o["time"] = shifted(o["time"] as? String ?? "")
                d = d.mapValues(shiftAll)
                if var name = d["familyName"] as? String { name = "RECENT"; d["familyName"] = name }
            }
        }
        let history = Sample.edited(appending: recent)
        let pending = try replay(history)
        #expect(!Compliance_rules("RECENT", pending).contains("rems-form-deadline"))
        #expect(Compliance_rules("EX-REMS-FORM", pending) == ["rems-form-deadline"])
        let later = try replay(history, asOf: .time(now + 8 * ClinicalTime.day))
        #expect(Compliance_rules("RECENT", later).contains("rems-form-deadline"))
    }

    @Test func aPolicyFileChangesAThresholdAndTheFindingsFollow() async throws {
        try withTemporaryDirectory { directory in
            let file = directory + "/policy.yaml"
            try "# this clinic asks for 7 hours of fasting\nfastingSolidFoodHours: 7\nrules:\n  prescriber-on-site: {enabled: false}\n  off-label-consent:\n    enabled: false\n".write(toFile: file, atomically: true, encoding: .utf8)
            let policy = try Policy.load(fromFile: file)
            #expect(policy.fastingSolidFoodHours == 7)
            #expect(policy.fastingClearLiquidHours == 2)
            let report = try replay(Sample.edited(), policy: policy)
            #expect(Compliance_rules("EX-IV-1", report).contains("fasting"))
            let json = directory + "/policy.json"
            try #"{"bloodPressureSystolicLimit": 130, "rules": {"prescriber-on-site": {"enabled": false}, "off-label-consent": {"enabled": false}}}"#.write(toFile: json, atomically: true, encoding: .utf8)
            let strict = try replay(Sample.edited(), policy: try Policy.load(fromFile: json))
            #expect(Compliance_rules("EX-ESK-1", strict).isEmpty)
            #expect(try Policy.load(fromFile: json).bloodPressureSystolicLimit == 130)
        }
    }

    @Test(arguments: [
        (#"{"fastingHours": 4}"#, "fastingHours is not a policy setting"),
        (#"{"fastingSolidFoodHours": "four"}"#, "fastingSolidFoodHours must be a number, 0 or more"),
        (#"{"bloodPressureSystolicLimit": 139.5}"#, "bloodPressureSystolicLimit must be a whole number"),
        (#"{"esketamineDosesMg": 56}"#, "esketamineDosesMg must be a list of numbers"),
        ("fastingSolidFoodHours four", "is not a mapping of policy settings to values"),
        ("fastingSolidFoodHours: [4, 5", "is not valid YAML or JSON"),
    ])
    func aBadPolicyFileIsRefusedNamingTheKey(text: String, complaint: String) throws {
        try withTemporaryDirectory { directory in
            let file = directory + "/policy"
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            let error = #expect(throws: PolicyError.self) { try Policy.load(fromFile: file) }
            #expect(error?.description.contains(complaint) == true, "\(error?.description ?? "")")
        }
    }

    @Test func aDamagedLogGivesAnIntegrityFinding() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/store"
            do {
                let store = try PatientRecordStore.open(at: path, durable: false)
                try store.importEvents(fromFile: Sample.path)
                store.close()
            }
            // One byte flipped inside the payload of sequence 40, underneath the store.
            try damageRecord(40, inStoreAt: path) { $0[$0.count - 3] ^= 0x20 }
            let store = try PatientRecordStore.open(at: path, readOnly: true)
            let report = try ComplianceReplay.run(store)
            let integrity = report.findings.filter { $0.rule == .integrity }
            #expect(integrity.count == 1)
            #expect(integrity.first?.sequence == 40)
            #expect(report.eventsReplayed == 39)
            #expect(report.hasErrors)
        }
    }
}

struct SettlingTests {
    /// Sessions judged as each patient's record moves on give the findings that judging
    /// everything at the end gives, on long generated histories.
    @Test func judgingSessionsAsTheRecordMovesOnChangesNoFinding() throws {
        try withTemporaryDirectory { directory in
            let store = try PatientRecordStore.open(at: directory + "/store", durable: false)
            defer { store.close() }
            var generator = ClinicGenerator(seed: 11, patients: 8, months: 18, ruleBreakingShare: 0.2)
            generator.maintenance = true
            try store.importEvents(generator.allEvents())
            var atTheEnd = Policy()
            atTheEnd.sessionSettlingDays = 100_000
            let settled = try ComplianceReplay.run(store)
            let whole = try ComplianceReplay.run(store, policy: atTheEnd)
            #expect(settled.findings.count > 20)
            #expect(Set(settled.summary.keys).count > 8)
            #expect(settled.findings == whole.findings)
        }
    }
}

// A free function keeps the table of cases above short.
func Compliance_rules(_ patient: String, _ report: ComplianceReport) -> [String] {
    rules(of: patient, in: report)
}
