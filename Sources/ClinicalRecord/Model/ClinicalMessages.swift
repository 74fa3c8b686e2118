import SwiftProtobuf

// What each event message is: its type, its field checks (docs/EVENTS.md, validation), what it
// refers to and defines, and its line in the audit trail. One conformance per event type.

extension Ketamine_V1_PatientRegistered: ClinicalMessage {
    public static var eventType: ClinicalEventType { .patientRegistered }
    public func checkFields(_ f: FieldCheck) throws {
        try f.text(givenName, "givenName")
        try f.text(familyName, "familyName")
        try f.birthDate(birthDate, "birthDate")
        try f.choice(sex, "sex")
        try f.within(weightKg, 2...500, "weightKg", unit: "kg")
        try f.optionalText(hasPhone, phone, "phone")
        try f.optionalText(hasEmail, email, "email")
    }
    public var auditSummary: String { "Registered \(givenName) \(familyName), born \(birthDate), \(weightKg.plainText) kg" }
}

extension Ketamine_V1_PatientDetailsUpdated: ClinicalMessage {
    public static var eventType: ClinicalEventType { .patientDetailsUpdated }
    public func checkFields(_ f: FieldCheck) throws {
        if hasWeightKg { try f.within(weightKg, 2...500, "weightKg", unit: "kg") }
        if hasGivenName { try f.text(givenName, "givenName") }
        if hasFamilyName { try f.text(familyName, "familyName") }
        try f.optionalText(hasPhone, phone, "phone")
        try f.optionalText(hasEmail, email, "email")
    }
    public var auditSummary: String {
        "Updated details: " + [hasGivenName ? "given name" : nil, hasFamilyName ? "family name" : nil,
                               hasWeightKg ? "weight \(weightKg.plainText) kg" : nil, hasPhone ? "phone" : nil,
                               hasEmail ? "email" : nil].compactMap { $0 }.joined(separator: ", ")
    }
}

extension Ketamine_V1_MedicalHistoryRecorded: ClinicalMessage {
    public static var eventType: ClinicalEventType { .medicalHistoryRecorded }
    public func checkFields(_ f: FieldCheck) throws {
        try f.conditions(conditions, "conditions")
        for (index, medication) in medications.enumerated() {
            try f.text(medication.name, "medications[\(index)].name")
            try f.text(medication.dose, "medications[\(index)].dose")
            try f.choice(medication.medicationClass, "medications[\(index)].medicationClass")
        }
    }
    public var auditSummary: String { "Medical history: \(conditions.count) conditions, \(medications.count) medications" }
}

extension Ketamine_V1_MedicationChanged: ClinicalMessage {
    public static var eventType: ClinicalEventType { .medicationChanged }
    public func checkFields(_ f: FieldCheck) throws {
        try f.text(name, "name")
        try f.choice(medicationClass, "medicationClass")
        try f.choice(change, "change")
        try f.optionalText(hasDose, dose, "dose")
    }
    public var auditSummary: String { "Medication \(name) \(change.label)\(hasDose ? " (\(dose))" : "")" }
}

extension Ketamine_V1_AssessmentRecorded: ClinicalMessage {
    public static var eventType: ClinicalEventType { .assessmentRecorded }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(assessmentID, "assessmentId")
        try f.choice(instrument, "instrument")
        try f.optionalIdentifier(hasSessionID, sessionID, "sessionId")
        guard let rule = instrument.itemRule else { return }
        guard itemScores.count == rule.count else {
            throw f.refuse("itemScores", "\(instrument.displayName) has \(rule.count) items, not \(itemScores.count)")
        }
        for (index, score) in itemScores.enumerated() where !rule.range.contains(score) {
            throw f.refuse("itemScores[\(index)]", "\(instrument.displayName) item \(index + 1) must be \(rule.range.lowerBound)-\(rule.range.upperBound), not \(score)")
        }
    }
    public var auditSummary: String {
        let score = instrument.score(itemScores)
        return "\(instrument.displayName) total \(score.total)\(score.band.map { " (\($0))" } ?? "")"
    }
}

extension Ketamine_V1_EvaluationCompleted: ClinicalMessage {
    public static var eventType: ClinicalEventType { .evaluationCompleted }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(evaluationID, "evaluationId")
        try f.conditions(diagnoses, "diagnoses")
        for (index, modality) in eligibleModalities.enumerated() { try f.choice(modality, "eligibleModalities[\(index)]") }
        for (index, text) in contraindications.enumerated() { try f.text(text, "contraindications[\(index)]") }
        try f.optionalText(hasNotes, notes, "notes", limit: FieldCheck.longTextBytes)
    }
    public var auditSummary: String {
        "Psychiatric evaluation: \(eligible ? "eligible" : "not eligible")\(eligibleModalities.isEmpty ? "" : " for " + eligibleModalities.map(\.label).joined(separator: ", "))"
    }
}

extension Ketamine_V1_ConsentGiven: ClinicalMessage {
    public static var eventType: ClinicalEventType { .consentGiven }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(consentID, "consentId")
        try f.choice(scope, "scope")
        try f.text(formVersion, "formVersion")
        try f.moment(hasSignedAt, signedAt, "signedAt")
        if hasExpiresAt { try f.moment(true, expiresAt, "expiresAt") }
        try f.optionalText(hasWitness, witness, "witness")
        try f.optionalIdentifier(hasObtainedBy, obtainedBy, "obtainedBy")
    }
    public var definitions: [ClinicalReference] { [ClinicalReference(.consent, consentID)] }
    public var auditSummary: String {
        "Consent \(consentID) given for \(scope.label) (form \(formVersion))\(offLabelAcknowledged ? ", off-label use acknowledged" : "")"
    }
}

extension Ketamine_V1_ConsentWithdrawn: ClinicalMessage {
    public static var eventType: ClinicalEventType { .consentWithdrawn }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(consentID, "consentId")
        try f.text(reason, "reason", limit: FieldCheck.longTextBytes)
    }
    public var references: [ClinicalReference] { [ClinicalReference(.consent, consentID, field: "consentId")] }
    public var auditSummary: String { "Consent \(consentID) withdrawn: \(reason)" }
}

extension Ketamine_V1_RemsEnrolled: ClinicalMessage {
    public static var eventType: ClinicalEventType { .remsEnrolled }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(enrollmentID, "enrollmentId")
        try f.moment(hasEnrolledAt, enrolledAt, "enrolledAt")
    }
    public var auditSummary: String { "Enrolled in esketamine REMS (\(enrollmentID))" }
}

extension Ketamine_V1_TreatmentPlanned: ClinicalMessage {
    public static var eventType: ClinicalEventType { .treatmentPlanned }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(planID, "planId")
        try f.choice(modality, "modality")
        try f.choice(phase, "phase")
        try f.within(sessionsPlanned, 1...1_000, "sessionsPlanned", unit: "sessions")
        try f.within(maxSessionsPerWeek, 1...14, "maxSessionsPerWeek", unit: "sessions")
        if hasDoseMgPerKg { try f.positive(doseMgPerKg, "doseMgPerKg") }
        if hasDoseMg { try f.positive(doseMg, "doseMg") }
        try f.date(startDate, "startDate")
        if hasIndication { try f.choice(indication, "indication") }
    }
    public var definitions: [ClinicalReference] { [ClinicalReference(.plan, planID)] }
    public var auditSummary: String {
        "Plan \(planID): \(modality.label) \(phase.label), \(sessionsPlanned) sessions\(hasIndication ? " for \(indication.label)" : "")"
    }
}

extension Ketamine_V1_SessionScheduled: ClinicalMessage {
    public static var eventType: ClinicalEventType { .sessionScheduled }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(sessionID, "sessionId")
        try f.identifier(planID, "planId")
        try f.moment(hasScheduledFor, scheduledFor, "scheduledFor")
    }
    public var references: [ClinicalReference] { [ClinicalReference(.plan, planID, field: "planId")] }
    public var definitions: [ClinicalReference] { [ClinicalReference(.session, sessionID)] }
    public var auditSummary: String { "Session \(sessionID) scheduled for \(ClinicalTime.format(scheduledFor.nanosecondsSince1970))" }
}

extension Ketamine_V1_PreSessionCheckRecorded: ClinicalMessage {
    public static var eventType: ClinicalEventType { .preSessionCheckRecorded }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(sessionID, "sessionId")
        try f.moment(hasLastSolidFoodAt, lastSolidFoodAt, "lastSolidFoodAt")
        try f.moment(hasLastClearLiquidAt, lastClearLiquidAt, "lastClearLiquidAt")
        try f.text(escortName, "escortName")
        try f.bloodPressure(hasBloodPressure, bloodPressure, "bloodPressure")
        try f.within(heartRate, 20...250, "heartRate", unit: "beats per minute")
        try f.within(spo2, 50...100, "spo2", unit: "percent")
        if hasBaselineMoaas { try f.within(baselineMoaas, 0...5, "baselineMoaas", unit: "points") }
        try f.optionalText(hasBpOverrideReason, bpOverrideReason, "bpOverrideReason", limit: FieldCheck.longTextBytes)
    }
    public var references: [ClinicalReference] { [ClinicalReference(.session, sessionID, field: "sessionId")] }
    public var auditSummary: String { "Pre-session check for \(sessionID): BP \(bloodPressure.systolic)/\(bloodPressure.diastolic)" }
}

extension Ketamine_V1_DoseAdministered: ClinicalMessage {
    public static var eventType: ClinicalEventType { .doseAdministered }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(sessionID, "sessionId")
        try f.identifier(planID, "planId")
        try f.choice(drug, "drug")
        try f.choice(route, "route")
        try f.choice(setting, "setting")
        try f.positive(doseMg, "doseMg")
        try f.within(weightKg, 2...500, "weightKg", unit: "kg")
        try f.text(lotNumber, "lotNumber")
        try f.moment(hasStartedAt, startedAt, "startedAt")
        if hasInfusionMinutes { try f.within(infusionMinutes, 1...600, "infusionMinutes", unit: "minutes") }
        if hasDevices { try f.within(devices, 1...10, "devices", unit: "devices") }
        if hasPrescriberOnSiteID && !prescriberOnSiteID.isEmpty { try f.identifier(prescriberOnSiteID, "prescriberOnSiteId") }
    }
    public var references: [ClinicalReference] {
        [ClinicalReference(.plan, planID, field: "planId"), ClinicalReference(.session, sessionID, field: "sessionId")]
    }
    public var auditSummary: String { "Dose \(doseMg.plainText) mg \(drug.label) \(route.label) in session \(sessionID)" }
}

extension Ketamine_V1_VitalsRecorded: ClinicalMessage {
    public static var eventType: ClinicalEventType { .vitalsRecorded }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(sessionID, "sessionId")
        try f.moment(hasMeasuredAt, measuredAt, "measuredAt")
        try f.bloodPressure(hasBloodPressure, bloodPressure, "bloodPressure")
        try f.within(heartRate, 20...250, "heartRate", unit: "beats per minute")
        try f.within(spo2, 50...100, "spo2", unit: "percent")
        if hasRespiratoryRate { try f.within(respiratoryRate, 1...80, "respiratoryRate", unit: "breaths per minute") }
        if hasMoaas { try f.within(moaas, 0...5, "moaas", unit: "points") }
    }
    public var references: [ClinicalReference] { [ClinicalReference(.session, sessionID, field: "sessionId")] }
    public var auditSummary: String {
        "Vitals in \(sessionID): BP \(bloodPressure.systolic)/\(bloodPressure.diastolic), HR \(heartRate), SpO2 \(spo2)%"
            + (hasRespiratoryRate ? ", RR \(respiratoryRate)" : "") + (hasMoaas ? ", MOAA/S \(moaas)" : "")
    }
}

extension Ketamine_V1_SideEffectObserved: ClinicalMessage {
    public static var eventType: ClinicalEventType { .sideEffectObserved }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(sideEffectID, "sideEffectId")
        try f.optionalIdentifier(hasSessionID, sessionID, "sessionId")
        try f.choice(kind, "kind")
        try f.choice(severity, "severity")
        try f.moment(hasOnsetAt, onsetAt, "onsetAt")
        try f.optionalText(hasDescription_p, description_p, "description", limit: FieldCheck.longTextBytes)
    }
    public var references: [ClinicalReference] { hasSessionID ? [ClinicalReference(.session, sessionID, field: "sessionId")] : [] }
    public var definitions: [ClinicalReference] { [ClinicalReference(.sideEffect, sideEffectID)] }
    public var auditSummary: String { "Side effect \(sideEffectID): \(severity.label) \(kind.label)\(serious ? " (serious)" : "")" }
}

extension Ketamine_V1_SideEffectResolved: ClinicalMessage {
    public static var eventType: ClinicalEventType { .sideEffectResolved }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(sideEffectID, "sideEffectId")
        try f.moment(hasResolvedAt, resolvedAt, "resolvedAt")
    }
    public var references: [ClinicalReference] { [ClinicalReference(.sideEffect, sideEffectID, field: "sideEffectId")] }
    public var auditSummary: String { "Side effect \(sideEffectID) resolved" }
}

extension Ketamine_V1_PatientDischarged: ClinicalMessage {
    public static var eventType: ClinicalEventType { .patientDischarged }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(sessionID, "sessionId")
        try f.moment(hasDischargedAt, dischargedAt, "dischargedAt")
        try f.within(aldreteScore, 0...10, "aldreteScore", unit: "points")
    }
    public var references: [ClinicalReference] { [ClinicalReference(.session, sessionID, field: "sessionId")] }
    public var auditSummary: String { "Discharged from \(sessionID), Aldrete \(aldreteScore)" }
}

extension Ketamine_V1_SessionCancelled: ClinicalMessage {
    public static var eventType: ClinicalEventType { .sessionCancelled }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(sessionID, "sessionId")
        try f.text(reason, "reason", limit: FieldCheck.longTextBytes)
    }
    public var references: [ClinicalReference] { [ClinicalReference(.session, sessionID, field: "sessionId")] }
    public var auditSummary: String { "Session \(sessionID) cancelled: \(reason)" }
}

extension Ketamine_V1_RemsMonitoringFormSubmitted: ClinicalMessage {
    public static var eventType: ClinicalEventType { .remsMonitoringFormSubmitted }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(sessionID, "sessionId")
        try f.moment(hasSubmittedAt, submittedAt, "submittedAt")
    }
    public var references: [ClinicalReference] { [ClinicalReference(.session, sessionID, field: "sessionId")] }
    public var auditSummary: String { "REMS monitoring form for \(sessionID) submitted" }
}

extension Ketamine_V1_DrugWasted: ClinicalMessage {
    public static var eventType: ClinicalEventType { .drugWasted }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(sessionID, "sessionId")
        try f.choice(drug, "drug")
        try f.text(lotNumber, "lotNumber")
        try f.positive(amountMg, "amountMg")
        try f.identifier(witnessedBy, "witnessedBy")
    }
    public var references: [ClinicalReference] { [ClinicalReference(.session, sessionID, field: "sessionId")] }
    public var auditSummary: String { "Wasted \(amountMg.plainText) mg \(drug.label) (lot \(lotNumber)), witness \(witnessedBy)" }
}

extension Ketamine_V1_EntryVoided: ClinicalMessage {
    public static var eventType: ClinicalEventType { .entryVoided }
    public func checkFields(_ f: FieldCheck) throws {
        try f.identifier(voidedEventID, "voidedEventId")
        try f.text(reason, "reason", limit: FieldCheck.longTextBytes)
    }
    // The voided event is checked by the validator itself: it must be the patient's, not a
    // registration or a void, and not voided already.
    public var definitions: [ClinicalReference] { [ClinicalReference(.voided, voidedEventID)] }
    public var auditSummary: String { "Voided \(voidedEventID): \(reason)" }
}

extension Ketamine_V1_RecordAccessed: ClinicalMessage {
    public static var eventType: ClinicalEventType { .recordAccessed }
    public func checkFields(_ f: FieldCheck) throws {
        try f.choice(purpose, "purpose")
        try f.text(description_p, "description", limit: FieldCheck.longTextBytes)
        if purpose == .disclosure && (!hasDisclosedTo || disclosedTo.isEmpty) {
            throw f.refuse("disclosedTo", "is required when the purpose is disclosure")
        }
        try f.optionalText(hasDisclosedTo, disclosedTo, "disclosedTo")
    }
    public var auditSummary: String {
        "Record read for \(purpose.label)\(hasDisclosedTo ? ", disclosed to \(disclosedTo)" : ""): \(description_p)"
    }
}

extension Ketamine_V1_PatientForgotten: ClinicalMessage {
    public static var eventType: ClinicalEventType { .patientForgotten }
    public func checkFields(_ f: FieldCheck) throws {
        try f.text(reason, "reason", limit: FieldCheck.longTextBytes)
    }
    public var definitions: [ClinicalReference] { [ClinicalReference(.forgotten, "")] }
    public var auditSummary: String { "Patient forgotten, data key destroyed: \(reason)" }
}
