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

/// What the rules need of one patient's record, collected in one pass and kept per patient, so
/// replay memory follows the number of patients and sessions.
struct PatientFacts {
    var doses: [Fact<Ketamine_V1_DoseAdministered>] = []
    var checks: [String: [Fact<Ketamine_V1_PreSessionCheckRecorded>]] = [:]
    var consents: [Fact<Ketamine_V1_ConsentGiven>] = []
    var withdrawals: [String: [Int64]] = [:]
    var evaluations: [Fact<Ketamine_V1_EvaluationCompleted>] = []
    var assessments: [Fact<Ketamine_V1_AssessmentRecorded>] = []
    var histories: [Fact<Ketamine_V1_MedicalHistoryRecorded>] = []
    var remsEnrollments: [Int64] = []
    var plans: [String: Ketamine_V1_TreatmentPlanned] = [:]
    var vitals: [String: [Int64]] = [:]
    var sideEffects: [String: [Ketamine_V1_SideEffectObserved]] = [:]
    var resolutions: [String: [Int64]] = [:]
    var discharges: [String: [Fact<Ketamine_V1_PatientDischarged>]] = [:]
    var remsForms: [String: [Int64]] = [:]
    var wastes: [Fact<Ketamine_V1_DrugWasted>] = []

    mutating func add(_ event: ClinicalEvent) {
        func fact<M: SwiftProtobuf.Message>(_ message: M) -> Fact<M> {
            Fact(message: message, eventId: event.id, sequence: event.sequence, actorId: event.actorId, time: event.time)
        }
        switch event.message {
        case let m as Ketamine_V1_DoseAdministered: doses.append(fact(m))
        case let m as Ketamine_V1_PreSessionCheckRecorded: checks[m.sessionID, default: []].append(fact(m))
        case let m as Ketamine_V1_ConsentGiven: consents.append(fact(m))
        case let m as Ketamine_V1_ConsentWithdrawn: withdrawals[m.consentID, default: []].append(event.time)
        case let m as Ketamine_V1_EvaluationCompleted: evaluations.append(fact(m))
        case let m as Ketamine_V1_AssessmentRecorded: assessments.append(fact(m))
        case let m as Ketamine_V1_MedicalHistoryRecorded: histories.append(fact(m))
        case let m as Ketamine_V1_RemsEnrolled: remsEnrollments.append(m.enrolledAt.nanosecondsSince1970)
        case let m as Ketamine_V1_TreatmentPlanned: plans[m.planID] = m
        case let m as Ketamine_V1_VitalsRecorded: vitals[m.sessionID, default: []].append(m.measuredAt.nanosecondsSince1970)
        case let m as Ketamine_V1_SideEffectObserved where m.hasSessionID: sideEffects[m.sessionID, default: []].append(m)
        case let m as Ketamine_V1_SideEffectResolved: resolutions[m.sideEffectID, default: []].append(m.resolvedAt.nanosecondsSince1970)
        case let m as Ketamine_V1_PatientDischarged: discharges[m.sessionID, default: []].append(fact(m))
        case let m as Ketamine_V1_RemsMonitoringFormSubmitted: remsForms[m.sessionID, default: []].append(m.submittedAt.nanosecondsSince1970)
        case let m as Ketamine_V1_DrugWasted: wastes.append(fact(m))
        default: break
        }
    }
}
