/// A strict, allocation-light JSON reader for one line of the interchange: the top-level object's
/// members with their values (strings unescaped; numbers, objects and arrays as their raw bytes),
/// every nested object checked for duplicate keys, nothing accepted that RFC 8259 does not.
///
/// Why not `JSONSerialization`: it lets the last of two duplicate keys win silently (a second
/// `actorrole` would change who may record), reads `true` as the number 1, and has no way to
/// keep a value's exact text (extension attributes are exported back unchanged).
struct JSONScanner {
    enum Value {
        case string(String)
        /// The number exactly as written.
        case number(ArraySlice<UInt8>)
        case bool(Bool)
        case null
        /// The object or array exactly as written (checked, duplicate keys refused).
        case object(ArraySlice<UInt8>)
        case array(ArraySlice<UInt8>)

        /// What the value is, for a refusal ("must be a string, not a number").
        var kind: String {
            switch self {
            case .string: "a string"
            case .number: "a number"
            case .bool: "a boolean"
            case .null: "null"
            case .object: "an object"
            case .array: "an array"
            }
        }
    }

    struct Failure: Error {
        /// The member it happened in, when inside one.
        var member: String?
        var reason: String
        /// Whether the line is not JSON at all (rather than JSON this format does not take).
        var syntax = false

        static func syntax(_ reason: String) -> Failure { Failure(reason: reason, syntax: true) }
    }

    /// The deepest nesting accepted (protobuf messages here are a few levels deep).
    static let maxDepth = 32

    private let bytes: ArraySlice<UInt8>
    private var index: Int

    private init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    /// The members of the object on `line`, in order, with the raw text of each value.
    static func members(of line: ArraySlice<UInt8>) throws(Failure) -> [(key: String, value: Value, raw: ArraySlice<UInt8>)] {
        var scanner = JSONScanner(line)
        scanner.skipSpace()
        guard scanner.peek == UInt8(ascii: "{") else {
            if line[scanner.index...].starts(with: [0xEF, 0xBB, 0xBF]) {
                throw Failure(reason: "begins with a byte order mark (U+FEFF); only the first line of a file may, and the mark is dropped there")
            }
            throw Failure(reason: "is not a JSON object")
        }
        scanner.index += 1
        var out: [(key: String, value: Value, raw: ArraySlice<UInt8>)] = []
        scanner.skipSpace()
        if scanner.peek == UInt8(ascii: "}") {
            scanner.index += 1
        } else {
            while true {
                scanner.skipSpace()
                let key = try scanner.string()
                if out.contains(where: { $0.key == key }) { throw Failure(member: key, reason: "appears twice in the object; a member may be given once") }
                scanner.skipSpace()
                try scanner.expect(UInt8(ascii: ":"))
                scanner.skipSpace()
                let start = scanner.index
                let value: Value
                do {
                    value = try scanner.value(depth: 1)
                } catch {
                    throw Failure(member: error.member.map { "\(key).\($0)" } ?? key, reason: error.reason, syntax: error.syntax)
                }
                out.append((key, value, scanner.bytes[start..<scanner.index]))
                scanner.skipSpace()
                if scanner.peek == UInt8(ascii: ",") {
                    scanner.index += 1
                    continue
                }
                try scanner.expect(UInt8(ascii: "}"))
                break
            }
        }
        scanner.skipSpace()
        guard scanner.index == scanner.bytes.endIndex else { throw Failure.syntax("has text after the JSON object") }
        return out
    }

    private var peek: UInt8? { index < bytes.endIndex ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws(Failure) {
        guard peek == byte else {
            throw Failure.syntax(peek == nil ? "ends before the JSON is complete" : "expected '\(Character(Unicode.Scalar(byte)))' at byte \(index - bytes.startIndex + 1)")
        }
        index += 1
    }

    private mutating func value(depth: Int) throws(Failure) -> Value {
        guard depth <= Self.maxDepth else { throw Failure.syntax("nests deeper than \(Self.maxDepth) levels") }
        guard let byte = peek else { throw Failure.syntax("ends before the JSON is complete") }
        switch byte {
        case UInt8(ascii: "\""):
            // Nested strings are checked, not kept: no String is made for them.
            if depth > 1 {
                _ = try rawString()
                return .null
            }
            return .string(try string())
        case UInt8(ascii: "{"):
            let start = index
            try object(depth: depth)
            return .object(bytes[start..<index])
        case UInt8(ascii: "["):
            let start = index
            try array(depth: depth)
            return .array(bytes[start..<index])
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            let start = index
            try number()
            return .number(bytes[start..<index])
        }
    }

    private mutating func object(depth: Int) throws(Failure) {
        index += 1
        // Keys as their unescaped bytes (a slice of the line when they hold no escape): an
        // object has few, so a linear search finds a duplicate without hashing or a String.
        var keys: [ArraySlice<UInt8>] = []
        skipSpace()
        if peek == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipSpace()
            let keyBytes = try rawString()
            if keys.contains(where: { $0.elementsEqual(keyBytes) }) {
                throw Failure(member: String(decoding: keyBytes, as: UTF8.self), reason: "appears twice in the object; a member may be given once")
            }
            keys.append(keyBytes)
            let key = { String(decoding: keyBytes, as: UTF8.self) }
            skipSpace()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            do {
                _ = try value(depth: depth + 1)
            } catch {
                throw Failure(member: error.member.map { "\(key()).\($0)" } ?? key(), reason: error.reason, syntax: error.syntax)
            }
            skipSpace()
            if peek == UInt8(ascii: ",") {
                index += 1
                continue
            }
            try expect(UInt8(ascii: "}"))
            return
        }
    }

    private mutating func array(depth: Int) throws(Failure) {
        index += 1
        skipSpace()
        if peek == UInt8(ascii: "]") {
            index += 1
            return
        }
        var position = 0
        while true {
            skipSpace()
            do {
                _ = try value(depth: depth + 1)
            } catch {
                throw Failure(member: "[\(position)]" + (error.member.map { ".\($0)" } ?? ""), reason: error.reason, syntax: error.syntax)
            }
            position += 1
            skipSpace()
            if peek == UInt8(ascii: ",") {
                index += 1
                continue
            }
            try expect(UInt8(ascii: "]"))
            return
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.endIndex,
              bytes[index..<(index + count)].elementsEqual(UnsafeBufferPointer(start: word.utf8Start, count: count)) else {
            throw Failure.syntax("unexpected text at byte \(index - bytes.startIndex + 1)")
        }
        index += count
    }

    /// A JSON number as RFC 8259 writes it (no leading zeros, no `+`, no bare `.`).
    private mutating func number() throws(Failure) {
        let start = index
        if peek == UInt8(ascii: "-") { index += 1 }
        func digits() -> Int {
            let from = index
            while let byte = peek, byte >= 0x30 && byte <= 0x39 { index += 1 }
            return index - from
        }
        let leading = index
        let whole = digits()
        guard whole > 0, !(whole > 1 && bytes[leading] == 0x30) else {
            throw Failure.syntax("unexpected text at byte \(start - bytes.startIndex + 1)")
        }
        if peek == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw Failure.syntax("unexpected text at byte \(start - bytes.startIndex + 1)") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw Failure.syntax("unexpected text at byte \(start - bytes.startIndex + 1)") }
        }
    }

    /// A JSON string's unescaped bytes, checked as ``string()`` checks it: a slice of the line
    /// when it holds no escape (nothing is allocated then).
    private mutating func rawString() throws(Failure) -> ArraySlice<UInt8> {
        guard peek == UInt8(ascii: "\"") else { throw Failure.syntax("expected a string at byte \(index - bytes.startIndex + 1)") }
        var scan = index + 1
        var ascii = true
        while scan < bytes.endIndex {
            let byte = bytes[scan]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            if byte >= 0x80 { ascii = false }
            scan += 1
        }
        if scan < bytes.endIndex, bytes[scan] == UInt8(ascii: "\""), ascii {
            let text = bytes[(index + 1)..<scan]
            index = scan + 1
            return text
        }
        return ArraySlice(Array(try string().utf8))
    }

    /// A JSON string, unescaped; control characters must be escaped, surrogates must pair.
    private mutating func string() throws(Failure) -> String {
        guard peek == UInt8(ascii: "\"") else { throw Failure.syntax("expected a string at byte \(index - bytes.startIndex + 1)") }
        index += 1
        let start = index
        // The common case: no escapes.
        while let byte = peek, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte >= 0x20 { index += 1 }
        if peek == UInt8(ascii: "\"") {
            let text = bytes[start..<index]
            index += 1
            // ASCII needs no validation.
            if text.allSatisfy({ $0 < 0x80 }) { return String(decoding: text, as: UTF8.self) }
            guard let decoded = String(validating: text, as: UTF8.self) else { throw Failure(reason: "holds text that is not valid UTF-8") }
            return decoded
        }
        var out = Array(bytes[start..<index])
        while true {
            guard let byte = peek else { throw Failure.syntax("ends inside a string") }
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let decoded = String(validating: out, as: UTF8.self) else { throw Failure(reason: "holds text that is not valid UTF-8") }
                return decoded
            case UInt8(ascii: "\\"):
                guard let escape = peek else { throw Failure.syntax("ends inside a string") }
                index += 1
                switch escape {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard peek == UInt8(ascii: "\\"), index + 1 < bytes.endIndex, bytes[index + 1] == UInt8(ascii: "u") else {
                            throw Failure(reason: "holds an unpaired surrogate (\\u\(String(scalar, radix: 16)))")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw Failure(reason: "holds an unpaired surrogate (\\u\(String(scalar, radix: 16)))") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw Failure(reason: "holds an unpaired surrogate (\\u\(String(scalar, radix: 16)))")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw Failure.syntax("holds an invalid \\u escape") }
                    out.append(contentsOf: Array(String(unicode).utf8))
                default:
                    throw Failure.syntax("holds the invalid escape \\\(Character(Unicode.Scalar(escape)))")
                }
            default:
                guard byte >= 0x20 else { throw Failure.syntax("holds a raw control character (U+\(String(byte, radix: 16, uppercase: true).leftPadded(to: 4))); JSON asks for it escaped") }
                out.append(byte)
            }
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.endIndex else { throw Failure.syntax("ends inside a \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            index += 1
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw Failure.syntax("holds an invalid \\u escape")
            }
            value = value << 4 | digit
        }
        return value
    }
}
