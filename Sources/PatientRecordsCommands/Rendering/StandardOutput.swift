import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Standard output written in large blocks with `write(2)`, for output that may be long
/// (exports, audit trails, reports): one system call per 64 KiB rather than per line, and memory
/// that does not grow with the output.
///
/// A reader that goes away (`export | head`) is not a crash: the write fails with `EPIPE` (the
/// process ignores SIGPIPE, see ``CommandRunner``), ``OutputClosed`` is thrown, and the runner
/// exits quietly with status 141, as a shell reports a process ended by SIGPIPE.
struct StandardOutput: ~Copyable {
    private var buffer: [UInt8] = []
    private let blockSize = 1 << 16

    init() {
        buffer.reserveCapacity(blockSize + 4096)
    }

    /// The reader of standard output closed it.
    struct OutputClosed: Error {}

    mutating func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= blockSize { try flush() }
    }

    mutating func write(bytes: some Sequence<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= blockSize { try flush() }
    }

    /// Appends to the block without a flush check (several pieces of one value).
    mutating func append(_ text: String) { buffer.append(contentsOf: text.utf8) }

    /// Appends `text` as a JSON string (quotes, escapes).
    mutating func appendJSONString(_ text: String) { JSONText.appendString(text, to: &buffer) }

    mutating func flush() throws {
        try buffer.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(1, base + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EPIPE { throw OutputClosed() }
                    throw CommandFailure("Standard output could not be written: \(String(cString: strerror(errno))).")
                }
                offset += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// JSON text written by hand where the output is long and its shape fixed (no intermediate
/// tree, no per-value allocations of an encoder).
enum JSONText {
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func string(_ text: String) -> String {
        var out: [UInt8] = []
        appendString(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
