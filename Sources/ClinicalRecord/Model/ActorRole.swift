/// Who records: the `actorrole` of an event. What each role may record is said by each event
/// type (``ClinicalEventType``), in one exhaustive switch.
public enum ActorRole: String, CaseIterable, Sendable, Codable {
    case psychiatrist, physician, nurse, staff, admin, auditor, system

    /// Where the role stands among the clinical roles, if it is one.
    var ladder: ClinicalLadder? {
        switch self {
        case .staff: .staff
        case .nurse: .nurse
        case .physician: .physician
        case .psychiatrist: .psychiatrist
        case .admin, .auditor, .system: nil
        }
    }

    /// Whether this role may record events of `type`.
    public func mayRecord(_ type: ClinicalEventType) -> Bool {
        let allowed = type.recordedBy
        switch self {
        case .system: return true
        case .admin: return allowed.admin
        case .auditor: return allowed.auditor
        case .staff, .nurse, .physician, .psychiatrist:
            guard let least = allowed.clinical, let ladder else { return false }
            return ladder >= least
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
