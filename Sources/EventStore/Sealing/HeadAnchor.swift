import Glibc
import Synchronization

/// The highest head a store has committed, kept outside its data file (by default beside the
/// master key file, `<key file>.head`), so that a rollback of the file is found: LMDB leaves
/// every older meta leaf (head, chain hash, head seal) in a free page, and someone with write
/// access to the data file but not the key can put an older one back, or the whole file of an
/// older backup. `verify` with the key then finds the head below this mark.
///
/// The mark names the store's directory: it speaks of the live store at that path only. A
/// backup, or a restored copy elsewhere, is an older state on purpose and is not compared.
///
/// Written after each durable commit, only ever upwards (a lock on the file and a read before the
/// write keep two processes from lowering it), without a flush of its own: after a power loss the
/// mark may be behind the head (never ahead of it: the commit was flushed first), which hides a
/// rollback across that crash but never reports a false one.
final class HeadAnchor: Sendable {
    let path: String
    /// The store's directory, as the mark names it (resolved: symbolic links and `..` removed).
    let storePath: String

    init(path: String, storePath: String) {
        self.path = path
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        self.storePath = realpath(storePath, &resolved) != nil
            ? String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : storePath
    }

    /// The mark of this store's directory, or `nil` when there is none, it names another
    /// directory, or it does not parse (a damaged mark is no mark).
    func read() -> ChainHead? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard let (head, directory) = Self.parse(descriptor), directory == storePath else { return nil }
        return head
    }

    /// The mark's file, opened at the first advance and kept open (a commit pays a lock, a read
    /// and a write, not an open).
    private let file = Mutex<Int32>(-1)

    deinit {
        file.withLock { if $0 >= 0 { close($0) } }
    }

    /// Raises the mark to `head` when it is higher. Failures are not the commit's: the mark is a
    /// second witness, and a missing one only makes `verify` say less.
    func advance(to head: ChainHead) {
        file.withLock { descriptor in
            if descriptor < 0 { descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) }
            guard descriptor >= 0 else { return }
            write(head, to: descriptor)
        }
    }

    private func write(_ head: ChainHead, to descriptor: Int32) {
        guard flock(descriptor, LOCK_EX) == 0 else { return }
        defer { flock(descriptor, LOCK_UN) }
        if let (current, _) = Self.parse(descriptor), current.sequence >= head.sequence { return }
        let text = Array((head.description + " " + storePath + "\n").utf8)
        let written = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        if written == text.count { _ = ftruncate(descriptor, off_t(text.count)) }
    }

    /// `HEX@SEQUENCE DIRECTORY`.
    private static func parse(_ descriptor: Int32) -> (ChainHead, String)? {
        var buffer = [UInt8](repeating: 0, count: 8192)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let line = String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n").first ?? ""
        guard let space = line.firstIndex(of: " "), let head = ChainHead(String(line[..<space])) else { return nil }
        return (head, String(line[line.index(after: space)...]))
    }
}
