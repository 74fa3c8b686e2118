@_spi(RawRecords) import ClinicalRecord
import ClinicGenerator
import Compliance
import EventStore
import Foundation
import TestSupport
import Testing

/// The generator against the rules (version 2, shipped policy): clean histories break nothing;
/// each of the 33 clinical rules, broken at one session of a clean history, is the only rule
/// the replay reports; the default share breaks each rule now and then in about 4% of sessions.
@Suite(.serialized)
struct GeneratedHistoryTests {
    static func report(_ generator: ClinicGenerator, policy: Policy = Policy()) throws -> ComplianceReport {
        try withTemporaryDirectory { directory in
            let store = try PatientRecordStore.open(at: directory + "/store", durable: false)
            defer { store.close() }
            try store.importEvents(generator.allEvents())
            // Judged after every window has closed.
            return try ComplianceReplay.run(store, asOf: .time(generator.start + 3 * 365 * ClinicalTime.day), policy: policy)
        }
    }

    @Test func aCleanHistoryBreaksNoRule() throws {
        var generator = ClinicGenerator(seed: 7, patients: 48, months: 9, ruleBreakingShare: 0)
        generator.maintenance = true
        let report = try Self.report(generator)
        #expect(report.eventsReplayed > 5_000)
        #expect(report.findings.isEmpty, "\(report.findings.prefix(5).map { "\($0.patient) \($0.rule.rawValue): \($0.message)" })")
    }

    /// The modality of generated patient `index`: IV, esketamine, IM, nasal ketamine in turn.
    static func patient(for violation: ClinicGenerator.Violation) -> Int {
        switch violation {
        case .remsEnrollment, .remsFormDeadline, .esketamineVitals, .dosePlanMismatch, .esketamineSetting, .prescriberOnSite: 1
        case .infusionDuration, .wasteWitness, .wasteReconciliation, .doseRange, .offLabelConsent: 0
        default: 2
        }
    }

    @Test(arguments: ClinicGenerator.breakableRules)
    func eachRuleBrokenOnceInACleanHistoryIsTheOnlyFinding(violation: ClinicGenerator.Violation) throws {
        let patient = Self.patient(for: violation)
        // Registered on the first day, so that the course fits the period.
        var generator = ClinicGenerator(seed: 5, patients: patient + 1, months: 4, ruleBreakingShare: 0)
        let session = violation.atIntake || violation == .sessionFrequency ? 1 : violation == .measurementBasedCare ? 3 : 2
        generator.forced = (violation, session)
        let report = try Self.report(generator)
        let id = ClinicGenerator.patientId(patient)
        let findings = report.findings.filter { $0.patient == id }
        let doses = generator.events(forPatient: patient).filter { $0.message is Ketamine_V1_DoseAdministered }.count
        #expect(doses >= 3, "the patient's course is too short to show the rule")
        #expect(Set(report.findings.map(\.rule.rawValue)) == [violation.rawValue],
                "\(report.findings.map { "\($0.patient) \($0.rule.rawValue): \($0.message)" })")
        #expect(findings.count == 1, "\(findings.map(\.message))")
    }

    @Test func theDefaultShareBreaksEveryRuleNowAndThenInAFewSessions() throws {
        var generator = ClinicGenerator(seed: 2026, patients: 500, months: 8)
        generator.maintenance = true
        let report = try Self.report(generator)
        let sessions = generator.allEvents().filter { $0.message is Ketamine_V1_DoseAdministered }.count
        let broken = Set(report.findings.compactMap(\.session)).count
        let share = Double(broken) / Double(sessions)
        #expect(share > 0.025 && share < 0.07, "\(broken) of \(sessions) sessions break a rule")
        let rules = Set(report.findings.map(\.rule.rawValue))
        let missing = Set(ClinicGenerator.breakableRules.map(\.rawValue)).subtracting(rules)
        #expect(missing.isEmpty, "never broken: \(missing.sorted())")
    }
}
