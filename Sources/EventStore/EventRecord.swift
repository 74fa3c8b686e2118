import Crypto

/// The binary layout of one value in the `events` database. A public contract: other tools scan it.
///
/// All integers are little-endian. Fixed header, then the variable parts in this order:
///
/// | offset | size | field |
/// | --- | --- | --- |
/// | 0 | 1 | format version (1) |
/// | 1 | 1 | flags: bit 7 (0x80) set by the store when the payload is sealed; bits 0-6 the application's |
/// | 2 | 2 | event type code |
/// | 4 | 2 | event id length |
/// | 6 | 2 | stream id length |
/// | 8 | 2 | actor length |
/// | 10 | 2 | metadata length |
/// | 12 | 4 | payload length |
/// | 16 | 8 | stream version |
/// | 24 | 8 | recorded time, ns since 1970 UTC |
/// | 32 | 8 | occurred time, ns since 1970 UTC |
/// | 40 | 32 | chain hash: SHA-256(previous chain hash ‖ bytes 0..<40 ‖ bytes 72...) |
/// | 72 | … | event id, stream id, actor, metadata, payload |
///
/// A sealed payload is `nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)` under the stream's data key,
/// with the event id and stream id as authenticated data (see `StoreSealing`). The chain hash
/// covers the stored (sealed) bytes, so the chain verifies without any key.
public enum EventRecordLayout {
    public static let formatVersion: UInt8 = 1
    public static let headerSize = 72
    static let chainHashOffset = 40
    static let chainHashSize = 32
    /// The largest event id, stream id and actor, in UTF-8 bytes (they are LMDB keys or key parts).
    public static let maxIdentifierBytes = 400
    public static let maxMetadataBytes = Int(UInt16.max)
    /// The flag bit the store sets on a sealed payload; applications use the other seven.
    public static let sealedFlag: UInt8 = 0x80
}

/// Whether a record's payload can be read, and if not, why.
public enum PayloadState: Sendable, Hashable {
    /// Stored in the clear.
    case clear
    /// Sealed, and opened with the stream's data key.
    case opened
    /// Sealed, and not opened (read without keys: a raw scan, or the routing thread of a replay).
    case sealed
    /// Sealed, and the stream's data key was destroyed on purpose (crypto-shredding).
    case keyDestroyed
    /// Sealed, and the store holds no data key for the stream.
    case keyMissing
    /// Sealed, and the stream's data key does not open under this master key.
    case keyDamaged
    /// Sealed, and the payload does not open under its key: the bytes were changed.
    case damaged

    /// Whether the record's payload can be read in the clear.
    public var isReadable: Bool { self == .clear || self == .opened }
}

/// One stored event, read in place from the memory map without copying.
///
/// Valid only inside the read scope that produced it. Every accessor stays inside the record's
/// bytes: a damaged record is refused when the view is made, never read past its end.
public struct EventRecordView {
    public let sequence: UInt64
    /// The stored record, payload sealed or not.
    @_spi(RawRecords) public let bytes: UnsafeRawBufferPointer
    /// Whether the payload can be read.
    public internal(set) var payloadState: PayloadState
    /// The opened payload of a sealed record.
    var plaintext: UnsafeRawBufferPointer?
    /// Keeps ``plaintext`` alive when the view owns it.
    var plaintextOwner: AnyObject?

    /// Checks the header against the record's length; `nil` when the record is malformed.
    @_spi(RawRecords) public init?(sequence: UInt64, bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= EventRecordLayout.headerSize,
              bytes[0] == EventRecordLayout.formatVersion else { return nil }
        self.sequence = sequence
        self.bytes = bytes
        payloadState = bytes[1] & EventRecordLayout.sealedFlag != 0 ? .sealed : .clear
        let variable = Int(idLength) + Int(streamIdLength) + Int(actorLength) + Int(metadataLength) + Int(payloadLength)
        guard EventRecordLayout.headerSize + variable == bytes.count else { return nil }
    }

    @inline(__always)
    private func load<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// All eight flag bits, the store's sealed bit included.
    public var flags: UInt8 { bytes[1] }
    /// Whether the payload is stored sealed.
    public var isSealed: Bool { bytes[1] & EventRecordLayout.sealedFlag != 0 }
    public var type: UInt16 { load(2, as: UInt16.self) }
    var idLength: UInt16 { load(4, as: UInt16.self) }
    var streamIdLength: UInt16 { load(6, as: UInt16.self) }
    var actorLength: UInt16 { load(8, as: UInt16.self) }
    var metadataLength: UInt16 { load(10, as: UInt16.self) }
    var payloadLength: UInt32 { load(12, as: UInt32.self) }
    public var streamVersion: UInt64 { load(16, as: UInt64.self) }
    public var recordedAt: Int64 { load(24, as: Int64.self) }
    public var occurredAt: Int64 { load(32, as: Int64.self) }
    package var chainHash: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[EventRecordLayout.chainHashOffset..<EventRecordLayout.headerSize])
    }

    private func slice(_ start: Int, _ length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)])
    }
    private var idStart: Int { EventRecordLayout.headerSize }
    private var streamIdStart: Int { idStart + Int(idLength) }
    private var actorStart: Int { streamIdStart + Int(streamIdLength) }
    private var metadataStart: Int { actorStart + Int(actorLength) }
    private var payloadStart: Int { metadataStart + Int(metadataLength) }

    package var idBytes: UnsafeRawBufferPointer { slice(idStart, Int(idLength)) }
    @_spi(RawRecords) public var streamIdBytes: UnsafeRawBufferPointer { slice(streamIdStart, Int(streamIdLength)) }
    package var actorBytes: UnsafeRawBufferPointer { slice(actorStart, Int(actorLength)) }
    package var metadata: UnsafeRawBufferPointer { slice(metadataStart, Int(metadataLength)) }
    /// The payload in the clear: borrowed from the map when stored clear, the opened plaintext
    /// when sealed. Empty when it cannot be read (see ``payloadState``).
    package var payload: UnsafeRawBufferPointer {
        switch payloadState {
        case .clear: storedPayload
        case .opened: plaintext ?? UnsafeRawBufferPointer(start: nil, count: 0)
        default: UnsafeRawBufferPointer(start: nil, count: 0)
        }
    }
    /// The payload as stored (sealed or not), borrowed from the map.
    package var storedPayload: UnsafeRawBufferPointer { slice(payloadStart, Int(payloadLength)) }
    /// The authenticated data of a sealed payload: the event id and stream id, contiguous.
    var sealContext: UnsafeRawBufferPointer { slice(idStart, Int(idLength) + Int(streamIdLength)) }

    public var id: String { String(decoding: idBytes, as: UTF8.self) }
    public var streamId: String { String(decoding: streamIdBytes, as: UTF8.self) }
    public var actor: String { String(decoding: actorBytes, as: UTF8.self) }

    /// The header fields, copied: small strings, no payload.
    public var header: EventHeader {
        EventHeader(
            sequence: sequence, streamId: streamId, streamVersion: streamVersion, id: id, type: type,
            flags: flags, recordedAt: recordedAt, occurredAt: occurredAt, actor: actor,
            metadataCount: Int(metadataLength), payloadCount: Int(payloadLength))
    }

    /// A full copy of the event, its payload in the clear (empty when it cannot be read).
    public var event: RecordedEvent {
        RecordedEvent(
            sequence: sequence, streamId: streamId, streamVersion: streamVersion, id: id, type: type,
            flags: flags, recordedAt: recordedAt, occurredAt: occurredAt, actor: actor,
            metadata: Array(metadata), payload: Array(payload), payloadState: payloadState, chainHash: Array(chainHash))
    }

    /// The chain hash this record should carry after `previous`.
    func computeChainHash(after previous: UnsafeRawBufferPointer) -> SHA256.Digest {
        EventRecordView.chainHash(previous: previous, record: bytes)
    }

    static func chainHash(previous: UnsafeRawBufferPointer, record: UnsafeRawBufferPointer) -> SHA256.Digest {
        var hasher = SHA256()
        hasher.update(bufferPointer: previous)
        hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: record[0..<EventRecordLayout.chainHashOffset]))
        hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: record[EventRecordLayout.headerSize...]))
        return hasher.finalize()
    }

    /// Whether this stored event has the content of `event` appended to `stream`: everything
    /// the writer chose, nothing the store assigned. A sealed payload is compared in the clear, so
    /// the record must have been read opened.
    public func hasSameContent(as event: NewEvent, stream: String) -> Bool {
        payloadState.isReadable
            && type == event.type && flags & ~EventRecordLayout.sealedFlag == event.flags && occurredAt == event.occurredAt
            && idBytes.elementsEqual(event.id.utf8) && streamIdBytes.elementsEqual(stream.utf8)
            && actorBytes.elementsEqual(event.actor.utf8) && metadata.elementsEqual(event.metadata)
            && payload.elementsEqual(event.payload)
    }
}

extension NewEvent {
    /// The size of this event's record.
    func recordSize(stream: String) -> Int {
        EventRecordLayout.headerSize + id.utf8.count + stream.utf8.count + actor.utf8.count
            + metadata.count + payload.count
    }

    /// Writes this event's record into `buffer` (exactly ``recordSize(stream:)`` bytes), chained
    /// after `previousHash`, and returns its chain hash.
    func encodeRecord(
        into buffer: UnsafeMutableRawBufferPointer, stream: String, streamVersion: UInt64,
        recordedAt: Int64, previousHash: UnsafeRawBufferPointer
    ) -> [UInt8] {
        // `self` is the event as stored: a sealed payload carries the sealed flag already.
        func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            buffer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
        }
        buffer[0] = EventRecordLayout.formatVersion
        buffer[1] = flags
        store(type, at: 2)
        store(UInt16(id.utf8.count), at: 4)
        store(UInt16(stream.utf8.count), at: 6)
        store(UInt16(actor.utf8.count), at: 8)
        store(UInt16(metadata.count), at: 10)
        store(UInt32(payload.count), at: 12)
        store(streamVersion, at: 16)
        store(recordedAt, at: 24)
        store(occurredAt, at: 32)
        var offset = EventRecordLayout.headerSize
        func append(_ part: some Collection<UInt8>) {
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + part.count)])
            _ = target.initializeMemory(as: UInt8.self, from: part)
            offset += part.count
        }
        append(id.utf8)
        append(stream.utf8)
        append(actor.utf8)
        append(metadata)
        append(payload)
        let digest = EventRecordView.chainHash(previous: previousHash, record: UnsafeRawBufferPointer(buffer))
        let hash = Array(digest)
        let hashTarget = UnsafeMutableRawBufferPointer(
            rebasing: buffer[EventRecordLayout.chainHashOffset..<EventRecordLayout.headerSize])
        hash.withUnsafeBytes { hashTarget.copyMemory(from: $0) }
        return hash
    }
}
