import ClinicalRecord
import SwiftProtobuf

/// One event a rule looks at: its message, where it is in the log, and its clinical time.
struct Fact<Message: SwiftProtobuf.Message> {
    let message: Message
    let eventId: String
    let sequence: UInt64
    let actorId: String
    /// The CloudEvents `time`.
    let time: Int64
}

/// What the rules need of one patient's record, folded event by event during the replay.
///
/// Sessions are judged as the patient's record moves on: once the patient's clinical clock (the
/// latest event time seen) is a settling window past a dose, that session is judged and its
/// facts dropped; assessments likewise. What is kept for the patient's whole record is small
/// (consents, plans, enrollments, the latest history and evaluations). So replay memory follows
/// the number of patients, not the length of their histories.
struct PatientFacts {
    // Kept for the patient's record (few of each).
    var consents: [Fact<Ketamine_V1_ConsentGiven>] = []
    var withdrawals: [String: [Int64]] = [:]
    var evaluations: [Fact<Ketamine_V1_EvaluationCompleted>] = []
    var histories: [Fact<Ketamine_V1_MedicalHistoryRecorded>] = []
    var remsEnrollments: [Int64] = []
    var plans: [String: Ketamine_V1_TreatmentPlanned] = [:]

    // Assessments not yet judged, and judged ones still inside the baseline window.
    var assessments: [Fact<Ketamine_V1_AssessmentRecorded>] = []
    var judgedAssessments = 0

    // Sessions not yet judged.
    var doses: [Fact<Ketamine_V1_DoseAdministered>] = []
    var checks: [String: [Fact<Ketamine_V1_PreSessionCheckRecorded>]] = [:]
    var vitals: [String: [Int64]] = [:]
    var sideEffects: [String: [Ketamine_V1_SideEffectObserved]] = [:]
    var resolutions: [String: [Int64]] = [:]
    var discharges: [String: [Fact<Ketamine_V1_PatientDischarged>]] = [:]
    var remsForms: [String: [Int64]] = [:]

    // What judging earlier sessions left behind.
    /// Plans whose first dose has been judged.
    var plansDosed = Set<String>()
    var esketamineDosed = false
    /// Pending doses already reported as over a plan's weekly limit.
    var frequencyReported = Set<String>()

    /// The latest clinical time among the patient's events.
    var clock: Int64 = .min
    var findings: [Finding] = []

    static let types: Set<ClinicalEventType> = [
        .doseAdministered, .preSessionCheckRecorded, .consentGiven, .consentWithdrawn, .evaluationCompleted,
        .assessmentRecorded, .medicalHistoryRecorded, .remsEnrolled, .treatmentPlanned, .vitalsRecorded,
        .sideEffectObserved, .sideEffectResolved, .patientDischarged, .remsMonitoringFormSubmitted, .drugWasted,
    ]

    /// Adds one (not voided) event; `rules` judges the wastes at once.
    mutating func add(_ event: ClinicalEvent, patient: String, rules: RuleBook) {
        func fact<M: SwiftProtobuf.Message>(_ message: M) -> Fact<M> {
            Fact(message: message, eventId: event.id, sequence: event.sequence, actorId: event.actorId, time: event.time)
        }
        clock = max(clock, event.time)
        switch event.type {
        case .doseAdministered:
            guard let m = event.message as? Ketamine_V1_DoseAdministered else { break }
            doses.append(fact(m))
            clock = max(clock, m.startedAt.nanosecondsSince1970)
        case .preSessionCheckRecorded:
            guard let m = event.message as? Ketamine_V1_PreSessionCheckRecorded else { break }
            checks[m.sessionID, default: []].append(fact(m))
        case .consentGiven:
            guard let m = event.message as? Ketamine_V1_ConsentGiven else { break }
            consents.append(fact(m))
        case .consentWithdrawn:
            guard let m = event.message as? Ketamine_V1_ConsentWithdrawn else { break }
            withdrawals[m.consentID, default: []].append(event.time)
        case .evaluationCompleted:
            guard let m = event.message as? Ketamine_V1_EvaluationCompleted else { break }
            evaluations.append(fact(m))
        case .assessmentRecorded:
            guard let m = event.message as? Ketamine_V1_AssessmentRecorded else { break }
            assessments.append(fact(m))
        case .medicalHistoryRecorded:
            guard let m = event.message as? Ketamine_V1_MedicalHistoryRecorded else { break }
            histories.append(fact(m))
        case .remsEnrolled:
            guard let m = event.message as? Ketamine_V1_RemsEnrolled else { break }
            remsEnrollments.append(m.enrolledAt.nanosecondsSince1970)
        case .treatmentPlanned:
            guard let m = event.message as? Ketamine_V1_TreatmentPlanned else { break }
            plans[m.planID] = m
        case .vitalsRecorded:
            guard let m = event.message as? Ketamine_V1_VitalsRecorded else { break }
            vitals[m.sessionID, default: []].append(m.measuredAt.nanosecondsSince1970)
        case .sideEffectObserved:
            guard let m = event.message as? Ketamine_V1_SideEffectObserved, m.hasSessionID else { break }
            sideEffects[m.sessionID, default: []].append(m)
        case .sideEffectResolved:
            guard let m = event.message as? Ketamine_V1_SideEffectResolved else { break }
            resolutions[m.sideEffectID, default: []].append(m.resolvedAt.nanosecondsSince1970)
        case .patientDischarged:
            guard let m = event.message as? Ketamine_V1_PatientDischarged else { break }
            discharges[m.sessionID, default: []].append(fact(m))
        case .remsMonitoringFormSubmitted:
            guard let m = event.message as? Ketamine_V1_RemsMonitoringFormSubmitted else { break }
            remsForms[m.sessionID, default: []].append(m.submittedAt.nanosecondsSince1970)
        case .drugWasted:
            guard let m = event.message as? Ketamine_V1_DrugWasted else { break }
            findings += rules.judge(waste: fact(m), patient: patient)
        default: break
        }
        switch event.type {
        case .doseAdministered: pendingSince = min(pendingSince, (doses.last?.message.startedAt.nanosecondsSince1970) ?? .max)
        case .assessmentRecorded: pendingSince = min(pendingSince, event.time)
        default: break
        }
        // Settled in batches (half a window's worth of sessions at a time), not one by one. A
        // window too long to subtract (a policy that never settles early) waits for the end.
        let (cutoff, past) = clock.subtractingReportingOverflow(rules.settlingWindow)
        let (trigger, beyond) = cutoff.subtractingReportingOverflow(rules.settlingWindow / 2)
        if !past && !beyond && pendingSince < trigger {
            settle(before: cutoff, patient: patient, rules: rules)
        }
    }

    /// The earliest dose start or assessment time not yet judged.
    var pendingSince: Int64 = .max

    /// Judges the sessions whose dose started before `cutoff` and the assessments before it,
    /// then drops what no later judgement needs.
    mutating func settle(before cutoff: Int64, patient: String, rules: RuleBook) {
        doses.sort { $0.message.startedAt.nanosecondsSince1970 < $1.message.startedAt.nanosecondsSince1970 }
        let due = doses.prefix { $0.message.startedAt.nanosecondsSince1970 < cutoff }
        if !due.isEmpty {
            let judged = rules.judge(doses: Array(due), patient: patient, facts: &self)
            findings += judged
            frequencyReported.formUnion(judged.lazy.filter { $0.rule == .sessionFrequency }.map(\.eventId))
            let sessions = Set(due.map(\.message.sessionID))
            doses.removeFirst(due.count)
            frequencyReported.formIntersection(doses.map(\.eventId))
            let stillOpen = Set(doses.map(\.message.sessionID))
            for session in sessions where !stillOpen.contains(session) {
                for effect in sideEffects[session] ?? [] { resolutions[effect.sideEffectID] = nil }
                checks[session] = nil
                vitals[session] = nil
                sideEffects[session] = nil
                discharges[session] = nil
                remsForms[session] = nil
            }
        }
        findings += rules.judge(assessmentsBefore: cutoff, patient: patient, facts: &self)
        prune(before: cutoff, rules: rules)
        pendingSince = min(
            doses.first?.message.startedAt.nanosecondsSince1970 ?? .max,
            assessments[judgedAssessments...].map(\.time).min() ?? .max)
    }

    /// Judges everything still open (the end of the replay).
    mutating func settleAll(patient: String, rules: RuleBook) {
        settle(before: .max, patient: patient, rules: rules)
    }

    /// Drops context no session after `cutoff` can need.
    private mutating func prune(before cutoff: Int64, rules: RuleBook) {
        guard cutoff != .max else { return }
        evaluations.removeAll { $0.time < cutoff - rules.evaluationWindow }
        // Keep the latest history at or before the cutoff, and every later one.
        if let latest = histories.filter({ $0.time <= cutoff }).max(by: { ($0.time, $0.sequence) < ($1.time, $1.sequence) }) {
            histories.removeAll { ($0.time, $0.sequence) < (latest.time, latest.sequence) }
        }
        // Judged assessments stay only while a later first dose could use them as its baseline.
        let judged = assessments.prefix(judgedAssessments)
        let kept = judged.filter { $0.time >= cutoff - rules.baselineWindow && $0.message.instrument.measuresDepression }
        assessments.replaceSubrange(0..<judgedAssessments, with: kept)
        judgedAssessments = kept.count
        resolutions = resolutions.filter { $0.value.contains { $0 >= cutoff - rules.settlingWindow } }
    }
}
