import EventStore
import Foundation

/// Reads a file or pipe line by line in fixed-size chunks: memory stays constant however large
/// the input, and no line longer than a limit is taken (the rest of it is not even buffered).
struct LineReader {
    private let handle: FileHandle
    private let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var finished = false
    /// Whether the first bytes are still to be looked at (for a byte order mark).
    private var atStart = true
    /// Bytes consumed so far, for progress.
    private(set) var bytesRead = 0

    init(handle: FileHandle, maxLineBytes: Int = .max) {
        self.handle = handle
        self.maxLineBytes = maxLineBytes
    }

    /// The next line without its newline, or `nil` at the end.
    ///
    /// - Throws: ``EventValidationError`` for a line longer than the limit, or an input that cannot be read.
    mutating func next(lineNumber: Int) throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[start..<newline]
                start = newline + 1
                return line
            }
            if buffer.count - start > maxLineBytes {
                throw EventValidationError(line: lineNumber, field: "line", reason: "is longer than \(maxLineBytes) bytes; a line is at most that")
            }
            if finished {
                guard start < buffer.count else { return nil }
                let line = buffer[start...]
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw EventValidationError(line: lineNumber, field: "file", reason: "cannot be read (\(SystemErrorText.reason(error)))")
            }
            if chunk.isEmpty { finished = true }
            bytesRead += chunk.count
            buffer.append(contentsOf: chunk)
            // A UTF-8 byte order mark at the start of the file is taken and dropped, as most
            // JSON tools do (editors on Windows write one).
            if atStart && (buffer.count >= 3 || finished) {
                atStart = false
                if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
            }
        }
    }
}
