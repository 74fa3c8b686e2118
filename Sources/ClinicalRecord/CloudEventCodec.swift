import EventStore
import Foundation
import SwiftProtobuf

/// CloudEvents 1.0 structured JSON, one event per line (EVENTS.md, Interchange).
public enum CloudEventCodec {
    /// The attributes a line may carry: those a writer gives, and those an export adds (ignored on import).
    static let writerAttributes: Set<String> = [
        "specversion", "id", "source", "type", "subject", "time", "actorid", "actorrole",
        "datacontenttype", "data", "expectedversion", "correlationid", "causationid",
    ]
    static let exportAttributes: Set<String> = ["sequence", "streamversion", "recordedtime", "chainhash"]

    /// Parses one line. Every refusal names the attribute or field and the reason.
    public static func decode(_ line: some Collection<UInt8>, lineNumber: Int? = nil) throws(ValidationError) -> ClinicalEventInput {
        do {
            return try decodeLine(Data(line))
        } catch let error as ValidationError {
            throw error.at(line: lineNumber)
        } catch {
            throw ValidationError(line: lineNumber, field: "line", reason: "\(error)")
        }
    }

    private static func decodeLine(_ line: Data) throws -> ClinicalEventInput {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: line)
        } catch {
            throw ValidationError(field: "line", reason: "is not valid JSON")
        }
        guard let attributes = object as? [String: Any] else {
            throw ValidationError(field: "line", reason: "is not a JSON object")
        }
        for name in attributes.keys.sorted() where !writerAttributes.contains(name) && !exportAttributes.contains(name) {
            throw ValidationError(field: name, reason: "is not an attribute of this interchange format")
        }
        func string(_ name: String, required: Bool = true) throws -> String? {
            guard let value = attributes[name] else {
                if required { throw ValidationError(field: name, reason: "is required") }
                return nil
            }
            guard let text = value as? String else { throw ValidationError(field: name, reason: "must be a string") }
            if required && text.isEmpty { throw ValidationError(field: name, reason: "is required and must not be empty") }
            return text
        }
        guard try string("specversion") == "1.0" else {
            throw ValidationError(field: "specversion", reason: "must be \"1.0\"")
        }
        let id = try string("id")!
        let source = try string("source")!
        let typeName = try string("type")!
        guard let type = ClinicalEventType(cloudEventType: typeName) else {
            throw ValidationError(field: "type", reason: "\(typeName) is not a known event type")
        }
        let subject = try string("subject")!
        let timeText = try string("time")!
        guard let time = ClinicalTime.parse(timeText) else {
            throw ValidationError(field: "time", reason: "must be an RFC 3339 time from \(ClinicalTime.representable), not \(timeText.debugDescription)")
        }
        let actorId = try string("actorid")!
        let roleName = try string("actorrole")!
        guard let role = ActorRole(rawValue: roleName) else {
            throw ValidationError(field: "actorrole", reason: "must be one of \(ActorRole.allCases.map(\.rawValue).joined(separator: ", ")), not \(roleName.debugDescription)")
        }
        let contentType = try string("datacontenttype", required: false)
        if let contentType, contentType != "application/json" {
            throw ValidationError(field: "datacontenttype", reason: "must be application/json, not \(contentType)")
        }
        var expectedVersion: UInt64?
        if let value = attributes["expectedversion"] {
            if Swift.type(of: value) != Bool.self, let number = value as? NSNumber, number.doubleValue >= 0, number.doubleValue == number.doubleValue.rounded() {
                expectedVersion = number.uint64Value
            } else if let text = value as? String, let parsed = UInt64(text) {
                expectedVersion = parsed
            } else {
                throw ValidationError(field: "expectedversion", reason: "must be a whole number of events, 0 or more")
            }
        }
        guard let data = attributes["data"] else { throw ValidationError(field: "data", reason: "is required") }
        guard let dataObject = data as? [String: Any] else { throw ValidationError(field: "data", reason: "must be a JSON object") }
        let message: any SwiftProtobuf.Message
        do {
            let json = try JSONSerialization.data(withJSONObject: dataObject)
            message = try type.messageType.init(jsonUTF8Bytes: json, options: JSONDecodingOptions())
        } catch let error as JSONDecodingError {
            throw ValidationError(field: "data", reason: describe(error, type: type))
        }
        return ClinicalEventInput(
            id: id, source: source, patientId: subject, time: time, actorId: actorId, actorRole: role,
            message: message, expectedVersion: expectedVersion,
            correlationId: try string("correlationid", required: false),
            causationId: try string("causationid", required: false), dataContentType: contentType)
    }

    private static func describe(_ error: JSONDecodingError, type: ClinicalEventType) -> String {
        switch error {
        case .unknownField(let name): "\(name) is not a field of \(type.name)"
        case .unrecognizedEnumValue: "holds a value that is not one of its enum's values"
        case .malformedNumber, .numberRange: "holds a number that is malformed or out of its type's range"
        case .malformedString: "holds a malformed string"
        case .malformedBool: "holds a malformed boolean"
        default: "does not parse as \(type.name): \(error)"
        }
    }

    /// One line of export: the event's attributes in a fixed order, then what the store assigned.
    public static func encode(_ event: ClinicalEvent) throws -> String {
        var out = "{"
        func attribute(_ name: String, _ value: String, first: Bool = false) {
            if !first { out += "," }
            out += "\"\(name)\":"
            appendQuoted(value, to: &out)
        }
        attribute("specversion", "1.0", first: true)
        attribute("id", event.id)
        attribute("source", event.source)
        attribute("type", event.type.cloudEventType)
        attribute("subject", event.patientId)
        attribute("time", ClinicalTime.format(event.time))
        attribute("actorid", event.actorId)
        attribute("actorrole", event.actorRole?.rawValue ?? "")
        if let value = event.dataContentType { attribute("datacontenttype", value) }
        if let value = event.correlationId { attribute("correlationid", value) }
        if let value = event.causationId { attribute("causationid", value) }
        out += ",\"data\":" + (try event.message.jsonString())
        attribute("sequence", String(event.sequence))
        out += ",\"streamversion\":\(event.streamVersion)"
        attribute("recordedtime", ClinicalTime.format(event.recordedAt))
        attribute("chainhash", Bytes.hex(event.chainHash))
        out += "}"
        return out
    }

    static func appendQuoted(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
