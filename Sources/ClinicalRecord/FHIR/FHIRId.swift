import Crypto
import Foundation

/// FHIR resource ids and Bundle fullUrls made from the record's own ids, without ever merging
/// two of them (docs/FHIR.md, "Ids").
///
/// An R4 id is 1 to 64 of `[A-Za-z0-9-.]`. Replacing every other character by `-` would turn
/// `C_1` and `C-1` into the same id, so ``make(_:)`` escapes instead ("dash-hex escaping"):
///
/// 1. the key is taken as UTF-8 bytes;
/// 2. ASCII letters and digits pass through; every other byte, `-` and `.` included, becomes `-`
///    and two uppercase hex digits (`_` → `-5F`, `-` → `-2D`, space → `-20`);
/// 3. when that is longer than 64 characters, the id is `h.` and the lowercase, unpadded base32
///    of the SHA-256 of the key (54 characters). An escaped id never holds a `.`, so the two
///    forms cannot meet.
///
/// Every key has exactly one id, and two keys never share one (short of a SHA-256 collision).
/// The original key always travels with the resource in an `identifier` where it matters (the
/// patient's); a hashed id cannot be turned back into its key.
public enum FHIRId {
    /// The longest FHIR R4 id.
    public static let maximumLength = 64

    /// The FHIR id of `key`: its dash-hex escaping, or its `h.` hash when that is too long.
    ///
    /// The empty key, which has no escaping (an id has at least one character), gets the hash
    /// form too: the record never uses one, but this must not produce an invalid id.
    public static func make(_ key: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(min(key.utf8.count * 3, maximumLength + 3))
        for byte in key.utf8 {
            if isLetterOrDigit(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "-"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
            // Already too long: the id will be the hash, so the rest need not be escaped.
            if out.count > maximumLength { return hashed(key) }
        }
        return out.isEmpty ? hashed(key) : String(decoding: out, as: UTF8.self)
    }

    /// `Type/<id>`, a relative reference to the resource of type `type` made from `key`.
    public static func resource(_ type: String, _ key: String) -> String {
        type + "/" + make(key)
    }

    /// The Bundle `fullUrl` of the resource of type `type` made from `key`: `urn:uuid:` and a
    /// name-based (version 5, SHA-1) UUID of `Type/key` in this store's namespace.
    ///
    /// `urn:uuid:` must be followed by a real RFC 4122 UUID, which the record's ids are not, so
    /// the UUID is derived from the key: the same resource always gets the same fullUrl, in
    /// every export, and distinct keys get distinct ones. The name is hashed, so a fullUrl
    /// shows nothing of the key. SHA-1 is what RFC 4122 prescribes for version 5; nothing
    /// here depends on its resistance to collisions made on purpose (the names are the
    /// record's own ids).
    public static func fullUrl(_ type: String, _ key: String) -> String {
        "urn:uuid:" + uuid(name: type + "/" + key)
    }

    /// One key made of several parts (`patient`, `session`, the session id), joined by `/`
    /// with each part's `%` and `/` percent-escaped, so that no two lists of parts give the same
    /// key (`["A/x", "B"]` and `["A", "x/B"]` would otherwise both be `A/x/B`).
    public static func key(_ parts: String...) -> String {
        key(parts)
    }

    /// The same as the variadic `key(_:)`, for an array of parts.
    public static func key(_ parts: [String]) -> String {
        parts.map { part in
            part.contains(where: { $0 == "%" || $0 == "/" })
                ? part.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "/", with: "%2F")
                : part
        }.joined(separator: "/")
    }

    // MARK: Internals

    /// The namespace of the export's name-based UUIDs (drawn at random once; never change it,
    /// or every fullUrl changes).
    static let namespace: [UInt8] = [
        0xD4, 0x86, 0xD1, 0xF2, 0x94, 0xCF, 0x4B, 0x51, 0x85, 0xB6, 0xA3, 0xE6, 0x69, 0xF8, 0x56, 0x9A,
    ]

    /// A version 5 UUID (RFC 4122 section 4.3): SHA-1 of the namespace and the name, with the
    /// version and variant bits set, written in lowercase.
    static func uuid(name: String) -> String {
        var hash = Array(Insecure.SHA1.hash(data: namespace + Array(name.utf8)).prefix(16))
        hash[6] = (hash[6] & 0x0F) | 0x50
        hash[8] = (hash[8] & 0x3F) | 0x80
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (index, byte) in hash.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { out.append(UInt8(ascii: "-")) }
            out.append(lowerHexDigits[Int(byte >> 4)])
            out.append(lowerHexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `h.` and the lowercase, unpadded base32 of the SHA-256 of `key`.
    static func hashed(_ key: String) -> String {
        "h." + base32(SHA256.hash(data: Array(key.utf8)))
    }

    /// Lowercase, unpadded base32 (RFC 4648 section 6): 52 characters for 32 bytes.
    static func base32(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(base32Alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
            // Keep only the bits not written yet, so the buffer never overflows.
            buffer &= (UInt32(1) << UInt32(bits)) &- 1
        }
        if bits > 0 { out.append(base32Alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)
    private static let lowerHexDigits = Array("0123456789abcdef".utf8)
    private static let base32Alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
}
