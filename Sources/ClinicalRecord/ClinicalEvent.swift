import EventStore
import Foundation
import SwiftProtobuf

/// An event to record, as a writer states it: CloudEvents attributes and the message.
public struct ClinicalEventInput: Sendable {
    /// Unique in the store (a UUID is recommended).
    public var id: String
    /// URI of the recording system, e.g. `urn:clinic:northside`.
    public var source: String
    /// The patient id: each patient is one stream.
    public var patientId: String
    /// When it happened clinically, in nanoseconds since 1970 UTC.
    public var time: Int64
    public var actorId: String
    public var actorRole: ActorRole
    public var message: any SwiftProtobuf.Message
    /// The patient stream version the writer expects (optimistic concurrency).
    public var expectedVersion: UInt64?
    public var correlationId: String?
    public var causationId: String?
    /// The CloudEvents `datacontenttype`, as written (parameters included).
    public var dataContentType: String?
    /// The CloudEvents `dataschema`.
    public var dataSchema: String?
    /// CloudEvents extension attributes, in order: each name and its value as JSON text
    /// (`"00-4bf9…-01"` with its quotes for a string). Kept with the event and exported back.
    public var extensions: [(name: String, jsonValue: String)]

    public init(
        id: String = UUID().uuidString.lowercased(), source: String, patientId: String, time: Int64,
        actorId: String, actorRole: ActorRole, message: any SwiftProtobuf.Message,
        expectedVersion: UInt64? = nil, correlationId: String? = nil, causationId: String? = nil,
        dataContentType: String? = nil, dataSchema: String? = nil, extensions: [(name: String, jsonValue: String)] = []
    ) {
        self.id = id
        self.source = source
        self.patientId = patientId
        self.time = time
        self.actorId = actorId
        self.actorRole = actorRole
        self.message = message
        self.expectedVersion = expectedVersion
        self.correlationId = correlationId
        self.causationId = causationId
        self.dataContentType = dataContentType
        self.dataSchema = dataSchema
        self.extensions = extensions
    }

    /// The event's type, from its message; `nil` for a message that is no clinic event.
    public var type: ClinicalEventType? {
        (message as? any ClinicalMessage).map { Swift.type(of: $0).eventType }
    }

    /// The W3C trace context this event carries (the `traceparent` extension), if any.
    public var traceparent: String? {
        get { extensions.first { $0.name == "traceparent" }.flatMap { CloudEventCodec.jsonString($0.jsonValue) } }
        set {
            extensions.removeAll { $0.name == "traceparent" }
            if let newValue { extensions.append(("traceparent", CloudEventCodec.quoted(newValue))) }
        }
    }
}

/// A stored clinic event, decoded whole.
public struct ClinicalEvent: Sendable {
    public let sequence: UInt64
    public let streamVersion: UInt64
    public let id: String
    public let patientId: String
    public let type: ClinicalEventType
    /// When it happened clinically, ns since 1970 UTC.
    public let time: Int64
    /// When the store wrote it, ns since 1970 UTC.
    public let recordedAt: Int64
    public let actorId: String
    /// The role as stored; `nil` only for a role this version does not know.
    public let actorRole: ActorRole?
    /// The attributes kept beside the payload (source, role, correlation, content type, schema, extensions).
    public let envelope: Ketamine_V1_EventEnvelope
    /// The record's chain hash (SHA-256), kept as four words so decoding allocates nothing for it.
    let chainHashWords: (UInt64, UInt64, UInt64, UInt64)
    public var chainHash: [UInt8] {
        withUnsafeBytes(of: chainHashWords) { Array($0) }
    }
    /// The message; for a forgotten patient's event, an empty message of its type.
    public let message: any ClinicalMessage
    /// The payload as stored, in the clear (protobuf binary); empty for a forgotten patient's event.
    public let payload: [UInt8]
    /// True when the patient was forgotten and this event's payload can no longer be read: only
    /// the header (id, type, times, actor) and the envelope are real.
    public var isForgotten: Bool = false

    public var source: String { envelope.source }
    public var correlationId: String? { envelope.hasCorrelationID ? envelope.correlationID : nil }
    public var causationId: String? { envelope.hasCausationID ? envelope.causationID : nil }
    public var dataContentType: String? { envelope.hasDataContentType ? envelope.dataContentType : nil }

    /// The message as `T`, or `nil` when the event is of another type.
    public func payload<T: SwiftProtobuf.Message>(as: T.Type = T.self) -> T? { message as? T }
}

/// Turns clinic events into log records and back.
enum EventCodec {
    static func envelope(of input: ClinicalEventInput) -> Ketamine_V1_EventEnvelope {
        var envelope = Ketamine_V1_EventEnvelope()
        envelope.source = input.source
        envelope.actorRole = input.actorRole.rawValue
        if let value = input.correlationId { envelope.correlationID = value }
        if let value = input.causationId { envelope.causationID = value }
        if let value = input.dataContentType { envelope.dataContentType = value }
        if let value = input.dataSchema { envelope.dataSchema = value }
        envelope.extensions = input.extensions.map { name, value in
            var attribute = Ketamine_V1_ExtensionAttribute()
            attribute.name = name
            attribute.jsonValue = value
            return attribute
        }
        return envelope
    }

    static func newEvent(for input: ClinicalEventInput, type: ClinicalEventType) throws -> NewEvent {
        NewEvent(
            id: input.id, type: type.rawValue, occurredAt: input.time, actor: input.actorId,
            metadata: try envelope(of: input).serializedBytes(), payload: try input.message.serializedBytes())
    }

    /// Decodes one record. `nil` for a type code this version does not know.
    ///
    /// - Parameter forgotten: decode a forgotten patient's event as its header and envelope with
    ///   an empty message (``ClinicalEvent/isForgotten``) instead of throwing.
    static func decode(_ record: EventRecordView, forgotten: Bool = false) throws -> ClinicalEvent? {
        guard let type = ClinicalEventType(rawValue: record.type) else { return nil }
        let isForgotten = record.payloadState == .keyDestroyed
        guard record.payloadState.isReadable || (forgotten && isForgotten) else {
            throw UnreadablePayload(state: record.payloadState, sequence: record.sequence)
        }
        // Decoded straight from the memory map: no copy of the bytes.
        let envelope: Ketamine_V1_EventEnvelope, message: any ClinicalMessage
        do { envelope = try Ketamine_V1_EventEnvelope(serializedBytes: record.metadata.bytes) } catch {
            throw DecodingText.damagedRecord(sequence: record.sequence, part: "envelope", error)
        }
        do { message = isForgotten ? type.messageType.init() : try type.messageType.init(serializedBytes: record.payload.bytes) } catch {
            throw DecodingText.damagedRecord(sequence: record.sequence, part: "payload (\(type.name))", error)
        }
        var event = ClinicalEvent(
            sequence: record.sequence, streamVersion: record.streamVersion, id: record.id,
            patientId: record.streamId, type: type, time: record.occurredAt, recordedAt: record.recordedAt,
            actorId: record.actor, actorRole: ActorRole(rawValue: envelope.actorRole), envelope: envelope,
            chainHashWords: record.chainHash.loadUnaligned(as: (UInt64, UInt64, UInt64, UInt64).self), message: message,
            payload: isForgotten ? [] : Array(record.payload))
        event.isForgotten = isForgotten
        return event
    }
}

/// Why a stored event's payload cannot be read.
public struct UnreadablePayload: Error, Sendable, CustomStringConvertible {
    public let state: PayloadState
    /// The record's sequence, when it is known where the payload was read.
    public var sequence: UInt64?

    public init(state: PayloadState, sequence: UInt64? = nil) {
        self.state = state
        self.sequence = sequence
    }

    public var description: String {
        (sequence.map { "the record at sequence \($0): " } ?? "") + reason
    }

    /// Why, without the sequence.
    public var reason: String {
        switch state {
        case .keyDestroyed: "the patient was forgotten: the data key that sealed it was destroyed"
        case .keyMissing: "the store holds no data key for the patient"
        case .keyDamaged: "the patient's data key does not open with this master key"
        case .damaged: "its sealed payload does not open: the bytes were changed"
        case .sealed: "its payload is sealed and was read without keys"
        case .clear, .opened: "its payload is readable"
        }
    }
}
