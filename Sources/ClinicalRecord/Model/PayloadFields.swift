import SwiftProtobuf

/// A field of a payload read in place: the bytes of one protobuf message (the wire format) and
/// accessors that find a field by number and read it where it lies, without decoding the rest
/// of the message and without copying (a text field is a ``Text``: borrowed bytes).
///
/// Valid only as long as the bytes are (during a replay's `apply`). A malformed message reads as
/// absent fields: the store validated every payload on the way in, and damage is the hash
/// chain's to find, not a reason to stop a replay.
public struct PayloadFields: @unchecked Sendable {
    // @unchecked: a borrowed view handed to one thread at a time, never kept.
    package let bytes: UnsafeRawBufferPointer
    /// Where the last occurrence of each field 1-31 starts (its tag's offset + 1; 0: absent),
    /// found in one walk over the message when the view is made, so that reading a field is a
    /// jump to it rather than a walk. Kept inline (no allocation).
    private var positions = SIMD32<UInt32>()

    package init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        var reader = WireReader(bytes)
        while true {
            let start = reader.offset
            guard let (number, _) = reader.next(), number > 0 else { break }
            if number < 32 { positions[number] = UInt32(truncatingIfNeeded: start + 1) }
        }
    }

    /// The wire value of the last occurrence of `field` (protobuf's rule for a singular field).
    @inline(__always)
    func find(_ field: Int) -> Wire? {
        if field > 0 && field < 32 {
            let position = positions[field]
            guard position > 0 else { return nil }
            var reader = WireReader(bytes, at: Int(position) - 1)
            return reader.next()?.1
        }
        var reader = WireReader(bytes)
        var found: Wire?
        while let (number, value) = reader.next(), number > 0 {
            if number == field { found = value }
        }
        return found
    }

    /// Whether `field` is present (set optional fields, non-default singular ones, messages).
    public func has(_ field: Int) -> Bool { find(field) != nil }

    public func text(_ field: Int) -> Text { Text(find(field)?.bytes ?? UnsafeRawBufferPointer(start: nil, count: 0)) }
    public func optionalText(_ field: Int) -> Text? { find(field)?.bytes.map(Text.init) }
    public func int32(_ field: Int) -> Int32 { Int32(truncatingIfNeeded: find(field)?.varint ?? 0) }
    public func optionalInt32(_ field: Int) -> Int32? { find(field)?.varint.map { Int32(truncatingIfNeeded: $0) } }
    public func bool(_ field: Int) -> Bool { (find(field)?.varint ?? 0) != 0 }
    public func double(_ field: Int) -> Double { find(field)?.fixed64.map(Double.init(bitPattern:)) ?? 0 }
    public func optionalDouble(_ field: Int) -> Double? { find(field)?.fixed64.map(Double.init(bitPattern:)) }
    public func enumeration<E: SwiftProtobuf.Enum>(_ field: Int, as: E.Type = E.self) -> E {
        E(rawValue: Int(Int32(truncatingIfNeeded: find(field)?.varint ?? 0))) ?? E()
    }
    public func message(_ field: Int) -> PayloadFields? { find(field)?.bytes.map(PayloadFields.init) }

    /// A `google.protobuf.Timestamp` field in ns since 1970 (saturating; 0 when absent).
    public func time(_ field: Int) -> Int64 {
        guard let stamp = message(field) else { return 0 }
        let seconds = Int64(bitPattern: stamp.find(1)?.varint ?? 0)
        let nanos = Int64(Int32(truncatingIfNeeded: stamp.find(2)?.varint ?? 0))
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowSum) = scaled.addingReportingOverflow(nanos)
        return overflowSum ? (seconds < 0 ? .min : .max) : sum
    }

    /// The time when the field is present.
    public func optionalTime(_ field: Int) -> Int64? { has(field) ? time(field) : nil }

    /// Every occurrence of a repeated message or string field, in order.
    public func repeated(_ field: Int) -> [PayloadFields] {
        var reader = WireReader(bytes)
        var out: [PayloadFields] = []
        while let (number, value) = reader.next(), number > 0 {
            if number == field, let bytes = value.bytes { out.append(PayloadFields(bytes)) }
        }
        return out
    }

    /// A repeated int32 or enum field, packed or not.
    public func repeatedInt32(_ field: Int) -> [Int32] {
        var reader = WireReader(bytes)
        var out: [Int32] = []
        while let (number, value) = reader.next(), number > 0 {
            guard number == field else { continue }
            if let packed = value.bytes {
                var items = WireReader(packed)
                while let item = items.varint() { out.append(Int32(truncatingIfNeeded: item)) }
            } else if let item = value.varint {
                out.append(Int32(truncatingIfNeeded: item))
            }
        }
        return out
    }
}

/// Text read in place from a payload: UTF-8 bytes borrowed from the opened record.
public struct Text: @unchecked Sendable, CustomStringConvertible {
    // @unchecked: borrowed, valid during one `apply`, as its payload.
    package let bytes: UnsafeRawBufferPointer

    package init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// A copy as a `String`.
    public var string: String { String(decoding: bytes, as: UTF8.self) }
    public var description: String { string }
    public var isEmpty: Bool { bytes.isEmpty }

    /// Whether the bytes are those of `text` (ids compare as bytes).
    @inline(__always)
    public func equals(_ text: String) -> Bool { bytes.elementsEqual(text.utf8) }
}

/// One field's value on the wire.
enum Wire {
    case varint(UInt64)
    case fixed64(UInt64)
    case fixed32(UInt32)
    case bytes(UnsafeRawBufferPointer)

    var varint: UInt64? { if case .varint(let value) = self { value } else { nil } }
    var fixed64: UInt64? { if case .fixed64(let value) = self { value } else { nil } }
    var bytes: UnsafeRawBufferPointer? { if case .bytes(let value) = self { value } else { nil } }
}

/// Walks the fields of a protobuf message in wire format.
struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    @inline(__always)
    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count && shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        offset = bytes.count
        return nil
    }

    /// The next field's number and value; a field number of 0 ends a malformed message.
    @inline(__always)
    mutating func next() -> (Int, Wire)? {
        guard offset < bytes.count, let tag = varint() else { return nil }
        let number = Int(truncatingIfNeeded: tag >> 3)
        switch tag & 7 {
        case 0:
            guard let value = varint() else { return (0, .varint(0)) }
            return (number, .varint(value))
        case 1:
            guard offset + 8 <= bytes.count else { return (0, .varint(0)) }
            defer { offset += 8 }
            return (number, .fixed64(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))))
        case 2:
            guard let length = varint(), length <= UInt64(bytes.count - offset) else { return (0, .varint(0)) }
            let start = offset
            offset += Int(length)
            return (number, .bytes(UnsafeRawBufferPointer(rebasing: bytes[start..<offset])))
        case 5:
            guard offset + 4 <= bytes.count else { return (0, .varint(0)) }
            defer { offset += 4 }
            return (number, .fixed32(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
        default:
            return (0, .varint(0))
        }
    }
}
