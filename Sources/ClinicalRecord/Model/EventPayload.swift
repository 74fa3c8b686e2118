import SwiftProtobuf

/// A payload read in place: the fields a projection asks for are found in the opened bytes as it
/// asks (no whole-message decode, no `String` per id); ``message`` decodes all of it when wanted.
///
/// Valid only during the replay's `apply` that hands it over.
public protocol PayloadView: Sendable {
    associatedtype Message: ClinicalMessage
    var fields: PayloadFields { get }
    init(fields: PayloadFields)
}

extension PayloadView {
    /// The whole message, decoded (and copied out of the map).
    public var message: Message { (try? Message(serializedBytes: fields.bytes.bytes)) ?? Message() }
}

/// Every event type's payload, read in place: the closed set projections switch over. A new
/// event type is a new case, and every `switch` without `default` then fails to compile until
/// it says what the type means to it.
public enum EventPayload: Sendable {
    case patientRegistered(PatientRegisteredView)
    case patientDetailsUpdated(PatientDetailsUpdatedView)
    case medicalHistoryRecorded(MedicalHistoryRecordedView)
    case medicationChanged(MedicationChangedView)
    case assessmentRecorded(AssessmentRecordedView)
    case evaluationCompleted(EvaluationCompletedView)
    case consentGiven(ConsentGivenView)
    case consentWithdrawn(ConsentWithdrawnView)
    case remsEnrolled(RemsEnrolledView)
    case treatmentPlanned(TreatmentPlannedView)
    case sessionScheduled(SessionScheduledView)
    case preSessionCheckRecorded(PreSessionCheckRecordedView)
    case doseAdministered(DoseAdministeredView)
    case vitalsRecorded(VitalsRecordedView)
    case sideEffectObserved(SideEffectObservedView)
    case sideEffectResolved(SideEffectResolvedView)
    case patientDischarged(PatientDischargedView)
    case sessionCancelled(SessionCancelledView)
    case remsMonitoringFormSubmitted(RemsMonitoringFormSubmittedView)
    case drugWasted(DrugWastedView)
    case entryVoided(EntryVoidedView)
    case recordAccessed(RecordAccessedView)
    case patientForgotten(PatientForgottenView)

    /// The payload of an event of `type`, over its opened bytes.
    package init(_ type: ClinicalEventType, bytes: UnsafeRawBufferPointer) {
        let f = PayloadFields(bytes)
        switch type {
        case .patientRegistered: self = .patientRegistered(.init(fields: f))
        case .patientDetailsUpdated: self = .patientDetailsUpdated(.init(fields: f))
        case .medicalHistoryRecorded: self = .medicalHistoryRecorded(.init(fields: f))
        case .medicationChanged: self = .medicationChanged(.init(fields: f))
        case .assessmentRecorded: self = .assessmentRecorded(.init(fields: f))
        case .evaluationCompleted: self = .evaluationCompleted(.init(fields: f))
        case .consentGiven: self = .consentGiven(.init(fields: f))
        case .consentWithdrawn: self = .consentWithdrawn(.init(fields: f))
        case .remsEnrolled: self = .remsEnrolled(.init(fields: f))
        case .treatmentPlanned: self = .treatmentPlanned(.init(fields: f))
        case .sessionScheduled: self = .sessionScheduled(.init(fields: f))
        case .preSessionCheckRecorded: self = .preSessionCheckRecorded(.init(fields: f))
        case .doseAdministered: self = .doseAdministered(.init(fields: f))
        case .vitalsRecorded: self = .vitalsRecorded(.init(fields: f))
        case .sideEffectObserved: self = .sideEffectObserved(.init(fields: f))
        case .sideEffectResolved: self = .sideEffectResolved(.init(fields: f))
        case .patientDischarged: self = .patientDischarged(.init(fields: f))
        case .sessionCancelled: self = .sessionCancelled(.init(fields: f))
        case .remsMonitoringFormSubmitted: self = .remsMonitoringFormSubmitted(.init(fields: f))
        case .drugWasted: self = .drugWasted(.init(fields: f))
        case .entryVoided: self = .entryVoided(.init(fields: f))
        case .recordAccessed: self = .recordAccessed(.init(fields: f))
        case .patientForgotten: self = .patientForgotten(.init(fields: f))
        }
    }
}

// Field numbers are those of `schemas/ketamine/v1/*.proto`; a test checks every accessor against
// swift-protobuf's decoding of the same bytes.

public struct PatientRegisteredView: PayloadView {
    public typealias Message = Ketamine_V1_PatientRegistered
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var givenName: Text { fields.text(1) }
    public var familyName: Text { fields.text(2) }
    public var birthDate: Text { fields.text(3) }
    public var sex: Ketamine_V1_Sex { fields.enumeration(4) }
    public var weightKg: Double { fields.double(5) }
}

public struct PatientDetailsUpdatedView: PayloadView {
    public typealias Message = Ketamine_V1_PatientDetailsUpdated
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var weightKg: Double? { fields.optionalDouble(3) }
}

public struct MedicalHistoryRecordedView: PayloadView {
    public typealias Message = Ketamine_V1_MedicalHistoryRecorded
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var psychosisHistory: Bool { fields.bool(3) }
    public var substanceUseDisorder: Bool { fields.bool(4) }
    public var pregnant: Bool { fields.bool(5) }
    public var uncontrolledHypertension: Bool { fields.bool(6) }
    public var aneurysmalVascularDisease: Bool { fields.bool(7) }
    public var arteriovenousMalformation: Bool { fields.bool(8) }
    public var intracerebralHemorrhageHistory: Bool { fields.bool(9) }
    public var ketamineHypersensitivity: Bool { fields.bool(10) }
    /// Each listed medication's name and class.
    public var medications: [(name: Text, medicationClass: Ketamine_V1_MedicationClass)] {
        fields.repeated(2).map { ($0.text(1), $0.enumeration(3)) }
    }
}

public struct MedicationChangedView: PayloadView {
    public typealias Message = Ketamine_V1_MedicationChanged
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var name: Text { fields.text(1) }
    public var medicationClass: Ketamine_V1_MedicationClass { fields.enumeration(2) }
    public var change: Ketamine_V1_MedicationChange { fields.enumeration(3) }
    public var dose: Text? { fields.optionalText(4) }
}

public struct AssessmentRecordedView: PayloadView {
    public typealias Message = Ketamine_V1_AssessmentRecorded
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var assessmentId: Text { fields.text(1) }
    public var instrument: Ketamine_V1_Instrument { fields.enumeration(2) }
    public var itemScores: [Int32] { fields.repeatedInt32(3) }
    public var sessionId: Text? { fields.optionalText(4) }
}

public struct EvaluationCompletedView: PayloadView {
    public typealias Message = Ketamine_V1_EvaluationCompleted
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var evaluationId: Text { fields.text(1) }
    public var treatmentResistant: Bool { fields.bool(3) }
    public var eligible: Bool { fields.bool(4) }
    public var eligibleModalities: [Ketamine_V1_Modality] { fields.repeatedInt32(5).map { Ketamine_V1_Modality(rawValue: Int($0)) ?? .unspecified } }
}

public struct ConsentGivenView: PayloadView {
    public typealias Message = Ketamine_V1_ConsentGiven
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var consentId: Text { fields.text(1) }
    public var scope: Ketamine_V1_ConsentScope { fields.enumeration(2) }
    public var signedAt: Int64 { fields.time(4) }
    public var expiresAt: Int64? { fields.optionalTime(5) }
    public var offLabelAcknowledged: Bool { fields.bool(7) }
}

public struct ConsentWithdrawnView: PayloadView {
    public typealias Message = Ketamine_V1_ConsentWithdrawn
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var consentId: Text { fields.text(1) }
    public var reason: Text { fields.text(2) }
}

public struct RemsEnrolledView: PayloadView {
    public typealias Message = Ketamine_V1_RemsEnrolled
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var enrolledAt: Int64 { fields.time(2) }
}

public struct TreatmentPlannedView: PayloadView {
    public typealias Message = Ketamine_V1_TreatmentPlanned
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var planId: Text { fields.text(1) }
    public var modality: Ketamine_V1_Modality { fields.enumeration(2) }
    public var maxSessionsPerWeek: Int32 { fields.int32(5) }
    public var doseMg: Double? { fields.optionalDouble(7) }
    public var startDate: Text { fields.text(8) }
    public var indication: Ketamine_V1_Indication? { fields.has(9) ? fields.enumeration(9) : nil }
}

public struct SessionScheduledView: PayloadView {
    public typealias Message = Ketamine_V1_SessionScheduled
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var sessionId: Text { fields.text(1) }
    public var planId: Text { fields.text(2) }
    public var scheduledFor: Int64 { fields.time(3) }
}

public struct PreSessionCheckRecordedView: PayloadView {
    public typealias Message = Ketamine_V1_PreSessionCheckRecorded
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var sessionId: Text { fields.text(1) }
    public var lastSolidFoodAt: Int64 { fields.time(2) }
    public var lastClearLiquidAt: Int64 { fields.time(3) }
    public var escortPresent: Bool { fields.bool(5) }
    public var systolic: Int32 { fields.message(7)?.int32(1) ?? 0 }
    public var diastolic: Int32 { fields.message(7)?.int32(2) ?? 0 }
    public var heartRate: Int32 { fields.int32(8) }
    public var spo2: Int32 { fields.int32(9) }
    public var baselineMoaas: Int32? { fields.optionalInt32(10) }
    /// The documented reason to dose above the blood-pressure limit, when one was given.
    public var bpOverrideReason: Text? { fields.optionalText(11) }
}

public struct DoseAdministeredView: PayloadView {
    public typealias Message = Ketamine_V1_DoseAdministered
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var sessionId: Text { fields.text(1) }
    public var planId: Text { fields.text(2) }
    public var drug: Ketamine_V1_Drug { fields.enumeration(3) }
    public var route: Ketamine_V1_Route { fields.enumeration(4) }
    public var setting: Ketamine_V1_Setting { fields.enumeration(5) }
    public var doseMg: Double { fields.double(6) }
    public var weightKg: Double { fields.double(7) }
    public var lotNumber: Text { fields.text(8) }
    public var startedAt: Int64 { fields.time(9) }
    public var infusionMinutes: Int32? { fields.optionalInt32(10) }
    public var devices: Int32? { fields.optionalInt32(11) }
    public var prescriberOnSiteId: Text? { fields.optionalText(12) }
}

public struct VitalsRecordedView: PayloadView {
    public typealias Message = Ketamine_V1_VitalsRecorded
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var sessionId: Text { fields.text(1) }
    public var measuredAt: Int64 { fields.time(2) }
    public var systolic: Int32 { fields.message(3)?.int32(1) ?? 0 }
    public var diastolic: Int32 { fields.message(3)?.int32(2) ?? 0 }
    public var heartRate: Int32 { fields.int32(4) }
    public var spo2: Int32 { fields.int32(5) }
    public var respiratoryRate: Int32? { fields.optionalInt32(6) }
    public var moaas: Int32? { fields.optionalInt32(7) }
}

public struct SideEffectObservedView: PayloadView {
    public typealias Message = Ketamine_V1_SideEffectObserved
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var sideEffectId: Text { fields.text(1) }
    public var sessionId: Text? { fields.optionalText(2) }
    public var kind: Ketamine_V1_SideEffectKind { fields.enumeration(3) }
    public var severity: Ketamine_V1_Severity { fields.enumeration(4) }
    public var onsetAt: Int64 { fields.time(5) }
    public var serious: Bool { fields.bool(6) }
}

public struct SideEffectResolvedView: PayloadView {
    public typealias Message = Ketamine_V1_SideEffectResolved
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var sideEffectId: Text { fields.text(1) }
    public var resolvedAt: Int64 { fields.time(2) }
}

public struct PatientDischargedView: PayloadView {
    public typealias Message = Ketamine_V1_PatientDischarged
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var sessionId: Text { fields.text(1) }
    public var dischargedAt: Int64 { fields.time(2) }
    public var aldreteScore: Int32 { fields.int32(3) }
    public var escortConfirmed: Bool { fields.bool(4) }
    public var drivingAdviceGiven: Bool { fields.bool(5) }
}

public struct SessionCancelledView: PayloadView {
    public typealias Message = Ketamine_V1_SessionCancelled
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var sessionId: Text { fields.text(1) }
    public var reason: Text { fields.text(2) }
}

public struct RemsMonitoringFormSubmittedView: PayloadView {
    public typealias Message = Ketamine_V1_RemsMonitoringFormSubmitted
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var sessionId: Text { fields.text(1) }
    public var submittedAt: Int64 { fields.time(2) }
}

public struct DrugWastedView: PayloadView {
    public typealias Message = Ketamine_V1_DrugWasted
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var sessionId: Text { fields.text(1) }
    public var drug: Ketamine_V1_Drug { fields.enumeration(2) }
    public var lotNumber: Text { fields.text(3) }
    public var amountMg: Double { fields.double(4) }
    public var witnessedBy: Text { fields.text(5) }
}

public struct EntryVoidedView: PayloadView {
    public typealias Message = Ketamine_V1_EntryVoided
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var voidedEventId: Text { fields.text(1) }
}

public struct RecordAccessedView: PayloadView {
    public typealias Message = Ketamine_V1_RecordAccessed
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var purpose: Ketamine_V1_AccessPurpose { fields.enumeration(1) }
    public var disclosedTo: Text? { fields.optionalText(2) }
}

public struct PatientForgottenView: PayloadView {
    public typealias Message = Ketamine_V1_PatientForgotten
    public let fields: PayloadFields
    public init(fields: PayloadFields) { self.fields = fields }
    public var reason: Text { fields.text(1) }
}
