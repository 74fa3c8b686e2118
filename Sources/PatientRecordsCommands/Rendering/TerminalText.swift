import Foundation

/// Text from the record made safe for a terminal: control characters (ANSI and OSC escapes,
/// carriage returns, line feeds, NUL, DEL and the C1 range) are shown as `\u{1B}`, never sent
/// raw, so a stored name cannot clear the screen, retitle the terminal or forge a row.
enum TerminalText {
    static func safe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
            // Bidirectional overrides and isolates can reorder what a row shows.
            || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }
}

/// A line of text for the terminal. Its literal parts are the program's own; every value
/// interpolated into it is passed through ``TerminalText/safe(_:)``, line breaks included, so an
/// id, a path, a field name or a message quoted from input can neither forge a line nor send an
/// escape sequence. Everything the commands write as text goes through one (``say(_:)``,
/// ``sayError(_:)``, the error line of ``CommandRunner``).
struct TerminalLine: ExpressibleByStringInterpolation, CustomStringConvertible, Sendable {
    private(set) var text: String

    init(stringLiteral value: String) { text = value }
    init(stringInterpolation: Interpolation) { text = stringInterpolation.text }
    /// Text already made safe value by value (a rendered table, a patient's page): the same
    /// rule applied where it was built.
    init(rendered: String) { text = rendered }
    /// Text from elsewhere (a library's error message, an argument), made safe whole.
    init(untrusted: String) { text = TerminalText.safe(untrusted) }

    var description: String { text }

    struct Interpolation: StringInterpolationProtocol {
        var text = ""
        init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity + 16 * interpolationCount) }
        mutating func appendLiteral(_ literal: String) { text += literal }
        mutating func appendInterpolation(_ value: some Any) { text += TerminalText.safe(String(describing: value)) }
        /// Another line, already safe.
        mutating func appendInterpolation(_ line: TerminalLine) { text += line.text }
    }
}

/// Writes `line` and a line feed to standard output.
func say(_ line: TerminalLine) {
    print(line.text)
}

/// Writes `lines`, one per line, to standard output.
func say(_ lines: [TerminalLine]) {
    print(lines.map(\.text).joined(separator: "\n"))
}

/// Writes `line` and `terminator` to standard error.
func sayError(_ line: TerminalLine, terminator: String = "\n") {
    FileHandle.standardError.write(Data((line.text + terminator).utf8))
}
