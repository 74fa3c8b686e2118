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
