import Foundation

/// Reads a file or pipe line by line in fixed-size chunks: memory stays constant however large the input.
struct LineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private var finished = false
    /// Bytes consumed so far, for progress.
    private(set) var bytesRead = 0

    init(handle: FileHandle) {
        self.handle = handle
    }

    /// The next line without its newline, or `nil` at the end.
    mutating func next() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[start..<newline]
                start = newline + 1
                return line
            }
            if finished {
                guard start < buffer.count else { return nil }
                let line = buffer[start...]
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { finished = true }
            bytesRead += chunk.count
            buffer.append(contentsOf: chunk)
        }
    }
}
