import ClinicalRecord
import EventStore
import Foundation

// Before a patient is dosed: consent, evaluation, baseline, history, contraindications, risk.

/// `consent-before-dose`: a consent whose scope matches the dose, signed before it, in force.
struct ConsentBeforeDose: DoseRule {
    var rule: Rule { .consentBeforeDose }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.matchingConsents.isEmpty else { return }
        findings.report("The \(Wording.scope(d.dose.modality)) dose at \(Wording.time(d.startedAt)) had no \(Wording.scope(d.dose.modality)) consent signed before it and still in force.")
    }
}

/// `off-label-consent`: racemic ketamine is off-label for mood disorders; its consent says so.
struct OffLabelConsent: DoseRule {
    var rule: Rule { .offLabelConsent }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.dose.isRacemicKetamine else { return }
        let consents = d.matchingConsents
        // With no matching consent, consent-before-dose is what is broken.
        guard !consents.isEmpty, !consents.contains(where: \.offLabelAcknowledged) else { return }
        // One finding per consent, at the first dose that relied on it.
        let names = consents.map { String(decoding: $0.id, as: UTF8.self) }.sorted()
        findings.report("The \(Wording.scope(d.dose.modality)) dose at \(Wording.time(d.startedAt)) relies on consent \(Wording.list(names)), which does not record that the patient was told racemic ketamine is not approved for psychiatric use.",
                        once: names.joined(separator: "\u{0}"))
    }
}

/// `evaluation-before-first-dose`: an eligible psychiatric evaluation for the plan's modality,
/// within a year before the plan's first dose.
struct EvaluationBeforeFirstDose: DoseRule {
    var rule: Rule { .evaluationBeforeFirstDose }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.isFirstDoseOfPlan else { return }
        let modality = d.plan?.modality
        let oldest = d.startedAt - RuleBook.nanoseconds(days: d.policy.evaluationValidDays)
        let evaluated = d.facts.evaluations.contains { e in
            e.time <= d.startedAt && e.time >= oldest && e.eligible && (modality.map { e.modalities.contains($0) } ?? false)
        }
        guard !evaluated else { return }
        findings.report("The first dose of plan \(d.dose.plan) at \(Wording.time(d.startedAt)) had no psychiatric evaluation within \(Wording.number(d.policy.evaluationValidDays)) days before it finding the patient eligible for \(modality.map(Wording.scope) ?? "its modality").")
    }
}

/// `baseline-assessment`: a depression score in the month before a plan's first dose.
struct BaselineAssessment: DoseRule {
    var rule: Rule { .baselineAssessment }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.isFirstDoseOfPlan else { return }
        let oldest = d.startedAt - RuleBook.nanoseconds(days: d.policy.baselineAssessmentDays)
        guard !d.facts.assessments.contains(where: { $0.measuresDepression && $0.time <= d.startedAt && $0.time >= oldest }) else { return }
        findings.report("The first dose of plan \(d.dose.plan) had no PHQ-9, MADRS or QIDS-SR16 assessment in the \(Wording.number(d.policy.baselineAssessmentDays)) days before it.")
    }
}

/// `medical-history-before-dose`: some medical history on record before any dose.
struct MedicalHistoryBeforeDose: DoseRule {
    var rule: Rule { .medicalHistoryBeforeDose }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.facts.history(at: d.startedAt) == nil else { return }
        findings.report("The dose at \(Wording.time(d.startedAt)) was given with no medical history recorded before it.")
    }
}

/// `contraindication`: the latest history before the dose flags a contraindication (for every drug).
struct Contraindication: DoseRule {
    var rule: Rule { .contraindication }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard let history = d.facts.history(at: d.startedAt) else { return }
        var flags: [String] = []
        if history.psychosis { flags.append("a history of psychosis") }
        if history.pregnant { flags.append("pregnancy") }
        if history.uncontrolledHypertension { flags.append("uncontrolled hypertension") }
        if history.aneurysmal { flags.append("aneurysmal vascular disease") }
        if history.arteriovenous { flags.append("an arteriovenous malformation") }
        if history.intracerebralHemorrhage { flags.append("a history of intracerebral hemorrhage") }
        if history.hypersensitivity { flags.append("hypersensitivity to ketamine or esketamine") }
        guard !flags.isEmpty else { return }
        findings.report("A dose was given at \(Wording.time(d.startedAt)) while the medical history recorded \(Wording.list(flags)).")
    }
}

/// `substance-use-disorder`: a plan started while the history flags a substance use disorder.
struct SubstanceUseDisorder: DoseRule {
    var rule: Rule { .substanceUseDisorder }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.isFirstDoseOfPlan, let history = d.facts.history(at: d.startedAt), history.substanceUse else { return }
        findings.report("Plan \(d.dose.plan) started at \(Wording.time(d.startedAt)) while the medical history recorded a substance use disorder.")
    }
}

/// `interacting-medication`: a plan started while a current medication's class interacts
/// (one finding per plan and medication).
struct InteractingMedication: DoseRule {
    var rule: Rule { .interactingMedication }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.isFirstDoseOfPlan, let history = d.facts.history(at: d.startedAt) else { return }
        // The history's list, changed by later changes up to the dose, in clinical time order.
        var current: [(key: String, name: String, medicationClass: Ketamine_V1_MedicationClass)] = history.medications
        let changes = d.facts.medicationChanges
            .filter { ($0.time, $0.sequence) > (history.time, history.sequence) && $0.time <= d.startedAt }
            .sorted { ($0.time, $0.sequence) < ($1.time, $1.sequence) }
        for change in changes {
            let index = current.firstIndex { $0.key == change.key }
            switch change.change {
            case .started, .doseChanged:
                if let index { current[index].medicationClass = change.medicationClass } else { current.append((change.key, change.name, change.medicationClass)) }
            case .stopped:
                if let index { current.remove(at: index) }
            case .tapering:
                if let index { current[index].medicationClass = change.medicationClass }
            case .unspecified, .UNRECOGNIZED:
                break
            }
        }
        var seen = Set<String>()
        for medication in current where d.policy.interactingMedicationClasses.contains(medication.medicationClass.label) && seen.insert(medication.key).inserted {
            findings.report("Plan \(d.dose.plan) started at \(Wording.time(d.startedAt)) while the patient took \(medication.name) (\(medication.medicationClass.label.replacingOccurrences(of: "_", with: " "))), which interacts with ketamine.")
        }
    }
}

/// `minimum-age`: no dose to a patient younger than 18 on the dose's date.
struct MinimumAge: DoseRule {
    var rule: Rule { .minimumAge }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard let born = d.facts.born, let age = PatientState.age(born: born, at: d.startedAt), age < d.policy.minimumAgeYears else { return }
        findings.report("The patient was \(age) years old at the dose on \(Wording.time(d.startedAt)); the policy asks for \(d.policy.minimumAgeYears) or older.")
    }
}

/// `dose-before-risk-evaluation`: after a high-risk C-SSRS screener, no dose until a psychiatric
/// evaluation after it.
struct DoseBeforeRiskEvaluation: DoseRule {
    var rule: Rule { .doseBeforeRiskEvaluation }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        let levels = d.policy.riskEvaluationCssrsLevels
        let screeners = d.facts.assessments.filter { $0.instrument == .cssrsScreener && levels.contains($0.riskLevel ?? "") && $0.time <= d.startedAt }
        guard let uncleared = screeners.filter({ s in !d.facts.evaluations.contains { $0.time >= s.time && $0.time <= d.startedAt } }).max(by: { $0.time < $1.time }) else { return }
        findings.report("The dose at \(Wording.time(d.startedAt)) followed a C-SSRS screener of \(uncleared.riskLevel ?? "high") risk at \(Wording.time(uncleared.time)) with no psychiatric evaluation after the screener.")
    }
}
