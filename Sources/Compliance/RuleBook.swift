import ClinicalRecord
import EventStore
import Foundation

/// A rule judged once for each dose, when its session has settled. It sees the dose, its
/// session, the patient's record so far, and where the dose stands in its plan.
protocol DoseRule: Sendable {
    var rule: Rule { get }
    func judge(_ dose: DoseContext, _ findings: inout Findings)
}

/// A rule judged once for each assessment, when it has settled.
protocol AssessmentRule: Sendable {
    var rule: Rule { get }
    func judge(_ assessment: AssessmentContext, _ findings: inout Findings)
}

/// A rule judged once for each controlled-substance waste, when its session has settled.
protocol WasteRule: Sendable {
    var rule: Rule { get }
    func judge(_ waste: WasteContext, _ findings: inout Findings)
}

/// The findings of one judgement, each under the rule that reports it.
struct Findings {
    fileprivate(set) var list: [PendingFinding] = []
    fileprivate var rule: Rule = .integrity
    fileprivate var session: String?
    fileprivate var sequence: UInt64 = 0

    /// A finding of the current rule on the subject (the dose, assessment or waste), or on
    /// another event of it (`at`: a pre-session check, a reading, a discharge).
    ///
    /// - Parameter once: a finding with the same key of the same rule is reported only the first
    ///   time (a consent that several doses rely on, a dose beyond a weekly limit seen from
    ///   several windows).
    mutating func report(_ message: String, at sequence: UInt64? = nil, session: String? = nil, once key: String? = nil) {
        list.append(PendingFinding(rule: rule, session: session ?? self.session, sequence: sequence ?? self.sequence, message: message, onceKey: key))
    }
}

struct DoseContext {
    let dose: DoseFact
    let session: SessionFacts
    let facts: PatientFacts
    let policy: Policy
    let judgedAt: Int64
    /// The dose's plan, when it names one the patient has.
    let plan: PlanFact?
    let isFirstDoseOfPlan: Bool
    let isFirstEsketamine: Bool
    /// The dose's place among its plan's doses by start time (1 for the first).
    let positionInPlan: Int
    /// The plan's doses from this one on, within a frequency window of it (this one first).
    let planDosesFromHere: [DoseFact]
    /// Whether this is the session's first dose (by start).
    let isFirstDoseOfSession: Bool

    /// The latest pre-session check of the session at or before the dose.
    let check: CheckFact?
    /// The session's first discharge (by time).
    let firstDischarge: DischargeFact?
    /// The consents in force at the dose whose scope matches its drug and route.
    let matchingConsents: [ConsentFact]

    var startedAt: Int64 { dose.startedAt }

    init(dose: DoseFact, session: SessionFacts, facts: PatientFacts, policy: Policy, judgedAt: Int64, plan: PlanFact?,
         isFirstDoseOfPlan: Bool, isFirstEsketamine: Bool, positionInPlan: Int, planDosesFromHere: [DoseFact], isFirstDoseOfSession: Bool) {
        self.dose = dose
        self.session = session
        self.facts = facts
        self.policy = policy
        self.judgedAt = judgedAt
        self.plan = plan
        self.isFirstDoseOfPlan = isFirstDoseOfPlan
        self.isFirstEsketamine = isFirstEsketamine
        self.positionInPlan = positionInPlan
        self.planDosesFromHere = planDosesFromHere
        self.isFirstDoseOfSession = isFirstDoseOfSession
        let startedAt = dose.startedAt
        check = session.checks.filter { $0.time <= startedAt }.max { ($0.time, $0.sequence) < ($1.time, $1.sequence) }
        firstDischarge = session.discharges.min { ($0.dischargedAt, $0.sequence) < ($1.dischargedAt, $1.sequence) }
        let scope: Ketamine_V1_ConsentScope = switch dose.modality {
        case .ketamineIv: .ketamineIv
        case .ketamineIm: .ketamineIm
        case .esketamineNasal: .esketamineNasal
        default: .ketamineNasal
        }
        matchingConsents = facts.consents.filter { $0.scope == scope && $0.inForce(at: startedAt) }
    }
}

struct AssessmentContext {
    let assessment: AssessmentFact
    let facts: PatientFacts
    let policy: Policy
    let judgedAt: Int64
}

struct WasteContext {
    let waste: WasteFact
    let session: SessionFacts
    let policy: Policy
}

/// The rules in force for one replay (the policy may switch any off), and how they are judged.
struct RuleBook: Sendable {
    let policy: Policy
    let judgedAt: Int64
    /// The rules switched on, each with the time from which it judges.
    let doseRules: [(rule: any DoseRule, from: Int64)]
    let assessmentRules: [(rule: any AssessmentRule, from: Int64)]
    let wasteRules: [(rule: any WasteRule, from: Int64)]

    /// Every rule, in the order of docs/COMPLIANCE.md's table.
    static let allDoseRules: [any DoseRule] = [
        ConsentBeforeDose(), EvaluationBeforeFirstDose(), BaselineAssessment(), MedicalHistoryBeforeDose(),
        Contraindication(), SubstanceUseDisorder(), InteractingMedication(), MinimumAge(), PreSessionCheckMissing(),
        Fasting(), Escort(), BloodPressureThreshold(), DosePlanMismatch(), DoseRange(), InfusionDuration(),
        DoseBeforeRiskEvaluation(), EsketamineVitals(), PostDoseVitalsAlert(), DischargeVitals(), MonitoringDuration(),
        DischargeWithUnresolvedEffect(), DischargeReadiness(), DrivingAdvice(), EsketamineSetting(),
        PrescriberOnSite(), RemsEnrollment(), RemsFormDeadline(), OffLabelConsent(), SessionFrequency(), MeasurementBasedCare(),
    ]
    static let allAssessmentRules: [any AssessmentRule] = [SuicideRiskFollowUp()]
    static let allWasteRules: [any WasteRule] = [WasteWitness(), WasteReconciliation()]

    init(policy: Policy, judgedAt: Int64) {
        self.policy = policy
        self.judgedAt = judgedAt
        doseRules = Self.allDoseRules.filter { policy.enables($0.rule) }.map { ($0, policy.effectiveFrom($0.rule)) }
        assessmentRules = Self.allAssessmentRules.filter { policy.enables($0.rule) }.map { ($0, policy.effectiveFrom($0.rule)) }
        wasteRules = Self.allWasteRules.filter { policy.enables($0.rule) }.map { ($0, policy.effectiveFrom($0.rule)) }
        settlingWindow = Self.window(policy)
        evaluationWindow = Self.nanoseconds(days: policy.evaluationValidDays) + Self.nanoseconds(days: policy.suicideRiskFollowUpDays)
        assessmentWindow = Self.nanoseconds(days: max(policy.baselineAssessmentDays, policy.measurementBasedCareWindowDays))
        frequencyWindow = Self.nanoseconds(hours: policy.sessionFrequencyWindowHours)
    }

    /// How far past a dose (or an assessment, a waste) the patient's record must move before it
    /// is judged: at least every window a rule waits for, and the policy's settling time.
    let settlingWindow: Int64
    /// How long before a first dose an evaluation counts (and a risk flag waits for one).
    let evaluationWindow: Int64
    /// How long before a dose an assessment counts (as a baseline, or for measurement-based care).
    let assessmentWindow: Int64
    let frequencyWindow: Int64

    static func nanoseconds(hours: Double) -> Int64 { Int64((hours * 3_600_000_000_000).rounded()) }
    static func nanoseconds(minutes: Double) -> Int64 { Int64((minutes * 60_000_000_000).rounded()) }
    static func nanoseconds(days: Double) -> Int64 { nanoseconds(hours: min(days, 100_000_000) * 24) }

    private static func window(_ policy: Policy) -> Int64 {
        [nanoseconds(days: min(policy.sessionSettlingDays, 100_000)), nanoseconds(hours: policy.remsFormDeadlineHours),
         nanoseconds(hours: policy.sessionFrequencyWindowHours), nanoseconds(days: policy.suicideRiskFollowUpDays),
         nanoseconds(days: policy.measurementBasedCareWindowDays),
         nanoseconds(minutes: max(policy.esketaminePostDoseVitalsToMinutes, policy.intranasalMonitoringMinutes,
                                  policy.injectionMonitoringMinutes, policy.infusionMonitoringMinutes + 600))].max() ?? 0
    }

    func judge(_ context: DoseContext) -> [PendingFinding] {
        var findings = Findings()
        findings.session = context.dose.session
        findings.sequence = context.dose.sequence
        for (rule, from) in doseRules where context.startedAt >= from {
            findings.rule = rule.rule
            rule.judge(context, &findings)
        }
        return findings.list
    }

    func judge(_ context: AssessmentContext) -> [PendingFinding] {
        var findings = Findings()
        findings.session = context.assessment.session
        findings.sequence = context.assessment.sequence
        for (rule, from) in assessmentRules where context.assessment.time >= from {
            findings.rule = rule.rule
            rule.judge(context, &findings)
        }
        return findings.list
    }

    func judge(_ context: WasteContext) -> [PendingFinding] {
        var findings = Findings()
        findings.session = context.session.id
        findings.sequence = context.waste.sequence
        for (rule, from) in wasteRules where context.waste.time >= from {
            findings.rule = rule.rule
            rule.judge(context, &findings)
        }
        return findings.list
    }
}

extension PatientFacts {
    /// Judges the doses that started before `cutoff`, their sessions' wastes, and the
    /// assessments before it, then drops what no later judgement needs.
    mutating func settle(before cutoff: Int64, book: RuleBook) {
        doses.sort { ($0.startedAt, $0.sequence) < ($1.startedAt, $1.sequence) }
        let due = doses.prefix { $0.startedAt < cutoff }
        var touched = Set<String>()
        for (offset, dose) in due.enumerated() {
            let key = Array(dose.session.utf8)
            guard let session = key.withUnsafeBytes({ sessions[$0] }) else { continue }
            let planIndex = Array(dose.plan.utf8).withUnsafeBytes { self.planIndex[$0] }
            var plan = planIndex.map { plans[$0] }
            let isFirstDoseOfPlan = plansDosed.insert(dose.plan).inserted
            let isFirstEsketamine = dose.drug == .esketamine && !esketamineDosed
            if dose.drug == .esketamine { esketamineDosed = true }
            var starts: [DoseFact] = []
            if var known = plan {
                known.dosesJudged += 1
                plan = known
                // Every later dose of the plan within a window of this one is known by now: a
                // dose is judged only once the record is a settling window past it.
                starts = doses[(due.startIndex + offset)...].filter { $0.plan == dose.plan && $0.startedAt < dose.startedAt + book.frequencyWindow }
            }
            let isFirstOfSession = session.judgedDoses == 0
            let context = DoseContext(
                dose: dose, session: session, facts: self, policy: book.policy, judgedAt: book.judgedAt, plan: plan,
                isFirstDoseOfPlan: isFirstDoseOfPlan, isFirstEsketamine: isFirstEsketamine, positionInPlan: plan?.dosesJudged ?? 0,
                planDosesFromHere: starts, isFirstDoseOfSession: isFirstOfSession)
            findings += book.judge(context)
            if let planIndex, let plan { plans[planIndex] = plan }
            touched.insert(dose.session)
            key.withUnsafeBytes { key in
                sessions.modify(key, default: session) { updated in
                    updated.pendingDoses -= 1
                    updated.judgedDoses += 1
                }
            }
        }
        doses.removeFirst(due.count)

        // Sessions with nothing pending: judged now (their wastes) and dropped, when they had a
        // dose just judged or nothing has happened to them for a settling window.
        var kept: [[UInt8]] = []
        for key in sessionKeys {
            guard let session = key.withUnsafeBytes({ sessions[$0] }) else { continue }
            let done = session.pendingDoses == 0 && (touched.contains(session.id) || session.lastActivity < cutoff)
            guard done else {
                kept.append(key)
                continue
            }
            for waste in session.wastes {
                findings += book.judge(WasteContext(waste: waste, session: session, policy: book.policy))
            }
            for effect in session.sideEffects { effect.id.withUnsafeBytes { resolutions.remove($0) } }
            key.withUnsafeBytes { sessions.remove($0) }
        }
        sessionKeys = kept

        // Assessments before the cutoff: their follow-up is judged once.
        let judged = assessments[judgedAssessments...].filter { $0.time < cutoff }
        if !judged.isEmpty {
            for assessment in judged {
                findings += book.judge(AssessmentContext(assessment: assessment, facts: self, policy: book.policy, judgedAt: book.judgedAt))
            }
            let pending = assessments[judgedAssessments...].filter { $0.time >= cutoff }
            assessments = Array(assessments[..<judgedAssessments]) + judged + pending
            judgedAssessments += judged.count
        }
        prune(before: cutoff, book: book)
        pendingSince = min(
            doses.first?.startedAt ?? .max,
            assessments[judgedAssessments...].map(\.time).min() ?? .max,
            sessionKeys.compactMap { key in key.withUnsafeBytes { sessions[$0] }?.wastes.map(\.time).min() }.min() ?? .max)
    }

    /// Judges everything still open (the end of the replay).
    mutating func settleAll(book: RuleBook) {
        settle(before: .max, book: book)
    }

    /// Drops context no session after `cutoff` can need.
    private mutating func prune(before cutoff: Int64, book: RuleBook) {
        guard cutoff != .max else { return }
        // Evaluations: a first dose looks back a year; a risk flag waits for one after it.
        let screened = assessments.filter { $0.instrument == .cssrsScreener }.map(\.time).min() ?? .max
        evaluations.removeAll { $0.time < cutoff - book.evaluationWindow && $0.time < screened }
        // Histories: the latest at or before the cutoff, and every later one; medication
        // changes from that history on.
        if let latest = history(at: cutoff) {
            histories.removeAll { ($0.time, $0.sequence) < (latest.time, latest.sequence) }
            medicationChanges.removeAll { ($0.time, $0.sequence) < (latest.time, latest.sequence) }
        }
        // Judged assessments stay while a later dose may use them (a baseline, measurement-based
        // care), and a high-risk screener until an evaluation after it clears later doses.
        let judged = assessments.prefix(judgedAssessments)
        let kept = judged.filter { assessment in
            if assessment.time >= cutoff - book.assessmentWindow && assessment.measuresDepression { return true }
            guard assessment.instrument == .cssrsScreener, book.policy.riskEvaluationCssrsLevels.contains(assessment.riskLevel ?? "") else { return false }
            return !evaluations.contains { $0.time >= assessment.time && $0.time <= cutoff }
        }
        assessments.replaceSubrange(0..<judgedAssessments, with: kept)
        judgedAssessments = kept.count
    }
}
