import Foundation

/// A plain text table fitted to the terminal: columns as wide as their widest cell, the last
/// column cut to what is left of the terminal's width.
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    static var terminalWidth: Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 20 { return columns }
        return isatty(STDOUT_FILENO) == 1 ? 100 : Int.max
    }

    /// The table as text; every cell is made terminal-safe first (see ``TerminalText``).
    func render(width: Int = Table.terminalWidth) -> String {
        let rows = self.rows.map { $0.map(TerminalText.safe) }
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        let fixed = widths.dropLast().reduce(0, +) + 2 * (widths.count - 1)
        if width != Int.max, let last = widths.indices.last { widths[last] = max(10, min(widths[last], width - fixed)) }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let limit = widths[index]
                let fitted = cell.count > limit ? String(cell.prefix(max(1, limit - 1))) + "…" : cell
                return index == cells.count - 1 ? fitted : fitted.padding(toLength: limit, withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        var out = [line(headers), line(widths.map { String(repeating: "-", count: $0) })]
        out += rows.map(line)
        return out.joined(separator: "\n")
    }
}
