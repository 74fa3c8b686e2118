import SwiftProtobuf

/// Every event type of the clinic record, with its stable stored type code.
///
/// The code is what the record header holds and what replay routes on; it never changes once
/// released. A code this version does not know (written by a newer one) is skipped by projections
/// and counted, never a crash.
public enum ClinicalEventType: UInt16, CaseIterable, Sendable, Codable {
    case patientRegistered = 1
    case patientDetailsUpdated = 2
    case medicalHistoryRecorded = 3
    case medicationChanged = 4
    case assessmentRecorded = 5
    case evaluationCompleted = 6
    case consentGiven = 7
    case consentWithdrawn = 8
    case remsEnrolled = 9
    case treatmentPlanned = 10
    case sessionScheduled = 11
    case preSessionCheckRecorded = 12
    case doseAdministered = 13
    case vitalsRecorded = 14
    case sideEffectObserved = 15
    case sideEffectResolved = 16
    case patientDischarged = 17
    case sessionCancelled = 18
    case remsMonitoringFormSubmitted = 19
    case drugWasted = 20
    case entryVoided = 21
    case recordAccessed = 22
    /// Recorded by ``PatientRecordStore/forget(_:reason:actorId:actorRole:source:time:)`` only.
    case patientForgotten = 23

    /// The protobuf message of this type.
    public var messageType: any SwiftProtobuf.Message.Type {
        switch self {
        case .patientRegistered: Ketamine_V1_PatientRegistered.self
        case .patientDetailsUpdated: Ketamine_V1_PatientDetailsUpdated.self
        case .medicalHistoryRecorded: Ketamine_V1_MedicalHistoryRecorded.self
        case .medicationChanged: Ketamine_V1_MedicationChanged.self
        case .assessmentRecorded: Ketamine_V1_AssessmentRecorded.self
        case .evaluationCompleted: Ketamine_V1_EvaluationCompleted.self
        case .consentGiven: Ketamine_V1_ConsentGiven.self
        case .consentWithdrawn: Ketamine_V1_ConsentWithdrawn.self
        case .remsEnrolled: Ketamine_V1_RemsEnrolled.self
        case .treatmentPlanned: Ketamine_V1_TreatmentPlanned.self
        case .sessionScheduled: Ketamine_V1_SessionScheduled.self
        case .preSessionCheckRecorded: Ketamine_V1_PreSessionCheckRecorded.self
        case .doseAdministered: Ketamine_V1_DoseAdministered.self
        case .vitalsRecorded: Ketamine_V1_VitalsRecorded.self
        case .sideEffectObserved: Ketamine_V1_SideEffectObserved.self
        case .sideEffectResolved: Ketamine_V1_SideEffectResolved.self
        case .patientDischarged: Ketamine_V1_PatientDischarged.self
        case .sessionCancelled: Ketamine_V1_SessionCancelled.self
        case .remsMonitoringFormSubmitted: Ketamine_V1_RemsMonitoringFormSubmitted.self
        case .drugWasted: Ketamine_V1_DrugWasted.self
        case .entryVoided: Ketamine_V1_EntryVoided.self
        case .recordAccessed: Ketamine_V1_RecordAccessed.self
        case .patientForgotten: Ketamine_V1_PatientForgotten.self
        }
    }

    /// The short name, e.g. `DoseAdministered`.
    public var name: String {
        let full = messageType.protoMessageName
        return String(full.dropFirst(full.lastIndex(of: ".").map { full.distance(from: full.startIndex, to: $0) + 1 } ?? 0))
    }

    /// The CloudEvents `type`: the full message name, e.g. `ketamine.v1.DoseAdministered`.
    public var cloudEventType: String { messageType.protoMessageName }

    private static let byCloudEventType = Dictionary(uniqueKeysWithValues: allCases.map { ($0.cloudEventType, $0) })

    /// The type named by a CloudEvents `type`, or `nil` when unknown.
    public init?(cloudEventType: String) {
        guard let type = Self.byCloudEventType[cloudEventType] else { return nil }
        self = type
    }

    /// Whether this is a clinical entry (as opposed to record governance).
    public var isClinicalEntry: Bool { self != .entryVoided && self != .recordAccessed && self != .patientForgotten }
}
