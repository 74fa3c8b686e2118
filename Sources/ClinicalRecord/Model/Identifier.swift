import Foundation

/// What an id a writer gives must be: patient ids, event ids, actor ids and the ids of plans,
/// sessions, consents and other entries that later events refer to.
///
/// Ids are compared as bytes everywhere (they are LMDB keys), so two spellings of one text must
/// not both get in: "José" precomposed (NFC) and decomposed (NFD) look the same and would be two
/// patients. An id not in Unicode normalization form C is refused, with the reason; ids are
/// never silently rewritten, so what a writer sends is what an export gives back.
public enum Identifier {
    /// The longest id, in UTF-8 bytes.
    public static let maxBytes = 128

    /// Why `value` cannot be an id, or `nil` when it can.
    public static func problem(_ value: String) -> String? {
        if value.isEmpty { return "is required and must not be empty" }
        let bytes = value.utf8.count
        if bytes > maxBytes { return "is \(bytes) bytes long; an id is at most \(maxBytes) bytes of UTF-8" }
        if let control = value.unicodeScalars.first(where: isControl) {
            return "holds the control character U+\(String(control.value, radix: 16, uppercase: true).leftPadded(to: 4)); an id is printable text"
        }
        if !isNFC(value) {
            return "is not in Unicode normalization form C (NFC); write it with precomposed characters (two spellings of one text would be two different ids)"
        }
        return nil
    }

    /// Whether `value` is in normalization form C.
    public static func isNFC(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 < 0x80 } || value.precomposedStringWithCanonicalMapping.utf8.elementsEqual(value.utf8)
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}

extension String {
    func leftPadded(to length: Int, with pad: Character = "0") -> String {
        count >= length ? self : String(repeating: pad, count: length - count) + self
    }
}
