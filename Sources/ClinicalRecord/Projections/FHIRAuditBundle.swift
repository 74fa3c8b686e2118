import Foundation

/// The audit trail as a FHIR R4 `Bundle` (type `collection`) of `AuditEvent` resources.
///
/// Each event becomes one AuditEvent: `type` rest, `subtype` the FHIR interaction (create, read,
/// update for a void), `action` C/R/U, `recorded` the store's recorded time, `period` the clinical
/// time, the recording actor as the requesting agent, the recording system as source, and the
/// patient and the event as entities. Record accesses carry their purpose as `purposeOfEvent`.
public enum FHIRAuditBundle {
    struct Coding: Encodable { var system: String?; var code: String; var display: String? }
    struct CodeableConcept: Encodable { var coding: [Coding]?; var text: String? }
    struct Identifier: Encodable { var system: String?; var value: String }
    struct Reference: Encodable { var reference: String?; var identifier: Identifier?; var display: String? }
    struct Period: Encodable { var start: String; var end: String }
    struct Agent: Encodable { var type: CodeableConcept?; var role: [CodeableConcept]?; var who: Reference; var requestor: Bool }
    struct Source: Encodable { var site: String?; var observer: Reference; var type: [Coding]? }
    struct Detail: Encodable { var type: String; var valueString: String }
    struct Entity: Encodable { var what: Reference; var type: Coding?; var role: Coding?; var description: String?; var detail: [Detail]? }
    struct AuditEvent: Encodable {
        var resourceType = "AuditEvent"
        var id: String
        var type: Coding
        var subtype: [Coding]
        var action: String
        var period: Period
        var recorded: String
        var outcome = "0"
        var purposeOfEvent: [CodeableConcept]?
        var agent: [Agent]
        var source: Source
        var entity: [Entity]
    }
    struct Entry: Encodable { var fullUrl: String; var resource: AuditEvent }
    struct Bundle: Encodable {
        var resourceType = "Bundle"
        var id: String
        var type = "collection"
        var timestamp: String
        var total: Int?
        var entry: [Entry]
    }

    private static let actReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

    private static func purpose(_ name: String) -> CodeableConcept {
        let (code, display) = switch name {
        case "treatment": ("TREAT", "treatment")
        case "payment": ("HPAYMT", "healthcare payment")
        case "operations": ("HOPERAT", "healthcare operations")
        case "audit": ("HSYSADMIN", "health system administration")
        case "patient_request": ("PATRQT", "patient requested")
        default: ("HDIRECT", "directory health management")
        }
        let coding = name == "disclosure" ? Coding(system: nil, code: "disclosure", display: "disclosure") : Coding(system: actReason, code: code, display: display)
        return CodeableConcept(coding: name == "disclosure" ? nil : [coding], text: name)
    }

    /// FHIR ids allow letters, digits, `-` and `.`, at most 64 characters.
    private static func fhirId(_ text: String) -> String {
        let allowed = text.map { $0.isLetter && $0.isASCII || $0.isNumber && $0.isASCII || $0 == "-" || $0 == "." ? $0 : "-" }
        return String(String(allowed).prefix(64))
    }

    static func auditEvent(_ entry: AuditEntry) -> AuditEvent {
        let interaction = switch entry.action {
        case .create: ("create", "C")
        case .read: ("read", "R")
        case .void: ("update", "U")
        }
        var entities = [
            Entity(what: Reference(reference: "Patient/\(fhirId(entry.patientId))", identifier: nil, display: entry.patientId),
                   type: Coding(system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "1", display: "Person"),
                   role: Coding(system: "http://terminology.hl7.org/CodeSystem/object-role", code: "1", display: "Patient"),
                   description: nil, detail: nil),
            Entity(what: Reference(reference: nil, identifier: Identifier(system: "urn:ietf:rfc:3986", value: "urn:uuid:\(entry.eventId)"), display: entry.type),
                   type: Coding(system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "2", display: "System Object"),
                   role: nil, description: entry.summary,
                   detail: [Detail(type: "sequence", valueString: String(entry.sequence))]),
        ]
        if let voidedBy = entry.voidedBy {
            entities[1].detail?.append(Detail(type: "voidedBy", valueString: voidedBy))
        }
        return AuditEvent(
            id: fhirId(entry.eventId),
            type: Coding(system: "http://terminology.hl7.org/CodeSystem/audit-event-type", code: "rest", display: "RESTful Operation"),
            subtype: [Coding(system: "http://hl7.org/fhir/restful-interaction", code: interaction.0, display: interaction.0)],
            action: interaction.1,
            period: Period(start: entry.occurredAt, end: entry.occurredAt),
            recorded: entry.recordedAt,
            purposeOfEvent: entry.purpose.map { [purpose($0)] },
            agent: [Agent(
                type: nil, role: [CodeableConcept(coding: nil, text: entry.actorRole)],
                who: Reference(reference: nil, identifier: Identifier(system: nil, value: entry.actorId), display: entry.actorId),
                requestor: true)],
            source: Source(site: entry.source, observer: Reference(reference: nil, identifier: nil, display: "PatientRecordStore"),
                           type: [Coding(system: "http://terminology.hl7.org/CodeSystem/security-source-type", code: "4", display: "Application Server")]),
            entity: entities)
    }

    /// The bundle as JSON (keys sorted, so the same trail gives the same bytes).
    public static func json(for entries: [AuditEntry], bundleId: String = UUID().uuidString.lowercased(), now: Date = Date()) throws -> Data {
        var out = Array(bundleStart(bundleId: bundleId, now: now).utf8)
        for (index, entry) in entries.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += try entryJSON(entry)
        }
        out += Array(bundleEnd.utf8)
        return Data(out)
    }

    /// The bundle written as it goes: ``bundleStart(bundleId:now:)``, each ``entryJSON(_:)``
    /// separated by commas, then ``bundleEnd``, so that a trail of any length needs no tree of
    /// it in memory.
    public static func bundleStart(bundleId: String = UUID().uuidString.lowercased(), now: Date = Date()) -> String {
        let timestamp = ClinicalTime.format(Int64(now.timeIntervalSince1970) * 1_000_000_000)
        return "{\"resourceType\":\"Bundle\",\"id\":" + CloudEventCodec.quoted(fhirId(bundleId))
            + ",\"type\":\"collection\",\"timestamp\":\"" + timestamp + "\",\"entry\":["
    }

    public static let bundleEnd = "]}"

    /// One `entry` of the bundle (`fullUrl` and the AuditEvent) as JSON, keys sorted.
    public static func entryJSON(_ entry: AuditEntry) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(Entry(fullUrl: "urn:uuid:\(entry.eventId)", resource: auditEvent(entry))))
    }
}
