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
        let widths = Self.widths(headers: headers, rows: rows, width: width)
        var out = [Self.line(headers, widths: widths), Self.line(widths.map { String(repeating: "-", count: $0) }, widths: widths)]
        out += rows.map { Self.line($0, widths: widths) }
        return out.joined(separator: "\n")
    }

    /// Column widths for terminal-safe `rows`: each column as wide as its widest cell, the last
    /// one cut to what is left of `width`.
    static func widths(headers: [String], rows: [[String]], width: Int) -> [Int] {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        let fixed = widths.dropLast().reduce(0, +) + 2 * (widths.count - 1)
        if width != Int.max, let last = widths.indices.last { widths[last] = max(10, min(widths[last], width - fixed)) }
        return widths
    }

    /// One line: cells cut to their column's width with "…", padded but for the last.
    static func line(_ cells: [String], widths: [Int]) -> String {
        cells.enumerated().map { index, cell in
            let limit = index < widths.count ? widths[index] : cell.count
            let fitted = cell.count > limit ? String(cell.prefix(max(1, limit - 1))) + "…" : cell
            return index == cells.count - 1 ? fitted : fitted.padding(toLength: limit, withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
}

/// A ``Table`` for output of any length: the first rows fix the column widths (a later, wider
/// cell is cut with "…"), then rows are written as they come, so memory holds those first rows
/// at most.
struct StreamingTable {
    let headers: [String]
    private var sample: [[String]] = []
    private var widths: [Int]?
    private let sampleSize: Int
    private let width: Int

    init(headers: [String], sampleSize: Int = 500, width: Int = Table.terminalWidth) {
        self.headers = headers
        self.sampleSize = sampleSize
        self.width = width
    }

    mutating func append(_ row: [String], to out: inout StandardOutput) throws {
        let safe = row.map(TerminalText.safe)
        if let widths {
            try out.write(Table.line(safe, widths: widths) + "\n")
            return
        }
        sample.append(safe)
        if sample.count >= sampleSize { try finishSample(to: &out) }
    }

    /// Writes the header and the rows held so far; the table streams from then on. Call it once
    /// more at the end (it does nothing the second time).
    mutating func finishSample(to out: inout StandardOutput) throws {
        guard widths == nil else { return }
        let fitted = Table.widths(headers: headers, rows: sample, width: width)
        widths = fitted
        try out.write(Table.line(headers, widths: fitted) + "\n" + Table.line(fitted.map { String(repeating: "-", count: $0) }, widths: fitted) + "\n")
        for row in sample { try out.write(Table.line(row, widths: fitted) + "\n") }
        sample.removeAll()
    }
}
