/// Who records: the `actorrole` of an event. Each role may record the types in EVENTS.md's table.
public enum ActorRole: String, CaseIterable, Sendable, Codable {
    case psychiatrist, physician, nurse, staff, admin, auditor, system

    private static let staffTypes: Set<ClinicalEventType> = [
        .patientRegistered, .patientDetailsUpdated, .sessionScheduled, .sessionCancelled,
        .consentWithdrawn, .remsMonitoringFormSubmitted, .recordAccessed, .entryVoided,
    ]
    private static let nurseTypes = staffTypes.union([
        .assessmentRecorded, .preSessionCheckRecorded, .doseAdministered, .vitalsRecorded,
        .sideEffectObserved, .sideEffectResolved, .patientDischarged, .drugWasted,
    ])
    private static let physicianTypes = nurseTypes.union([
        .medicalHistoryRecorded, .medicationChanged, .consentGiven, .remsEnrolled, .treatmentPlanned,
    ])
    private static let psychiatristTypes = physicianTypes.union([.evaluationCompleted])

    /// Whether this role may record events of `type`.
    public func mayRecord(_ type: ClinicalEventType) -> Bool {
        switch self {
        case .staff: Self.staffTypes.contains(type)
        case .nurse: Self.nurseTypes.contains(type)
        case .physician: Self.physicianTypes.contains(type)
        case .psychiatrist: Self.psychiatristTypes.contains(type)
        // Forgetting a patient is a privacy officer's act (an extension of EVENTS.md's table).
        case .admin: type == .recordAccessed || type == .patientForgotten
        case .auditor: type == .recordAccessed
        case .system: true
        }
    }

    /// "a nurse", "an auditor".
    public var withArticle: String {
        (rawValue.first.map { "aeiou".contains($0) } ?? false ? "an " : "a ") + rawValue
    }

    /// Whether this role may void an entry that another actor recorded.
    public var mayVoidOthersEntries: Bool {
        self == .physician || self == .psychiatrist || self == .system
    }
}
