/// A stored event, copied out of the store.
public struct RecordedEvent: Sendable, Hashable {
    /// Global position in the log, from 1, without gaps.
    public let sequence: UInt64
    public let streamId: String
    /// Position in its stream, from 1.
    public let streamVersion: UInt64
    public let id: String
    public let type: UInt16
    public let flags: UInt8
    /// When the store wrote it, in nanoseconds since 1970 UTC; never decreases along the log.
    public let recordedAt: Int64
    /// When it happened, as the writer said, in nanoseconds since 1970 UTC.
    public let occurredAt: Int64
    public let actor: String
    public let metadata: [UInt8]
    /// The payload in the clear; empty when it cannot be read (see ``payloadState``).
    public let payload: [UInt8]
    /// Whether the payload was stored sealed, and whether it could be opened.
    public let payloadState: PayloadState
    /// SHA-256 over the previous chain hash and this record.
    public let chainHash: [UInt8]

    /// The chain hash as lowercase hex.
    public var chainHashHex: String { Bytes.hex(chainHash) }
}

/// A stored event's header: everything but the metadata and payload bytes.
public struct EventHeader: Sendable, Hashable {
    public let sequence: UInt64
    public let streamId: String
    public let streamVersion: UInt64
    public let id: String
    public let type: UInt16
    public let flags: UInt8
    public let recordedAt: Int64
    public let occurredAt: Int64
    public let actor: String
    public let metadataCount: Int
    public let payloadCount: Int
}
