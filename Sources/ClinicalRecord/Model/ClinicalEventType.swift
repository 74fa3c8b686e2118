import SwiftProtobuf

/// Every event type of the clinic record, with its stable stored type code, and the one place
/// where what each type is lives: its message, who may record it, and (through its message's
/// ``ClinicalMessage`` conformance) its validation, its references and its audit summary.
///
/// Every `switch` here and over ``EventPayload`` is exhaustive (no `default`), so adding a type
/// is an edit the compiler walks through: a new case, its message, its roles, then whatever
/// the message's conformance and each projection ask for.
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
    public var messageType: any ClinicalMessage.Type {
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

    /// Who may record this type (docs/EVENTS.md's table, as docs/EVENTS.md restates it): the least
    /// clinical role on the ladder staff < nurse < physician < psychiatrist (every role above it
    /// may too), and whether the administrative roles may. `system` may record every type.
    var recordedBy: (clinical: ClinicalLadder?, admin: Bool, auditor: Bool) {
        switch self {
        case .patientRegistered, .patientDetailsUpdated, .sessionScheduled, .sessionCancelled,
             .consentWithdrawn, .remsMonitoringFormSubmitted, .entryVoided:
            (.staff, false, false)
        case .recordAccessed:
            (.staff, true, true)
        case .assessmentRecorded, .preSessionCheckRecorded, .doseAdministered, .vitalsRecorded,
             .sideEffectObserved, .sideEffectResolved, .patientDischarged, .drugWasted:
            (.nurse, false, false)
        case .medicalHistoryRecorded, .medicationChanged, .consentGiven, .remsEnrolled, .treatmentPlanned:
            (.physician, false, false)
        case .evaluationCompleted:
            (.psychiatrist, false, false)
        // Forgetting a patient is a privacy officer's act (an extension of the table).
        case .patientForgotten:
            (nil, true, false)
        }
    }

    /// Whether this is a clinical entry (as opposed to record governance: voids, reads, erasure).
    public var isClinicalEntry: Bool {
        switch self {
        case .entryVoided, .recordAccessed, .patientForgotten: false
        case .patientRegistered, .patientDetailsUpdated, .medicalHistoryRecorded, .medicationChanged,
             .assessmentRecorded, .evaluationCompleted, .consentGiven, .consentWithdrawn, .remsEnrolled,
             .treatmentPlanned, .sessionScheduled, .preSessionCheckRecorded, .doseAdministered,
             .vitalsRecorded, .sideEffectObserved, .sideEffectResolved, .patientDischarged,
             .sessionCancelled, .remsMonitoringFormSubmitted, .drugWasted:
            true
        }
    }

    /// Whether an `EntryVoided` may void an event of this type: a registration starts the
    /// record and a void or an erasure cannot be undone.
    public var mayBeVoided: Bool {
        switch self {
        case .patientRegistered, .entryVoided, .patientForgotten: false
        case .patientDetailsUpdated, .medicalHistoryRecorded, .medicationChanged, .assessmentRecorded,
             .evaluationCompleted, .consentGiven, .consentWithdrawn, .remsEnrolled, .treatmentPlanned,
             .sessionScheduled, .preSessionCheckRecorded, .doseAdministered, .vitalsRecorded,
             .sideEffectObserved, .sideEffectResolved, .patientDischarged, .sessionCancelled,
             .remsMonitoringFormSubmitted, .drugWasted, .recordAccessed:
            true
        }
    }

    /// The short name, e.g. `DoseAdministered`.
    public var name: String { Self.names[Int(rawValue)] }

    /// The CloudEvents `type`: the full message name, e.g. `ketamine.v1.DoseAdministered`.
    public var cloudEventType: String { messageType.protoMessageName }

    private static let names: [String] = {
        var names = [String](repeating: "", count: allCases.count + 1)
        for type in allCases {
            let full = type.messageType.protoMessageName
            names[Int(type.rawValue)] = String(full.split(separator: ".").last ?? Substring(full))
        }
        return names
    }()

    private static let byCloudEventType = Dictionary(uniqueKeysWithValues: allCases.map { ($0.cloudEventType, $0) })
    private static let byName = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0) })

    /// The type named by a CloudEvents `type`, or `nil` when unknown.
    public init?(cloudEventType: String) {
        guard let type = Self.byCloudEventType[cloudEventType] else { return nil }
        self = type
    }

    /// The type with this short name (`DoseAdministered`), or `nil`.
    public init?(name: String) {
        guard let type = Self.byName[name] else { return nil }
        self = type
    }
}

/// The clinical roles in order: each may record what the ones below it may.
enum ClinicalLadder: Int, Comparable {
    case staff, nurse, physician, psychiatrist
    static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}
