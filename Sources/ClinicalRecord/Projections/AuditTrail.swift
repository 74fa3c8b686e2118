import SwiftProtobuf

/// One line of the audit trail: who did what, when, to which record.
public struct AuditEntry: Sendable, Encodable, Hashable {
    /// `create` for clinical entries, `read` for record accesses, `void` for voids.
    public enum Action: String, Sendable, Codable { case create, read, void }

    public var sequence: UInt64
    public var eventId: String
    public var recordedAt: String
    public var occurredAt: String
    public var actorId: String
    public var actorRole: String
    public var action: Action
    public var patientId: String
    public var type: String
    public var summary: String
    /// Set on an entry that a later `EntryVoided` voided.
    public var voidedBy: String?
    /// For record accesses: the purpose (`audit`, `disclosure`, …) and the recipient of a disclosure.
    public var purpose: String?
    public var disclosedTo: String?
    /// For record accesses: what was read or sent, as the reader described it.
    public var accessDescription: String?
    var recordedTime: Int64
    var source: String

    enum CodingKeys: String, CodingKey {
        case sequence, eventId, recordedAt, occurredAt, actorId, actorRole, action, patientId, type, summary, voidedBy, purpose, disclosedTo, accessDescription
    }
}

/// Which audit entries to return; every condition given must hold.
public struct AuditQuery: Sendable, Hashable {
    public var patientId: String?
    public var actorId: String?
    /// Recorded at or after this time (ns since 1970).
    public var since: Int64?
    /// Recorded at or before this time (ns since 1970).
    public var until: Int64?
    /// Only these types (short names, e.g. `DoseAdministered`).
    public var types: Set<String>?
    /// Only the last this many entries that match.
    public var limit: Int?

    public init(patientId: String? = nil, actorId: String? = nil, since: Int64? = nil, until: Int64? = nil, types: Set<String>? = nil, limit: Int? = nil) {
        self.patientId = patientId
        self.actorId = actorId
        self.since = since
        self.until = until
        self.types = types
        self.limit = limit
    }

    func matches(_ entry: AuditEntry) -> Bool {
        if let patientId, entry.patientId != patientId { return false }
        if let actorId, entry.actorId != actorId { return false }
        if let since, entry.recordedTime < since { return false }
        if let until, entry.recordedTime > until { return false }
        if let types, !types.contains(entry.type) { return false }
        return true
    }
}

/// One disclosure in the HIPAA accounting of disclosures.
public struct Disclosure: Sendable, Codable, Hashable {
    public var date: String
    public var recipient: String
    public var description: String
    public var purpose: String
    public var actorId: String
    public var eventId: String
    /// The void that voided this disclosure's entry later, if any: the disclosure was still made.
    public var voidedBy: String?
}

enum AuditSummary {
    static func entry(for event: ClinicalEvent) -> AuditEntry {
        let action: AuditEntry.Action = event.type == .recordAccessed ? .read : event.type == .entryVoided ? .void : .create
        let access = event.payload(as: Ketamine_V1_RecordAccessed.self)
        return AuditEntry(
            sequence: event.sequence, eventId: event.id, recordedAt: ClinicalTime.format(event.recordedAt),
            occurredAt: ClinicalTime.format(event.time), actorId: event.actorId, actorRole: event.actorRole?.rawValue ?? "unknown",
            action: action, patientId: event.patientId, type: event.type.name,
            summary: event.isForgotten ? "(the patient was forgotten: this entry can no longer be read)" : summary(event.message),
            voidedBy: nil, purpose: access?.purpose.label, disclosedTo: access.flatMap { $0.hasDisclosedTo ? $0.disclosedTo : nil },
            accessDescription: access?.description_p,
            recordedTime: event.recordedAt, source: event.source)
    }

    static func time(_ stamp: Google_Protobuf_Timestamp) -> String { ClinicalTime.format(stamp.nanosecondsSince1970) }

    /// A one-line description a clinician or auditor can read.
    static func summary(_ message: any SwiftProtobuf.Message) -> String {
        (message as? any ClinicalMessage)?.auditSummary ?? "Event of type \(Swift.type(of: message).protoMessageName)"
    }
}
