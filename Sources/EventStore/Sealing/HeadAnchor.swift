import Glibc

/// The highest head a store has committed, kept outside its data file (by default beside the
/// master key file, `<key file>.head`), so that a rollback of the file is found: LMDB leaves
/// every older meta leaf (head, chain hash, head seal) in a free page, and someone with write
/// access to the data file but not the key can put an older one back, or the whole file of an
/// older backup. `verify` with the key then finds the head below this mark.
///
/// Written after each durable commit, only ever upwards (a lock on the file and a read before the
/// write keep two processes from lowering it), without a flush of its own: after a power loss the
/// mark may be behind the head (never ahead of it: the commit was flushed first), which hides a
/// rollback across that crash but never reports a false one.
final class HeadAnchor: Sendable {
    let path: String

    init(path: String) { self.path = path }

    /// The mark, or `nil` when there is none (or it does not parse: a damaged mark is no mark).
    func read() -> ChainHead? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        return Self.parse(descriptor)
    }

    /// Raises the mark to `head` when it is higher. Failures are not the commit's: the mark is a
    /// second witness, and a missing one only makes `verify` say less.
    func advance(to head: ChainHead) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { return }
        defer { flock(descriptor, LOCK_UN) }
        if let current = Self.parse(descriptor), current.sequence >= head.sequence { return }
        let text = Array((head.description + "\n").utf8)
        let written = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        if written == text.count { _ = ftruncate(descriptor, off_t(text.count)) }
    }

    private static func parse(_ descriptor: Int32) -> ChainHead? {
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        return ChainHead(text)
    }
}
