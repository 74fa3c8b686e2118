import EventStore
import SwiftProtobuf

/// One stored event as projections see it: its header, read in place from the record, and its
/// payload as a typed view over the opened bytes. Nothing is copied or decoded until a
/// projection asks for it.
///
/// Valid only during the call that hands it over (the bytes are the memory map's, or a buffer
/// reused for the next record): copy out what must outlive it.
public struct ReplayedEvent: @unchecked Sendable {
    // @unchecked: borrowed, handed to one thread at a time, never kept.
    /// The record, read in place.
    package let record: EventRecordView
    public let type: ClinicalEventType
    /// The payload, read in place (empty for a forgotten patient's event).
    public let payload: EventPayload

    /// `record` as an event of `type`, when its payload can be read.
    package init(record: EventRecordView, type: ClinicalEventType) {
        self.record = record
        self.type = type
        payload = EventPayload(type, bytes: record.payload)
    }

    /// The global sequence.
    public var sequence: UInt64 { record.sequence }
    public var streamVersion: UInt64 { record.streamVersion }
    /// When it happened clinically, ns since 1970 UTC (the CloudEvents `time`).
    public var time: Int64 { record.occurredAt }
    /// When the store wrote it.
    public var recordedAt: Int64 { record.recordedAt }
    public var id: String { record.id }
    public var patientId: String { record.streamId }
    public var actorId: String { record.actor }
    /// The actor's id, read in place.
    public var actor: Text { Text(record.actorBytes) }
    /// The actor's role as recorded (read from the envelope in place), `nil` for one this version does not know.
    public var actorRole: ActorRole? {
        ActorRole(rawValue: PayloadFields(record.metadata).text(2).string)
    }

    /// The whole message, decoded.
    public var message: any ClinicalMessage {
        (try? type.messageType.init(serializedBytes: record.payload.bytes)) ?? type.messageType.init()
    }
}
