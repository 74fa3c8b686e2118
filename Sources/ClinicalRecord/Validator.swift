import EventStore
import Foundation
import SwiftProtobuf

/// The validation rules of EVENTS.md: fields, enums, ranges, instruments, references,
/// registration, roles and expected versions. Each refusal names the field and the reason.
enum Validator {
    /// Checks `input` against the record as `snapshot` sees it (the log, plus for an import the
    /// lines before this one).
    static func validate(_ input: ClinicalEventInput, of type: ClinicalEventType, against snapshot: borrowing some RecordSnapshot & ~Copyable) throws {
        try checkAttributes(input, type: type)
        try checkFields(input.message)

        let version = try snapshot.streamVersion(input.patientId)
        if type == .patientRegistered {
            guard version == 0 else {
                throw ValidationError(field: "subject", reason: "patient \(input.patientId) is already registered")
            }
        } else if version == 0 {
            throw ValidationError(field: "subject", reason: "patient \(input.patientId) is not registered; record PatientRegistered first")
        }
        if version > 0, try References.exists(.forgotten, "", patient: input.patientId, in: snapshot) {
            throw ValidationError.forgotten(input.patientId)
        }
        if let expected = input.expectedVersion, expected != version {
            throw ValidationError(field: "expectedversion", reason: "patient \(input.patientId) has \(version) events, not the \(expected) expected")
        }
        try checkReferences(input, against: snapshot)
    }

    private static func checkAttributes(_ input: ClinicalEventInput, type: ClinicalEventType) throws {
        if input.source.isEmpty { throw ValidationError(field: "source", reason: "is required and must not be empty") }
        for (name, value) in [("id", input.id), ("subject", input.patientId), ("actorid", input.actorId)] {
            if let problem = Identifier.problem(value) { throw ValidationError(field: name, reason: problem) }
        }
        guard input.actorRole.mayRecord(type) else {
            throw ValidationError(field: "actorrole", reason: "\(input.actorRole.withArticle) may not record \(type.name)")
        }
    }

    // MARK: Fields

    private struct Fields {
        func text(_ value: String, _ name: String) throws {
            if value.allSatisfy(\.isWhitespace) {
                throw ValidationError(field: "data.\(name)", reason: "is required and must not be empty")
            }
        }
        func identifier(_ value: String, _ name: String) throws {
            if let problem = Identifier.problem(value) { throw ValidationError(field: "data.\(name)", reason: problem) }
        }
        func present(_ has: Bool, _ name: String) throws {
            if !has { throw ValidationError(field: "data.\(name)", reason: "is required") }
        }
        func moment(_ has: Bool, _ value: Google_Protobuf_Timestamp, _ name: String) throws {
            try present(has, name)
            if ClinicalTime.exactNanoseconds(value) == nil {
                throw ValidationError(field: "data.\(name)", reason: "must be a time from \(ClinicalTime.representable)")
            }
        }
        func date(_ value: String, _ name: String) throws {
            try text(value, name)
            if !ClinicalTime.isDate(value) {
                throw ValidationError(field: "data.\(name)", reason: "must be a date written YYYY-MM-DD, not \(value.debugDescription)")
            }
        }
        func choice<E: SwiftProtobuf.Enum & CaseIterable>(_ value: E, _ name: String) throws {
            if value.rawValue == 0 {
                throw ValidationError(field: "data.\(name)", reason: "is required; the unspecified value is not allowed")
            }
            // Generated enums list their known cases; a value read off the wire may be none of them.
            if !E.allCases.contains(value) {
                throw ValidationError(field: "data.\(name)", reason: "has the unknown value \(value.rawValue)")
            }
        }
        func within<T: Comparable & CustomStringConvertible>(_ value: T, _ range: ClosedRange<T>, _ name: String, unit: String) throws {
            if !range.contains(value) {
                throw ValidationError(field: "data.\(name)", reason: "must be \(range.lowerBound)-\(range.upperBound) \(unit), not \(value)")
            }
        }
        func positive(_ value: Double, _ name: String) throws {
            if !(value > 0) || !value.isFinite {
                throw ValidationError(field: "data.\(name)", reason: "must be above 0 mg, not \(value)")
            }
        }
        func bloodPressure(_ has: Bool, _ value: Ketamine_V1_BloodPressure, _ name: String) throws {
            try present(has, name)
            try within(value.systolic, 40...300, "\(name).systolic", unit: "mmHg")
            try within(value.diastolic, 20...200, "\(name).diastolic", unit: "mmHg")
        }
        func conditions(_ values: [Ketamine_V1_Condition], _ name: String) throws {
            for (index, condition) in values.enumerated() {
                try text(condition.code, "\(name)[\(index)].code")
                try text(condition.display, "\(name)[\(index)].display")
            }
        }
    }

    private static func checkFields(_ message: any SwiftProtobuf.Message) throws {
        let f = Fields()
        switch message {
        case let m as Ketamine_V1_PatientRegistered:
            try f.text(m.givenName, "givenName")
            try f.text(m.familyName, "familyName")
            try f.date(m.birthDate, "birthDate")
            try f.choice(m.sex, "sex")
            try f.within(m.weightKg, 2...500, "weightKg", unit: "kg")
        case let m as Ketamine_V1_PatientDetailsUpdated:
            if m.hasWeightKg { try f.within(m.weightKg, 2...500, "weightKg", unit: "kg") }
            if m.hasGivenName { try f.text(m.givenName, "givenName") }
            if m.hasFamilyName { try f.text(m.familyName, "familyName") }
        case let m as Ketamine_V1_MedicalHistoryRecorded:
            try f.conditions(m.conditions, "conditions")
            for (index, medication) in m.medications.enumerated() {
                try f.text(medication.name, "medications[\(index)].name")
                try f.text(medication.dose, "medications[\(index)].dose")
                try f.choice(medication.medicationClass, "medications[\(index)].medicationClass")
            }
        case let m as Ketamine_V1_MedicationChanged:
            try f.text(m.name, "name")
            try f.choice(m.medicationClass, "medicationClass")
            try f.choice(m.change, "change")
        case let m as Ketamine_V1_AssessmentRecorded:
            try f.identifier(m.assessmentID, "assessmentId")
            try f.choice(m.instrument, "instrument")
            guard let rule = m.instrument.itemRule else { break }
            guard m.itemScores.count == rule.count else {
                throw ValidationError(field: "data.itemScores", reason: "\(m.instrument.displayName) has \(rule.count) items, not \(m.itemScores.count)")
            }
            for (index, score) in m.itemScores.enumerated() where !rule.range.contains(score) {
                throw ValidationError(field: "data.itemScores[\(index)]", reason: "\(m.instrument.displayName) item \(index + 1) must be \(rule.range.lowerBound)-\(rule.range.upperBound), not \(score)")
            }
        case let m as Ketamine_V1_EvaluationCompleted:
            try f.identifier(m.evaluationID, "evaluationId")
            try f.conditions(m.diagnoses, "diagnoses")
            for (index, modality) in m.eligibleModalities.enumerated() { try f.choice(modality, "eligibleModalities[\(index)]") }
        case let m as Ketamine_V1_ConsentGiven:
            try f.identifier(m.consentID, "consentId")
            try f.choice(m.scope, "scope")
            try f.text(m.formVersion, "formVersion")
            try f.moment(m.hasSignedAt, m.signedAt, "signedAt")
            if m.hasExpiresAt { try f.moment(true, m.expiresAt, "expiresAt") }
        case let m as Ketamine_V1_ConsentWithdrawn:
            try f.identifier(m.consentID, "consentId")
            try f.text(m.reason, "reason")
        case let m as Ketamine_V1_RemsEnrolled:
            try f.identifier(m.enrollmentID, "enrollmentId")
            try f.moment(m.hasEnrolledAt, m.enrolledAt, "enrolledAt")
        case let m as Ketamine_V1_TreatmentPlanned:
            try f.identifier(m.planID, "planId")
            try f.choice(m.modality, "modality")
            try f.choice(m.phase, "phase")
            try f.within(m.sessionsPlanned, 1...1_000, "sessionsPlanned", unit: "sessions")
            try f.within(m.maxSessionsPerWeek, 1...14, "maxSessionsPerWeek", unit: "sessions")
            if m.hasDoseMgPerKg { try f.positive(m.doseMgPerKg, "doseMgPerKg") }
            if m.hasDoseMg { try f.positive(m.doseMg, "doseMg") }
            try f.date(m.startDate, "startDate")
        case let m as Ketamine_V1_SessionScheduled:
            try f.identifier(m.sessionID, "sessionId")
            try f.identifier(m.planID, "planId")
            try f.moment(m.hasScheduledFor, m.scheduledFor, "scheduledFor")
        case let m as Ketamine_V1_PreSessionCheckRecorded:
            try f.identifier(m.sessionID, "sessionId")
            try f.moment(m.hasLastSolidFoodAt, m.lastSolidFoodAt, "lastSolidFoodAt")
            try f.moment(m.hasLastClearLiquidAt, m.lastClearLiquidAt, "lastClearLiquidAt")
            try f.text(m.escortName, "escortName")
            try f.bloodPressure(m.hasBloodPressure, m.bloodPressure, "bloodPressure")
            try f.within(m.heartRate, 20...250, "heartRate", unit: "beats per minute")
            try f.within(m.spo2, 50...100, "spo2", unit: "percent")
            if m.hasBaselineMoaas { try f.within(m.baselineMoaas, 0...5, "baselineMoaas", unit: "points") }
        case let m as Ketamine_V1_DoseAdministered:
            try f.identifier(m.sessionID, "sessionId")
            try f.identifier(m.planID, "planId")
            try f.choice(m.drug, "drug")
            try f.choice(m.route, "route")
            try f.choice(m.setting, "setting")
            try f.positive(m.doseMg, "doseMg")
            try f.within(m.weightKg, 2...500, "weightKg", unit: "kg")
            try f.text(m.lotNumber, "lotNumber")
            try f.moment(m.hasStartedAt, m.startedAt, "startedAt")
            if m.hasInfusionMinutes { try f.within(m.infusionMinutes, 1...600, "infusionMinutes", unit: "minutes") }
            if m.hasDevices { try f.within(m.devices, 1...10, "devices", unit: "devices") }
        case let m as Ketamine_V1_VitalsRecorded:
            try f.identifier(m.sessionID, "sessionId")
            try f.moment(m.hasMeasuredAt, m.measuredAt, "measuredAt")
            try f.bloodPressure(m.hasBloodPressure, m.bloodPressure, "bloodPressure")
            try f.within(m.heartRate, 20...250, "heartRate", unit: "beats per minute")
            try f.within(m.spo2, 50...100, "spo2", unit: "percent")
            if m.hasRespiratoryRate { try f.within(m.respiratoryRate, 1...80, "respiratoryRate", unit: "breaths per minute") }
            if m.hasMoaas { try f.within(m.moaas, 0...5, "moaas", unit: "points") }
        case let m as Ketamine_V1_SideEffectObserved:
            try f.identifier(m.sideEffectID, "sideEffectId")
            try f.choice(m.kind, "kind")
            try f.choice(m.severity, "severity")
            try f.moment(m.hasOnsetAt, m.onsetAt, "onsetAt")
        case let m as Ketamine_V1_SideEffectResolved:
            try f.identifier(m.sideEffectID, "sideEffectId")
            try f.moment(m.hasResolvedAt, m.resolvedAt, "resolvedAt")
        case let m as Ketamine_V1_PatientDischarged:
            try f.identifier(m.sessionID, "sessionId")
            try f.moment(m.hasDischargedAt, m.dischargedAt, "dischargedAt")
            try f.within(m.aldreteScore, 0...10, "aldreteScore", unit: "points")
        case let m as Ketamine_V1_SessionCancelled:
            try f.identifier(m.sessionID, "sessionId")
            try f.text(m.reason, "reason")
        case let m as Ketamine_V1_RemsMonitoringFormSubmitted:
            try f.identifier(m.sessionID, "sessionId")
            try f.moment(m.hasSubmittedAt, m.submittedAt, "submittedAt")
        case let m as Ketamine_V1_DrugWasted:
            try f.identifier(m.sessionID, "sessionId")
            try f.choice(m.drug, "drug")
            try f.text(m.lotNumber, "lotNumber")
            try f.positive(m.amountMg, "amountMg")
            try f.identifier(m.witnessedBy, "witnessedBy")
        case let m as Ketamine_V1_EntryVoided:
            try f.identifier(m.voidedEventID, "voidedEventId")
            try f.text(m.reason, "reason")
        case let m as Ketamine_V1_PatientForgotten:
            try f.text(m.reason, "reason")
        case let m as Ketamine_V1_RecordAccessed:
            try f.choice(m.purpose, "purpose")
            try f.text(m.description_p, "description")
            if m.purpose == .disclosure && (!m.hasDisclosedTo || m.disclosedTo.isEmpty) {
                throw ValidationError(field: "data.disclosedTo", reason: "is required when the purpose is disclosure")
            }
        default:
            break
        }
    }

    // MARK: References

    private static func checkReferences(_ input: ClinicalEventInput, against snapshot: borrowing some RecordSnapshot & ~Copyable) throws {
        let patient = input.patientId
        func require(_ kind: References.Kind, _ id: String, _ field: String, _ what: String) throws {
            guard try References.exists(kind, id, patient: patient, in: snapshot) else {
                throw ValidationError(field: "data.\(field)", reason: "\(what) \(id) was not recorded earlier for patient \(patient)")
            }
        }
        switch input.message {
        case let m as Ketamine_V1_SessionScheduled: try require(.plan, m.planID, "planId", "plan")
        case let m as Ketamine_V1_PreSessionCheckRecorded: try require(.session, m.sessionID, "sessionId", "session")
        case let m as Ketamine_V1_DoseAdministered:
            try require(.plan, m.planID, "planId", "plan")
            try require(.session, m.sessionID, "sessionId", "session")
        case let m as Ketamine_V1_VitalsRecorded: try require(.session, m.sessionID, "sessionId", "session")
        case let m as Ketamine_V1_SideEffectObserved where m.hasSessionID:
            try require(.session, m.sessionID, "sessionId", "session")
        case let m as Ketamine_V1_PatientDischarged: try require(.session, m.sessionID, "sessionId", "session")
        case let m as Ketamine_V1_SessionCancelled: try require(.session, m.sessionID, "sessionId", "session")
        case let m as Ketamine_V1_RemsMonitoringFormSubmitted: try require(.session, m.sessionID, "sessionId", "session")
        case let m as Ketamine_V1_DrugWasted: try require(.session, m.sessionID, "sessionId", "session")
        case let m as Ketamine_V1_ConsentWithdrawn: try require(.consent, m.consentID, "consentId", "consent")
        case let m as Ketamine_V1_SideEffectResolved: try require(.sideEffect, m.sideEffectID, "sideEffectId", "side effect")
        case let m as Ketamine_V1_EntryVoided: try checkVoid(m, input: input, against: snapshot)
        default: break
        }
    }

    private static func checkVoid(_ void: Ketamine_V1_EntryVoided, input: ClinicalEventInput, against snapshot: borrowing some RecordSnapshot & ~Copyable) throws {
        let field = "data.voidedEventId"
        guard let sequence = try snapshot.sequence(ofEventId: void.voidedEventID),
              let target = try snapshot.record(at: sequence),
              target.streamIdBytes.elementsEqual(input.patientId.utf8) else {
            throw ValidationError(field: field, reason: "event \(void.voidedEventID) was not recorded earlier for patient \(input.patientId)")
        }
        switch ClinicalEventType(rawValue: target.type) {
        case .patientRegistered?, .entryVoided?:
            throw ValidationError(field: field, reason: "a \(ClinicalEventType(rawValue: target.type)?.name ?? "") cannot be voided")
        default: break
        }
        if try References.exists(.voided, void.voidedEventID, patient: input.patientId, in: snapshot) {
            throw ValidationError(field: field, reason: "event \(void.voidedEventID) is already voided")
        }
        if !input.actorRole.mayVoidOthersEntries && !target.actorBytes.elementsEqual(input.actorId.utf8) {
            throw ValidationError(field: "actorid", reason: "\(input.actorRole.withArticle) may void only entries they recorded; \(void.voidedEventID) was recorded by \(target.actor)")
        }
    }
}
