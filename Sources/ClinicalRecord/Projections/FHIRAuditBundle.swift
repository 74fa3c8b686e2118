import Foundation

/// The audit trail as a FHIR R4 `Bundle` (type `collection`) of `AuditEvent` resources shaped
/// as IHE Basic Audit Log Patterns (BALP) 1.1 describe them (docs/FHIR.md, "Audit events"):
///
/// - a clinical entry recorded: **PatientCreate** (`rest` / `create`, action C);
/// - a record read (`RecordAccessed`): **PatientRead** (`rest` / `read`, action R), its purpose
///   coded from v3-ActReason (`audit` is HCOMPL, health compliance);
/// - a disclosure (`RecordAccessed` with purpose `disclosure`): **PrivacyDisclosure.Source**
///   (DICOM 110106 Export / ISO 21089 `disclose`), with the recipient as its own agent;
/// - a void (`EntryVoided`): **PatientUpdate** (`rest` / `update`, action U).
///
/// Each event has the pattern's agents: the application that sent or received the data (DICOM
/// 110153 Source Role ID or 110152 Destination Role ID, network: the event's `source` URI), the
/// store (the other of the two, also the `source.observer`), and the user (v3-ParticipationType
/// AUT when recording, IRCP when reading), with their role as a coding of this project's roles
/// and as text. The patient is an entity with role Patient and a reference made by ``FHIRId``;
/// the event itself is the data entity (role Domain Resource), named by its id and type only.
/// No entity carries the entry's summary, which may hold names, birth dates or weights.
public enum FHIRAuditBundle {
    struct Meta: Encodable { var profile: [String] }
    struct Coding: Encodable { var system: String?; var code: String; var display: String? }
    struct CodeableConcept: Encodable { var coding: [Coding]?; var text: String? }
    struct Identifier: Encodable { var system: String?; var value: String }
    struct Reference: Encodable { var reference: String?; var identifier: Identifier?; var display: String? }
    struct Period: Encodable { var start: String; var end: String }
    struct Network: Encodable { var address: String; var type: String }
    struct Agent: Encodable {
        var type: CodeableConcept
        var role: [CodeableConcept]?
        var who: Reference
        var name: String?
        var requestor: Bool
        var network: Network?
    }
    struct Source: Encodable { var site: String?; var observer: Reference; var type: [Coding]? }
    struct Detail: Encodable { var type: String; var valueString: String }
    struct Entity: Encodable { var what: Reference; var type: Coding?; var role: Coding?; var description: String?; var detail: [Detail]? }
    struct AuditEvent: Encodable {
        var resourceType = "AuditEvent"
        var id: String
        var meta: Meta
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

    static let balp = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/"
    static let dicom = "http://dicom.nema.org/resources/ontology/DCM"
    static let participation = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
    static let actReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    /// This project's roles (ActorRole), as a code system of its own: no HL7 system covers all six.
    public static let roleSystem = "urn:patient-record-store:actor-role"
    /// The system of the record's own event ids.
    public static let eventIdSystem = "urn:patient-record-store:event-id"
    /// The system of the record's own patient ids.
    public static let patientIdSystem = "urn:patient-record-store:patient-id"

    static let sourceRole = CodeableConcept(coding: [Coding(system: dicom, code: "110153", display: "Source Role ID")], text: nil)
    static let destinationRole = CodeableConcept(coding: [Coding(system: dicom, code: "110152", display: "Destination Role ID")], text: nil)

    /// A read's purpose as v3-ActReason PurposeOfUse; `nil` for a disclosure, whose reason the
    /// record does not code (the disclosure itself is shown by the event's type).
    static func purpose(_ name: String) -> CodeableConcept? {
        let coded: (String, String)? = switch name {
        case "treatment": ("TREAT", "treatment")
        case "payment": ("HPAYMT", "healthcare payment")
        case "operations": ("HOPERAT", "healthcare operations")
        case "audit": ("HCOMPL", "health compliance")
        case "patient_request": ("PATRQT", "patient requested")
        default: nil
        }
        guard let (code, display) = coded else { return name == "disclosure" ? nil : CodeableConcept(coding: nil, text: name) }
        return CodeableConcept(coding: [Coding(system: actReason, code: code, display: display)], text: name)
    }

    /// The store as an agent and as the observer: the same reference in both places (BALP's
    /// val-audit-source asks that of a disclosure).
    static func store(_ storeId: String?) -> Reference {
        Reference(reference: nil, identifier: storeId.map { Identifier(system: "urn:ietf:rfc:3986", value: "urn:patient-record-store:" + $0) },
                  display: "PatientRecordStore")
    }

    static func auditEvent(_ entry: AuditEntry, storeId: String?) -> AuditEvent {
        let disclosure = entry.action == .read && entry.purpose == "disclosure"
        let (profile, type, subtype, action): (String, Coding, [Coding], String)
        let rest = Coding(system: "http://terminology.hl7.org/CodeSystem/audit-event-type", code: "rest", display: "Restful Operation")
        func interaction(_ code: String) -> Coding { Coding(system: "http://hl7.org/fhir/restful-interaction", code: code, display: code) }
        switch entry.action {
        case .create: (profile, type, subtype, action) = ("IHE.BasicAudit.PatientCreate", rest, [interaction("create")], "C")
        case .void: (profile, type, subtype, action) = ("IHE.BasicAudit.PatientUpdate", rest, [interaction("update")], "U")
        case .read where disclosure:
            (profile, type, subtype, action) = (
                "IHE.BasicAudit.PrivacyDisclosure.Source", Coding(system: dicom, code: "110106", display: "Export"),
                [Coding(system: "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle", code: "disclose", display: "Disclose Record Lifecycle Event"),
                 interaction("read")], "R")
        case .read: (profile, type, subtype, action) = ("IHE.BasicAudit.PatientRead", rest, [interaction("read")], "R")
        }
        let store = store(storeId)
        let storeNetwork = storeId.map { Network(address: "urn:patient-record-store:" + $0, type: "5") }
        let application = Reference(reference: nil, identifier: Identifier(system: "urn:ietf:rfc:3986", value: entry.source), display: nil)
        let applicationNetwork = Network(address: entry.source, type: "5")
        let user = Agent(
            type: CodeableConcept(coding: [entry.action == .read
                ? Coding(system: participation, code: "IRCP", display: "information recipient")
                : Coding(system: participation, code: "AUT", display: "author (originator)")], text: nil),
            role: [CodeableConcept(coding: [Coding(system: roleSystem, code: entry.actorRole, display: entry.actorRole)], text: entry.actorRole)],
            who: Reference(reference: nil, identifier: Identifier(system: "urn:patient-record-store:actor-id", value: entry.actorId), display: entry.actorId),
            name: nil, requestor: true, network: nil)
        var agents: [Agent]
        if disclosure {
            // The store releases the record (source, = observer); the recipient receives it.
            agents = [
                Agent(type: sourceRole, role: nil, who: store, name: nil, requestor: false, network: storeNetwork),
                Agent(type: destinationRole, role: nil,
                      who: Reference(reference: nil, identifier: nil, display: entry.disclosedTo ?? "recipient not recorded"),
                      // Where the record went is not recorded (RecordAccessed has the
                      // recipient's name only), so the recipient has no network.
                      name: entry.disclosedTo, requestor: false, network: nil),
                Agent(type: CodeableConcept(coding: [Coding(system: participation, code: "AUT", display: "author (originator)")], text: "disclosed by"),
                      role: user.role, who: user.who, name: nil, requestor: true, network: nil),
            ]
        } else if entry.action == .read {
            // Data flows from the store (source) to the application that showed it (destination).
            agents = [
                Agent(type: destinationRole, role: nil, who: application, name: nil, requestor: false, network: applicationNetwork),
                Agent(type: sourceRole, role: nil, who: store, name: nil, requestor: false, network: storeNetwork),
                user,
            ]
        } else {
            // Data flows from the application (source) into the store (destination).
            agents = [
                Agent(type: sourceRole, role: nil, who: application, name: nil, requestor: false, network: applicationNetwork),
                Agent(type: destinationRole, role: nil, who: store, name: nil, requestor: false, network: storeNetwork),
                user,
            ]
        }
        var details = [Detail(type: "sequence", valueString: String(entry.sequence))]
        if let voidedBy = entry.voidedBy { details.append(Detail(type: "voidedBy", valueString: voidedBy)) }
        let entities = [
            Entity(what: Reference(reference: FHIRId.resource("Patient", entry.patientId),
                                   identifier: Identifier(system: patientIdSystem, value: entry.patientId), display: nil),
                   type: Coding(system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "1", display: "Person"),
                   role: Coding(system: "http://terminology.hl7.org/CodeSystem/object-role", code: "1", display: "Patient"),
                   description: nil, detail: nil),
            Entity(what: Reference(reference: nil, identifier: Identifier(system: eventIdSystem, value: entry.eventId), display: entry.type),
                   type: Coding(system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "2", display: "System Object"),
                   role: Coding(system: "http://terminology.hl7.org/CodeSystem/object-role", code: "4", display: "Domain Resource"),
                   description: entry.type, detail: details),
        ]
        return AuditEvent(
            id: FHIRId.make(entry.eventId),
            meta: Meta(profile: [balp + profile]),
            type: type, subtype: subtype, action: action,
            period: Period(start: entry.occurredAt, end: entry.occurredAt),
            recorded: entry.recordedAt,
            purposeOfEvent: entry.purpose.flatMap(purpose).map { [$0] },
            agent: agents,
            source: Source(site: nil, observer: store,
                           type: [Coding(system: "http://terminology.hl7.org/CodeSystem/security-source-type", code: "4", display: "Application Server")]),
            entity: entities)
    }

    /// The bundle as JSON (keys sorted, so the same trail gives the same bytes).
    public static func json(for entries: [AuditEntry], storeId: String? = nil, bundleId: String = UUID().uuidString.lowercased(), now: Date = Date()) throws -> Data {
        var out = Array(bundleStart(bundleId: bundleId, now: now).utf8)
        for (index, entry) in entries.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += try entryJSON(entry, storeId: storeId)
        }
        out += Array(bundleEnd.utf8)
        return Data(out)
    }

    /// The bundle written as it goes: ``bundleStart(bundleId:now:)``, each
    /// ``entryJSON(_:storeId:)`` separated by commas, then ``bundleEnd``, so that a trail of
    /// any length needs no tree of it in memory.
    public static func bundleStart(bundleId: String = UUID().uuidString.lowercased(), now: Date = Date()) -> String {
        let timestamp = ClinicalTime.format(Int64(now.timeIntervalSince1970) * 1_000_000_000)
        return "{\"resourceType\":\"Bundle\",\"id\":" + CloudEventCodec.quoted(FHIRId.make(bundleId))
            + ",\"type\":\"collection\",\"timestamp\":\"" + timestamp + "\",\"entry\":["
    }

    public static let bundleEnd = "]}"

    /// One `entry` of the bundle (`fullUrl` and the AuditEvent) as JSON, keys sorted. `storeId`
    /// names the store in the store's agent and as the observer.
    public static func entryJSON(_ entry: AuditEntry, storeId: String? = nil) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(Entry(fullUrl: FHIRId.fullUrl("AuditEvent", entry.eventId), resource: auditEvent(entry, storeId: storeId))))
    }
}
