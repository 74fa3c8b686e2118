/// The compliance rules (docs/COMPLIANCE.md): 34 in version 2. Each is judged by one small type
/// behind ``DoseRule``, ``AssessmentRule`` or ``WasteRule`` (`Rules/`); this is their names.
public enum Rule: String, CaseIterable, Sendable, Codable {
    case consentBeforeDose = "consent-before-dose"
    case evaluationBeforeFirstDose = "evaluation-before-first-dose"
    case baselineAssessment = "baseline-assessment"
    case medicalHistoryBeforeDose = "medical-history-before-dose"
    case contraindication
    case substanceUseDisorder = "substance-use-disorder"
    case interactingMedication = "interacting-medication"
    case minimumAge = "minimum-age"
    case preSessionCheckMissing = "pre-session-check-missing"
    case fasting
    case escort
    case bloodPressureThreshold = "blood-pressure-threshold"
    case dosePlanMismatch = "dose-plan-mismatch"
    case doseRange = "dose-range"
    case infusionDuration = "infusion-duration"
    case doseBeforeRiskEvaluation = "dose-before-risk-evaluation"
    case esketamineVitals = "esketamine-vitals"
    case postDoseVitalsAlert = "post-dose-vitals-alert"
    case dischargeVitals = "discharge-vitals"
    case monitoringDuration = "monitoring-duration"
    case dischargeWithUnresolvedEffect = "discharge-with-unresolved-effect"
    case dischargeReadiness = "discharge-readiness"
    case drivingAdvice = "driving-advice"
    case esketamineSetting = "esketamine-setting"
    case prescriberOnSite = "prescriber-on-site"
    case remsEnrollment = "rems-enrollment"
    case remsFormDeadline = "rems-form-deadline"
    case offLabelConsent = "off-label-consent"
    case sessionFrequency = "session-frequency"
    case measurementBasedCare = "measurement-based-care"
    case suicideRiskFollowUp = "suicide-risk-follow-up"
    case wasteWitness = "waste-witness"
    case wasteReconciliation = "waste-reconciliation"
    case integrity

    public enum Severity: String, Sendable, Codable { case error, warning }

    public var severity: Severity {
        switch self {
        case .baselineAssessment, .substanceUseDisorder, .interactingMedication, .infusionDuration,
             .drivingAdvice, .offLabelConsent, .sessionFrequency, .measurementBasedCare, .suicideRiskFollowUp:
            .warning
        case .consentBeforeDose, .evaluationBeforeFirstDose, .medicalHistoryBeforeDose, .contraindication,
             .minimumAge, .preSessionCheckMissing, .fasting, .escort, .bloodPressureThreshold, .dosePlanMismatch,
             .doseRange, .doseBeforeRiskEvaluation, .esketamineVitals, .postDoseVitalsAlert, .dischargeVitals,
             .monitoringDuration, .dischargeWithUnresolvedEffect, .dischargeReadiness, .esketamineSetting,
             .prescriberOnSite, .remsEnrollment, .remsFormDeadline, .wasteWitness, .wasteReconciliation, .integrity:
            .error
        }
    }
}

/// One broken rule: which, whose, where in the log, and a sentence a clinician understands.
public struct Finding: Sendable, Hashable, Codable {
    public var rule: Rule
    public var severity: Rule.Severity
    public var patient: String
    public var session: String?
    public var eventId: String
    public var sequence: UInt64
    public var message: String
    /// The store (its id) the finding was made in, when a replay judged several (a network's
    /// shipped logs); `nil` for a replay of one store.
    public var store: String?

    public init(rule: Rule, patient: String, session: String?, eventId: String, sequence: UInt64, message: String) {
        self.rule = rule
        self.severity = rule.severity
        self.patient = patient
        self.session = session
        self.eventId = eventId
        self.sequence = sequence
        self.message = message
    }
}
