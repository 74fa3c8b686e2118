@_spi(RawRecords) import EventStore
import Foundation
import SwiftProtobuf

/// CloudEvents 1.0 structured JSON, one event per line (docs/EVENTS.md, interchange).
///
/// Import is strict where the format is precise (a member given twice, `expectedversion` that
/// is not a whole number, an unknown core attribute) and open where CloudEvents is
/// (`dataschema`, media-type parameters, `data_base64` with `application/protobuf`, extension
/// attributes kept as written, `t` and `z` in lowercase).
public enum CloudEventCodec {
    /// The attributes an export adds; an import accepts and ignores them.
    static let exportAttributes: Set<String> = ["sequence", "streamversion", "recordedtime", "chainhash"]
    /// The attributes with a meaning here; any other is an extension attribute.
    static let knownAttributes: Set<String> = [
        "specversion", "id", "source", "type", "subject", "time", "actorid", "actorrole", "datacontenttype",
        "dataschema", "data", "data_base64", "expectedversion", "correlationid", "causationid",
    ]
    /// The longest line an import takes (a 50 MB name is no record).
    public static let maxLineBytes = 1 << 20

    /// Parses one line. Every refusal names the attribute or field and the reason.
    public static func decode(_ line: some Collection<UInt8>, lineNumber: Int? = nil) throws(EventValidationError) -> ClinicalEventInput {
        do {
            return try decodeLine(ArraySlice(line))
        } catch let error as EventValidationError {
            throw error.at(line: lineNumber)
        } catch {
            throw EventValidationError(line: lineNumber, field: "line", reason: DecodingText.reason(error))
        }
    }

    private static func decodeLine(_ line: ArraySlice<UInt8>) throws -> ClinicalEventInput {
        guard line.count <= maxLineBytes else {
            throw EventValidationError(field: "line", reason: "is \(line.count) bytes long; a line is at most \(maxLineBytes) bytes")
        }
        let members: [(key: String, value: JSONScanner.Value, raw: ArraySlice<UInt8>)]
        do {
            members = try JSONScanner.members(of: line)
        } catch {
            if error.syntax { throw EventValidationError(field: "line", reason: "is not valid JSON (\(error.reason))") }
            throw EventValidationError(field: error.member ?? "line", reason: error.reason)
        }
        // The attributes with a meaning, found by a linear search (a line has a dozen): cheaper
        // than hashing every name into a dictionary.
        var known: [(key: String, value: JSONScanner.Value)] = []
        known.reserveCapacity(members.count)
        var extensions: [(name: String, jsonValue: String)] = []
        for member in members {
            if knownAttributes.contains(member.key) || exportAttributes.contains(member.key) {
                known.append((member.key, member.value))
                continue
            }
            // Extension attributes: CloudEvents names (a-z, 0-9, at most 20) and scalar values.
            guard member.key.utf8.count <= 20, !member.key.isEmpty, member.key.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }) else {
                throw EventValidationError(field: member.key, reason: "is not an attribute of this interchange format, nor a CloudEvents extension name (a-z and 0-9, at most 20 characters)")
            }
            switch member.value {
            case .string, .number, .bool: extensions.append((member.key, String(decoding: member.raw, as: UTF8.self)))
            case .null: continue
            case .object, .array: throw EventValidationError(field: member.key, reason: "must be a string, a number or a boolean (a CloudEvents extension attribute)")
            }
        }
        struct Values {
            let members: [(key: String, value: JSONScanner.Value)]
            subscript(_ name: String) -> JSONScanner.Value? { members.first { $0.key == name }?.value }
        }
        let values = Values(members: known)
        func string(_ name: String, required: Bool = true) throws -> String? {
            guard let value = values[name], !(required == false && { if case .null = value { return true } else { return false } }()) else {
                if required { throw EventValidationError(field: name, reason: "is required") }
                return nil
            }
            guard case .string(let text) = value else { throw EventValidationError(field: name, reason: "must be a string, not \(value.kind)") }
            if required && text.isEmpty { throw EventValidationError(field: name, reason: "is required and must not be empty") }
            return text
        }
        guard try string("specversion") == "1.0" else {
            throw EventValidationError(field: "specversion", reason: "must be \"1.0\"")
        }
        let id = try string("id")!
        let source = try string("source")!
        let typeName = try string("type")!
        guard let type = ClinicalEventType(cloudEventType: typeName) else {
            throw EventValidationError(field: "type", reason: "\(typeName) is not a known event type")
        }
        let subject = try string("subject")!
        let timeText = try string("time")!
        guard let time = ClinicalTime.parse(timeText) else {
            throw EventValidationError(field: "time", reason: ClinicalTime.problem(timeText))
        }
        let actorId = try string("actorid")!
        let roleName = try string("actorrole")!
        guard let role = ActorRole(rawValue: roleName) else {
            throw EventValidationError(field: "actorrole", reason: "must be one of \(ActorRole.allCases.map(\.rawValue).joined(separator: ", ")), not \(roleName.debugDescription)")
        }
        let contentType = try string("datacontenttype", required: false)
        let mediaType = contentType.map(Self.mediaType)
        var expectedVersion: UInt64?
        if let value = values["expectedversion"] {
            switch value {
            case .number(let digits) where digits.allSatisfy({ (0x30...0x39).contains($0) }):
                guard let parsed = UInt64(String(decoding: digits, as: UTF8.self)) else {
                    throw EventValidationError(field: "expectedversion", reason: "must be a whole number of events from 0 to \(UInt64.max)")
                }
                expectedVersion = parsed
            case .string(let text) where !text.isEmpty && text.utf8.allSatisfy({ (0x30...0x39).contains($0) }):
                guard let parsed = UInt64(text) else {
                    throw EventValidationError(field: "expectedversion", reason: "must be a whole number of events from 0 to \(UInt64.max)")
                }
                expectedVersion = parsed
            case .null:
                break
            default:
                throw EventValidationError(field: "expectedversion", reason: "must be a whole number of events, 0 or more (not \(value.kind) such as true, -1 or 1.5)")
            }
        }
        let message: any SwiftProtobuf.Message
        switch (values["data"], values["data_base64"]) {
        case (.some, .some):
            throw EventValidationError(field: "data_base64", reason: "cannot be given with data; give one of them")
        case (.some(.object(let json)), nil):
            if let mediaType, mediaType != "application/json" {
                throw EventValidationError(field: "datacontenttype", reason: "must be application/json for data (parameters such as ; charset=utf-8 are allowed), not \(contentType ?? "")")
            }
            do {
                message = try type.messageType.init(jsonUTF8Bytes: Array(json), options: JSONDecodingOptions())
            } catch let error as JSONDecodingError {
                throw EventValidationError(field: "data", reason: describe(error, type: type))
            }
        case (.some(let other), nil):
            throw EventValidationError(field: "data", reason: "must be a JSON object, not \(other.kind)")
        case (nil, .some(.string(let encoded))):
            guard mediaType == "application/protobuf" else {
                throw EventValidationError(field: "datacontenttype", reason: "must be application/protobuf with data_base64 (the binary protobuf of the message named by type)")
            }
            guard let bytes = Data(base64Encoded: encoded) else {
                throw EventValidationError(field: "data_base64", reason: "is not valid base64")
            }
            do {
                let decoded = try type.messageType.init(serializedBytes: [UInt8](bytes))
                guard decoded.unknownFields.data.isEmpty else {
                    throw EventValidationError(field: "data_base64", reason: "holds fields that are not fields of \(type.name)")
                }
                message = decoded
            } catch let error as BinaryDecodingError {
                throw EventValidationError(field: "data_base64", reason: "does not decode as \(type.name): \(DecodingText.reason(error))")
            }
        case (nil, .some(let other)):
            throw EventValidationError(field: "data_base64", reason: "must be a base64 string, not \(other.kind)")
        case (nil, nil):
            throw EventValidationError(field: "data", reason: "is required (or data_base64 with application/protobuf)")
        }
        return ClinicalEventInput(
            id: id, source: source, patientId: subject, time: time, actorId: actorId, actorRole: role,
            message: message, expectedVersion: expectedVersion,
            correlationId: try string("correlationid", required: false),
            causationId: try string("causationid", required: false), dataContentType: contentType,
            dataSchema: try string("dataschema", required: false), extensions: extensions)
    }

    /// The media type of a content type, without parameters, in lowercase.
    static func mediaType(_ contentType: String) -> String {
        // Bytewise (no Foundation): the part before `;`, spaces and tabs trimmed, ASCII lowercased.
        var bytes = Array(contentType.utf8.prefix { $0 != UInt8(ascii: ";") })
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        let start = bytes.firstIndex { $0 != 0x20 && $0 != 0x09 } ?? bytes.count
        return String(decoding: bytes[start...].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    private static func describe(_ error: JSONDecodingError, type: ClinicalEventType) -> String {
        switch error {
        case .unknownField(let name): "\(name) is not a field of \(type.name)"
        case .unrecognizedEnumValue: "holds a value that is not one of its enum's values"
        case .malformedNumber, .numberRange: "holds a number that is malformed or out of its type's range"
        case .malformedString: "holds a malformed string"
        case .malformedBool: "holds a malformed boolean"
        case .malformedTimestamp: "holds a time that is not RFC 3339 in the range \(ClinicalTime.representable)"
        default: "does not parse as \(type.name): \(error)"
        }
    }

    /// One line of export: the event's attributes in a fixed order (extension attributes as they
    /// came), the data, then what the store assigned. `sequence` is zero-padded to 20 digits, so
    /// that it sorts as text (the CloudEvents sequence extension asks for that).
    public static func encode(_ event: ClinicalEvent) throws -> String {
        var out: [UInt8] = []
        var id = event.id, subject = event.patientId, actor = event.actorId
        try id.withUTF8 { id in
            try subject.withUTF8 { subject in
                try actor.withUTF8 { actor in
                    try write(
                        id: UnsafeRawBufferPointer(id), type: event.type, subject: UnsafeRawBufferPointer(subject), time: event.time,
                        actor: UnsafeRawBufferPointer(actor), envelope: event.envelope, message: event.message, payload: event.payload,
                        sequence: event.sequence, streamVersion: event.streamVersion, recordedAt: event.recordedAt,
                        chainHash: event.chainHash, into: &out)
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// One line of export for a stored record, written straight from its bytes (ids, actor and
    /// hash as stored; only the envelope and the payload are decoded), newline included.
    /// `nil` for a type this version does not know, a forgotten patient's event or a
    /// PatientForgotten: an export leaves those out.
    static func exportLine(_ record: EventRecordView) throws -> [UInt8]? {
        guard let type = ClinicalEventType(rawValue: record.type), type != .patientForgotten,
              record.payloadState != .keyDestroyed else { return nil }
        guard record.payloadState.isReadable else { throw UnreadablePayload(state: record.payloadState, sequence: record.sequence) }
        let envelope: Ketamine_V1_EventEnvelope, message: any ClinicalMessage
        do { envelope = try Ketamine_V1_EventEnvelope(serializedBytes: record.metadata.bytes) } catch {
            throw DecodingText.damagedRecord(sequence: record.sequence, part: "envelope", error)
        }
        do { message = try type.messageType.init(serializedBytes: record.payload.bytes) } catch {
            throw DecodingText.damagedRecord(sequence: record.sequence, part: "payload (\(type.name))", error)
        }
        var out: [UInt8] = []
        out.reserveCapacity(record.payload.count * 3 + 512)
        try write(id: record.idBytes, type: type, subject: record.streamIdBytes, time: record.occurredAt, actor: record.actorBytes,
                  envelope: envelope, message: message, payload: record.payload, sequence: record.sequence,
                  streamVersion: record.streamVersion, recordedAt: record.recordedAt, chainHash: record.chainHash, into: &out)
        out.append(0x0A)
        return out
    }

    private static func write(
        id: UnsafeRawBufferPointer, type: ClinicalEventType, subject: UnsafeRawBufferPointer, time: Int64, actor: UnsafeRawBufferPointer,
        envelope: Ketamine_V1_EventEnvelope, message: any SwiftProtobuf.Message, payload: some Sequence<UInt8>,
        sequence: UInt64, streamVersion: UInt64, recordedAt: Int64, chainHash: some Sequence<UInt8>, into out: inout [UInt8]
    ) throws {
        func name(_ text: StaticString) {
            text.withUTF8Buffer { out.append(contentsOf: $0) }
        }
        name("{\"specversion\":\"1.0\",\"id\":")
        JSONBytes.appendString(id, to: &out)
        name(",\"source\":")
        JSONBytes.appendString(envelope.source, to: &out)
        name(",\"type\":")
        JSONBytes.appendString(type.cloudEventType, to: &out)
        name(",\"subject\":")
        JSONBytes.appendString(subject, to: &out)
        name(",\"time\":\"")
        ClinicalTime.append(time, to: &out)
        name("\",\"actorid\":")
        JSONBytes.appendString(actor, to: &out)
        name(",\"actorrole\":")
        JSONBytes.appendString(envelope.actorRole, to: &out)
        if envelope.hasDataContentType {
            name(",\"datacontenttype\":")
            JSONBytes.appendString(envelope.dataContentType, to: &out)
        }
        if envelope.hasCorrelationID {
            name(",\"correlationid\":")
            JSONBytes.appendString(envelope.correlationID, to: &out)
        }
        if envelope.hasCausationID {
            name(",\"causationid\":")
            JSONBytes.appendString(envelope.causationID, to: &out)
        }
        if envelope.hasDataSchema {
            name(",\"dataschema\":")
            JSONBytes.appendString(envelope.dataSchema, to: &out)
        }
        for ext in envelope.extensions {
            out.append(UInt8(ascii: ","))
            JSONBytes.appendString(ext.name, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: ext.jsonValue.utf8)
        }
        if envelope.hasDataContentType && isProtobuf(envelope.dataContentType) {
            name(",\"data_base64\":\"")
            out.append(contentsOf: Data(payload).base64EncodedData())
            out.append(UInt8(ascii: "\""))
        } else {
            name(",\"data\":")
            out.append(contentsOf: try message.jsonUTF8Bytes() as [UInt8])
        }
        name(",\"sequence\":\"")
        appendSequence(sequence, to: &out)
        name("\",\"streamversion\":")
        out.append(contentsOf: String(streamVersion).utf8)
        name(",\"recordedtime\":\"")
        ClinicalTime.append(recordedAt, to: &out)
        name("\",\"chainhash\":\"")
        let digits: StaticString = "0123456789abcdef"
        digits.withUTF8Buffer { digits in
            for byte in chainHash {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
        }
        name("\"}")
    }

    /// Whether a content type's media type (parameters aside, in any case) is application/protobuf.
    static func isProtobuf(_ contentType: String) -> Bool {
        mediaType(contentType) == "application/protobuf"
    }

    /// 20 decimal digits.
    private static func appendSequence(_ sequence: UInt64, to out: inout [UInt8]) {
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: 20)
        var rest = sequence, index = 19
        while rest > 0 && index >= 0 {
            digits[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        }
        out.append(contentsOf: digits)
    }

    /// A sequence as the export writes it: 20 decimal digits.
    public static func sequenceText(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    static func appendQuoted(_ text: String, to out: inout String) {
        var bytes: [UInt8] = []
        JSONBytes.appendString(text, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// `text` as a JSON string.
    static func quoted(_ text: String) -> String {
        var out = ""
        appendQuoted(text, to: &out)
        return out
    }

    /// The text of a JSON string value (`nil` when the JSON is not a string).
    static func jsonString(_ json: String) -> String? {
        guard let members = try? JSONScanner.members(of: ArraySlice(Array("{\"v\":\(json)}".utf8))),
              case .string(let text)? = members.first?.value else { return nil }
        return text
    }
}

/// JSON text written as bytes: strings escaped as the export has always written them (`"`, `\\`,
/// `\n`, `\r`, `\t` by name, other control characters as `\u00xx`, everything else as it is).
enum JSONBytes {
    static func appendString(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }

    static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var start = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if start < index { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<index])) }
            start = index + 1
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
            default:
                let hex: StaticString = "0123456789abcdef"
                hex.withUTF8Buffer { hex in
                    out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
                }
            }
        }
        if start < bytes.count { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start...])) }
        out.append(UInt8(ascii: "\""))
    }
}
