/// The compliance rules of COMPLIANCE.md.
public enum Rule: String, CaseIterable, Sendable, Codable {
    case consentBeforeDose = "consent-before-dose"
    case evaluationBeforeFirstDose = "evaluation-before-first-dose"
    case baselineAssessment = "baseline-assessment"
    case contraindication
    case preSessionCheckMissing = "pre-session-check-missing"
    case fasting
    case escort
    case bloodPressureThreshold = "blood-pressure-threshold"
    case esketamineVitals = "esketamine-vitals"
    case monitoringDuration = "monitoring-duration"
    case dischargeWithUnresolvedEffect = "discharge-with-unresolved-effect"
    case dischargeReadiness = "discharge-readiness"
    case drivingAdvice = "driving-advice"
    case esketamineSetting = "esketamine-setting"
    case remsEnrollment = "rems-enrollment"
    case remsFormDeadline = "rems-form-deadline"
    case doseRange = "dose-range"
    case sessionFrequency = "session-frequency"
    case suicideRiskFollowUp = "suicide-risk-follow-up"
    case wasteWitness = "waste-witness"
    case integrity

    public enum Severity: String, Sendable, Codable { case error, warning }

    public var severity: Severity {
        switch self {
        case .baselineAssessment, .drivingAdvice, .sessionFrequency, .suicideRiskFollowUp: .warning
        default: .error
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
