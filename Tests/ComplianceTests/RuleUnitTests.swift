import ClinicGenerator
import ClinicalRecord
@testable import Compliance
import Foundation
import TestSupport
import Testing

/// The rule book is a list of rules, one small type each: every rule of the catalogue is one
/// unit in it, and switching one off in the policy removes its findings and nothing else.
struct RuleUnitTests {
    @Test func everyRuleOfTheCatalogueIsOneUnitOfTheRuleBook() {
        let units = RuleBook.allDoseRules.map(\.rule) + RuleBook.allAssessmentRules.map(\.rule) + RuleBook.allWasteRules.map(\.rule)
        #expect(units.count == Set(units).count, "a rule is judged by two units")
        // The hash chain's integrity is found by the replay itself, not judged per dose.
        #expect(Set(units) == Set(Rule.allCases).subtracting([.integrity]))
        #expect(Rule.allCases.count == 34)
    }

    @Test func eachRuleSwitchedOffAloneRemovesItsFindingsAndNothingElse() throws {
        try withTemporaryDirectory { directory in
            let store = try PatientRecordStore.open(at: directory + "/store", durable: false)
            defer { store.close() }
            // A history that breaks most rules somewhere: a third of its sessions break one.
            let generator = ClinicGenerator(seed: 11, patients: 40, months: 9, ruleBreakingShare: 0.35)
            try store.importEvents(generator.allEvents())
            let asOf = AsOf.time(generator.start + 3 * 365 * ClinicalTime.day)
            let full = try ComplianceReplay.run(store, asOf: asOf)
            let reported = Set(full.findings.map(\.rule))
            #expect(reported.count >= 25, "the history breaks \(reported.count) rules")
            for rule in Rule.allCases where rule != .integrity {
                var policy = Policy()
                policy.rules[rule.rawValue] = Policy.RuleSetting(enabled: false)
                let without = try ComplianceReplay.run(store, asOf: asOf, policy: policy)
                #expect(without.findings == full.findings.filter { $0.rule != rule }, "switching off \(rule.rawValue)")
            }
        }
    }
}
