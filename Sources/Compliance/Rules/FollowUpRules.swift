import ClinicalRecord
import EventStore
import Foundation

// Rules judged on an assessment or on a waste rather than on a dose.

/// `suicide-risk-follow-up`: a suicide risk flag is followed by a psychiatric evaluation within 2 days.
struct SuicideRiskFollowUp: AssessmentRule {
    var rule: Rule { .suicideRiskFollowUp }
    func judge(_ a: AssessmentContext, _ findings: inout Findings) {
        let assessment = a.assessment, policy = a.policy
        let flag: String? = switch assessment.instrument {
        case .phq9 where assessment.suicideItem > policy.suicideRiskPhq9Item9Above: "PHQ-9 item 9 was \(assessment.suicideItem)"
        case .madrs where assessment.suicideItem >= policy.suicideRiskMadrsItem10AtLeast: "MADRS item 10 was \(assessment.suicideItem)"
        case .qidsSr16 where assessment.suicideItem >= policy.suicideRiskQidsItem12AtLeast: "QIDS-SR16 item 12 was \(assessment.suicideItem)"
        case .cssrsScreener where policy.suicideRiskCssrsLevels.contains(assessment.riskLevel ?? ""): "the C-SSRS screener showed \(assessment.riskLevel ?? "") risk"
        default: nil
        }
        guard let flag else { return }
        let deadline = assessment.time + RuleBook.nanoseconds(days: policy.suicideRiskFollowUpDays)
        // An evaluation from the flag to the deadline (both ends); pending until the deadline.
        let followed = a.facts.evaluations.contains { $0.time >= assessment.time && $0.time <= deadline }
        guard !followed, a.judgedAt > deadline else { return }
        findings.report("At \(Wording.time(assessment.time)) \(flag), with no psychiatric evaluation within \(Wording.hours(policy.suicideRiskFollowUpDays * 24)).")
    }
}

/// `waste-witness`: controlled-substance waste is witnessed by someone other than its recorder.
struct WasteWitness: WasteRule {
    var rule: Rule { .wasteWitness }
    func judge(_ w: WasteContext, _ findings: inout Findings) {
        guard w.waste.witnessedByRecorder else { return }
        findings.report("The waste of \(Wording.number(w.waste.amountMg)) mg was witnessed by \(w.waste.recorder), who recorded it; a second person must witness it.")
    }
}

/// `waste-reconciliation`: a waste is of the drug and lot of a dose of its session.
struct WasteReconciliation: WasteRule {
    var rule: Rule { .wasteReconciliation }
    func judge(_ w: WasteContext, _ findings: inout Findings) {
        let waste = w.waste
        guard !w.session.doses.contains(where: { $0.drug == waste.drug && $0.lot == waste.lot }) else { return }
        let lot = String(decoding: waste.lot, as: UTF8.self)
        findings.report(w.session.doses.isEmpty
            ? "\(Wording.number(waste.amountMg)) mg of \(waste.drug.label) (lot \(lot)) was wasted for session \(w.session.id), which has no dose on record."
            : "\(Wording.number(waste.amountMg)) mg of \(waste.drug.label) (lot \(lot)) was wasted for session \(w.session.id), but no dose of that session was of that drug and lot.")
    }
}
