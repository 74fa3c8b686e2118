/// Byte encodings of the keys and fixed-width fields the store writes.
public enum Bytes {
    /// `value` as 8 bytes, most significant first, so keys sort in numeric order.
    @inline(__always)
    public static func bigEndian(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// Reads 8 big-endian bytes; `nil` when `bytes` is not 8 bytes long.
    @inline(__always)
    public static func uint64(bigEndian bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        return UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
    }

    /// `bytes` as lowercase hexadecimal, two digits a byte.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Bytes {
    /// FNV-1a over `bytes`: the hash ids are routed and tabled by.
    @inline(__always)
    public static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}

/// A table keyed by byte strings, looked up with borrowed bytes (no allocation on a hit).
///
/// Ids are compared as bytes, never as Swift `String`s: `String` equality is canonical
/// equivalence, so "José" written precomposed (NFC) and decomposed (NFD) would be one key, while
/// LMDB keeps them as two streams.
public struct BytesTable<Value> {
    private var buckets: [UInt64: [(key: [UInt8], value: Value)]] = [:]
    public private(set) var count = 0

    public init() {}

    public subscript(_ key: UnsafeRawBufferPointer) -> Value? {
        guard let bucket = buckets[Bytes.fnv1a(key)] else { return nil }
        for entry in bucket where entry.key.elementsEqual(key) { return entry.value }
        return nil
    }

    public mutating func set(_ key: UnsafeRawBufferPointer, _ value: Value) {
        let hash = Bytes.fnv1a(key)
        if let index = buckets[hash]?.firstIndex(where: { $0.key.elementsEqual(key) }) {
            buckets[hash]?[index].value = value
        } else {
            buckets[hash, default: []].append((Array(key), value))
            count += 1
        }
    }

    public mutating func remove(_ key: UnsafeRawBufferPointer) {
        let hash = Bytes.fnv1a(key)
        guard let index = buckets[hash]?.firstIndex(where: { $0.key.elementsEqual(key) }) else { return }
        buckets[hash]?.remove(at: index)
        count -= 1
    }

    public mutating func removeAll() {
        buckets.removeAll(keepingCapacity: true)
        count = 0
    }
}

extension BytesTable: Sendable where Value: Sendable {}
