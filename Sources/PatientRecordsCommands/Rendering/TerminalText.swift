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
