import Foundation

/// Files the tools write that hold patient data (pages, JSON, FHIR): readable by their owner
/// only (0600), written whole under a temporary name and renamed, so a reader never sees half
/// of one and no other user ever can.
enum PrivateFile {
    static func write(_ text: String, to path: String) throws {
        var isDirectory: ObjCBool = false
        if path.hasSuffix("/") || (FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue) {
            throw CommandFailure("Could not write \(path): it is a directory; name a file in it, such as \((path as NSString).appendingPathComponent("page.html")).")
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            throw CommandFailure("Could not write \(path): the directory \(directory) does not exist; create it first.")
        }
        let temporary = (directory.isEmpty ? "." : directory) + "/." + (path as NSString).lastPathComponent + ".\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw failure(path, errno) }
        var written = true
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let count = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count <= 0 { written = false; break }
                offset += count
            }
        }
        let synced = fsync(descriptor) == 0
        let code = errno
        close(descriptor)
        guard written, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw failure(path, code)
        }
    }

    private static func failure(_ path: String, _ code: Int32) -> CommandFailure {
        if code == EFBIG || code == ENOSPC || code == EDQUOT {
            return CommandFailure("Could not write \(path): the disk or the file size limit is full; nothing was written: free space and try again.")
        }
        return CommandFailure("Could not write \(path): \(String(cString: strerror(code))).")
    }
}

/// A failure of a command that is not the store's or the input's: one sentence.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
