import SwiftProtobuf

/// What every event message knows about itself: its event type, how its fields are checked, the
/// entries it refers to and defines, and the line the audit trail shows for it. Each message's
/// conformance (`ClinicalMessages.swift`) is the single home of that knowledge; the validator,
/// the reference index and the audit trail only ask.
public protocol ClinicalMessage: SwiftProtobuf.Message {
    /// The event type this message is the payload of.
    static var eventType: ClinicalEventType { get }
    /// Checks the fields: required ones present, enums known, numbers in range, texts within
    /// their limits. Throws ``EventValidationError`` naming `data.<field>` and the reason.
    func checkFields(_ check: FieldCheck) throws
    /// The entries of the same patient this event refers to: each must have been recorded earlier.
    var references: [ClinicalReference] { get }
    /// The entries this event defines, for later events to refer to.
    var definitions: [ClinicalReference] { get }
    /// One line an auditor reads (it may hold personal data: the audit trail is itself a read).
    var auditSummary: String { get }
}

extension ClinicalMessage {
    public var references: [ClinicalReference] { [] }
    public var definitions: [ClinicalReference] { [] }
}

/// An entry one event refers to or defines: a plan, a session, a consent, a side effect, a voided
/// event, or the patient's erasure.
public struct ClinicalReference: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case plan, session, consent, sideEffect = "side-effect", voided
        /// Set once, with an empty id, when the patient is forgotten.
        case forgotten
    }

    public let kind: Kind
    public let id: String
    /// The field that names it (`planId`), for a refusal.
    let field: String

    init(_ kind: Kind, _ id: String, field: String = "") {
        self.kind = kind
        self.id = id
        self.field = field
    }

    /// What it is called in a sentence: "plan", "side effect".
    var noun: String {
        switch kind {
        case .plan: "plan"
        case .session: "session"
        case .consent: "consent"
        case .sideEffect: "side effect"
        case .voided: "event"
        case .forgotten: "erasure"
        }
    }
}

/// The field checks every message's ``ClinicalMessage/checkFields(_:)`` uses. Each refusal names
/// the field as `data.<name>` and says what it must be.
public struct FieldCheck: Sendable {
    /// The event's clinical time (a birth date may not be after it).
    let eventTime: Int64

    /// The longest short text (names, codes, lot numbers, reasons), in UTF-8 bytes.
    public static let shortTextBytes = 500
    /// The longest long text (descriptions, notes), in UTF-8 bytes.
    public static let longTextBytes = 10_000

    func refuse(_ name: String, _ reason: String) -> EventValidationError {
        EventValidationError(field: "data.\(name)", reason: reason)
    }

    /// A required text, not blank, within `limit` bytes.
    public func text(_ value: String, _ name: String, limit: Int = shortTextBytes) throws {
        if value.allSatisfy(\.isWhitespace) { throw refuse(name, "is required and must not be empty") }
        try length(value, name, limit: limit)
    }

    /// An optional text: within `limit` bytes when present.
    public func optionalText(_ has: Bool, _ value: String, _ name: String, limit: Int = shortTextBytes) throws {
        if has { try length(value, name, limit: limit) }
    }

    private func length(_ value: String, _ name: String, limit: Int) throws {
        let bytes = value.utf8.count
        if bytes > limit { throw refuse(name, "is \(bytes) bytes long; at most \(limit) are allowed") }
    }

    /// An id another event may refer to (see ``Identifier``).
    public func identifier(_ value: String, _ name: String) throws {
        if let problem = Identifier.problem(value) { throw refuse(name, problem) }
    }

    public func optionalIdentifier(_ has: Bool, _ value: String, _ name: String) throws {
        if has { try identifier(value, name) }
    }

    public func present(_ has: Bool, _ name: String) throws {
        if !has { throw refuse(name, "is required") }
    }

    /// A required time the record can hold.
    public func moment(_ has: Bool, _ value: Google_Protobuf_Timestamp, _ name: String) throws {
        try present(has, name)
        if ClinicalTime.exactNanoseconds(value) == nil {
            throw refuse(name, "must be a time from \(ClinicalTime.representable)")
        }
    }

    /// A calendar date written `YYYY-MM-DD`.
    public func date(_ value: String, _ name: String) throws {
        try text(value, name)
        if !ClinicalTime.isDate(value) { throw refuse(name, "must be a date written YYYY-MM-DD, not \(value.debugDescription)") }
    }

    /// A birth date: a date from 1900 to the event's own day.
    public func birthDate(_ value: String, _ name: String) throws {
        try date(value, name)
        let day = String(ClinicalTime.format(eventTime).prefix(10))
        if value < "1900-01-01" { throw refuse(name, "must not be before 1900-01-01, not \(value)") }
        if value > day { throw refuse(name, "must not be after the event's own date (\(day)), not \(value)") }
    }

    /// An enum that is neither unspecified nor unknown.
    public func choice<E: SwiftProtobuf.Enum & CaseIterable>(_ value: E, _ name: String) throws {
        if value.rawValue == 0 { throw refuse(name, "is required; the unspecified value is not allowed") }
        // Generated enums list their known cases; a value read off the wire may be none of them.
        if !E.allCases.contains(value) { throw refuse(name, "has the unknown value \(value.rawValue)") }
    }

    public func within<T: Comparable & CustomStringConvertible>(_ value: T, _ range: ClosedRange<T>, _ name: String, unit: String) throws {
        if !range.contains(value) { throw refuse(name, "must be \(range.lowerBound)-\(range.upperBound) \(unit), not \(value)") }
    }

    public func positive(_ value: Double, _ name: String) throws {
        if !(value > 0) || !value.isFinite { throw refuse(name, "must be above 0 mg, not \(value)") }
    }

    public func bloodPressure(_ has: Bool, _ value: Ketamine_V1_BloodPressure, _ name: String) throws {
        try present(has, name)
        try within(value.systolic, 40...300, "\(name).systolic", unit: "mmHg")
        try within(value.diastolic, 20...200, "\(name).diastolic", unit: "mmHg")
    }

    public func conditions(_ values: [Ketamine_V1_Condition], _ name: String) throws {
        for (index, condition) in values.enumerated() {
            try text(condition.code, "\(name)[\(index)].code")
            try text(condition.display, "\(name)[\(index)].display")
        }
    }
}
