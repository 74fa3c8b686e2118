import Crypto
import LMDB
import Synchronization

/// Retired secrets (a destroyed data key) scrubbed from LMDB's free pages without pulling a page
/// from under a reader. What a reader may still see when a secret is retired is written into
/// `meta` (`scrub-pending`: page, offset, length, the commit that freed the page, and the
/// SHA-256 of the secret, never the secret) in the same durable way as any write, and the commits
/// that follow overwrite those places once no reader can see them: a crash in between forgets
/// nothing, since every process that opens the store for writing takes the list up again.
final class PendingScrubs: Sendable {
    /// Whether `meta` may hold places still to scrub (checked after each commit while true).
    private let pending = Atomic<Bool>(false)

    var mayHaveWork: Bool { pending.load(ordering: .acquiring) }

    func noteWork() { pending.store(true, ordering: .releasing) }

    /// One place, as stored: page, offset, length, freed-by, digest.
    struct Entry: Hashable {
        let site: ScrubSite
        let digest: [UInt8]

        static let size = 8 + 4 + 4 + 8 + 32

        var bytes: [UInt8] {
            Bytes.bigEndian(UInt64(site.page)) + withUnsafeBytes(of: UInt32(site.offset).bigEndian) { Array($0) }
                + withUnsafeBytes(of: UInt32(site.length).bigEndian) { Array($0) } + Bytes.bigEndian(site.freedBy) + digest
        }

        static func decode(_ raw: UnsafeRawBufferPointer) -> [Entry] {
            guard raw.count % size == 0 else { return [] }
            return stride(from: 0, to: raw.count, by: size).compactMap { start in
                let slice = UnsafeRawBufferPointer(rebasing: raw[start..<(start + size)])
                guard let page = Bytes.uint64(bigEndian: UnsafeRawBufferPointer(rebasing: slice[0..<8])),
                      let freedBy = Bytes.uint64(bigEndian: UnsafeRawBufferPointer(rebasing: slice[16..<24])),
                      page < UInt64(Int.max) else { return nil }
                let offset = Int(slice.loadUnaligned(fromByteOffset: 8, as: UInt32.self).bigEndian)
                let length = Int(slice.loadUnaligned(fromByteOffset: 12, as: UInt32.self).bigEndian)
                return Entry(site: ScrubSite(page: Int(page), offset: offset, length: length, freedBy: freedBy), digest: Array(slice[24..<size]))
            }
        }
    }

    static func digest(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

    /// Scrubs `secrets` from the free pages now where no reader can see them, and records the rest.
    func retire(_ secrets: [[UInt8]], environment: Environment, meta: Database) throws {
        let outcome = try environment.scrubFreePages(containingAny: secrets)
        guard !outcome.deferred.isEmpty else { return }
        let digests = secrets.map(Self.digest)
        let entries = zip(outcome.deferred, outcome.deferredMatches).map { Entry(site: $0, digest: digests[$1]) }
        try environment.write { txn in
            let stored = try txn.value(forKey: StoreLayout.MetaKey.scrubPending, in: meta).map { Array($0) } ?? []
            try txn.put(stored + entries.flatMap(\.bytes), forKey: StoreLayout.MetaKey.scrubPending, in: meta)
        }
        noteWork()
    }

    /// Overwrites the recorded places no reader can see any more; keeps the others recorded.
    func process(environment: Environment, meta: Database) throws {
        guard mayHaveWork else { return }
        let entries = try environment.read { txn in
            try txn.value(forKey: StoreLayout.MetaKey.scrubPending, in: meta).map(Entry.decode) ?? []
        }
        guard !entries.isEmpty else {
            pending.store(false, ordering: .releasing)
            return
        }
        let digests = Dictionary(entries.map { ($0.site, $0.digest) }, uniquingKeysWith: { first, _ in first })
        let waiting = try environment.scrub(entries.map(\.site)) { site, found in Self.digest(found) == digests[site] }
        guard waiting.count != entries.count else { return }
        let left = Set(waiting)
        try environment.write { txn in
            // Entries recorded meanwhile (by another process) are kept.
            let stored = try txn.value(forKey: StoreLayout.MetaKey.scrubPending, in: meta).map(Entry.decode) ?? []
            let done = Set(entries.map(\.site)).subtracting(left)
            let kept = stored.filter { !done.contains($0.site) }
            if kept.isEmpty {
                _ = try txn.delete(forKey: StoreLayout.MetaKey.scrubPending, in: meta)
            } else {
                try txn.put(kept.flatMap(\.bytes), forKey: StoreLayout.MetaKey.scrubPending, in: meta)
            }
        }
        if waiting.isEmpty { pending.store(false, ordering: .releasing) }
    }
}

/// The head seal a commit replaced: where it lies in the file and its bytes.
struct RetiredSeal: Sendable {
    let page: Int
    let offset: Int
    let value: [UInt8]
    let freedBy: UInt64

    /// The current head seal, when it lies in a committed page (before this transaction changes it).
    static func locate(in txn: borrowing WriteTransaction, meta: Database) throws -> RetiredSeal? {
        guard let value = try txn.value(forKey: StoreLayout.MetaKey.headSeal, in: meta), let (page, offset) = txn.location(of: value) else { return nil }
        return RetiredSeal(page: page, offset: offset, value: Array(value), freedBy: txn.transactionId)
    }

    /// This seal, when the transaction replaced it (a head was written): its page is freed by
    /// the commit. `nil` when the seal stayed (nothing was appended): it is still live.
    func replaced(in txn: borrowing WriteTransaction, meta: Database) throws -> RetiredSeal? {
        let now = try txn.bytes(forKey: StoreLayout.MetaKey.headSeal, in: meta)
        return now != value ? self : nil
    }
}

/// Seals retired by commits, waiting for their readers to finish (kept in memory: a crash may
/// leave the last few in free pages, where LMDB reuses them; the head anchor beside the key still
/// finds a rollback to one of them).
final class RetiredSeals: Sendable {
    private let waiting = Mutex<[(site: ScrubSite, value: [UInt8])]>([])
    /// The last seals retired, and the last commit whose freed pages were searched for them.
    private let recent = Mutex<(seals: [[UInt8]], searched: UInt64)>(([], 0))
    /// Commits since the last scrub: the work (two takes of the writer lock, a read of the free
    /// list's newest records, a few pages) is done every `every` commits and when the store
    /// closes, not on each commit (measured: 60 µs a commit with one appender, 11 µs an event
    /// with sixteen, each time).
    private let pendingCommits = Mutex<Int>(0)
    static let every = 8

    /// Takes the seal a commit replaced; scrubs what is due every few commits. `meta` is where
    /// the live seal is read, so that it is never taken for a retired one.
    func retire(_ seal: RetiredSeal?, environment: Environment, meta: Database) {
        if let seal {
            waiting.withLock { $0.append((ScrubSite(page: seal.page, offset: seal.offset, length: seal.value.count, freedBy: seal.freedBy), seal.value)) }
            recent.withLock { $0.seals = Array(($0.seals + [seal.value]).suffix(16)) }
        }
        let due = pendingCommits.withLock { count in
            count += 1
            guard count >= Self.every else { return false }
            count = 0
            return true
        }
        if due { scrubNow(environment: environment, meta: meta) }
    }

    /// After a durable commit that wrote `head` (nil: none): the mark outside the file follows,
    /// and the seal the commit replaced is retired. What the group commit and an exclusive
    /// transaction both do once their commit returns.
    func committed(head: ChainHead?, replaced: RetiredSeal?, anchor: HeadAnchor?, environment: Environment, meta: Database) {
        if let head, head.sequence > 0 { anchor?.advance(to: head) }
        retire(replaced, environment: environment, meta: meta)
    }

    /// Overwrites every retired seal no reader can see any more (also when the store closes).
    func scrubNow(environment: Environment, meta: Database) {
        // The live seal is never overwritten, whatever a caller took for retired.
        guard let live = try? environment.read({ try $0.bytes(forKey: StoreLayout.MetaKey.headSeal, in: meta) }) else { return }
        waiting.withLock { $0.removeAll { $0.value == live } }
        overwriteWaiting(environment: environment)
        // Copies carried into other pages by LMDB's recycled buffers, once those pages are freed.
        let (seals, searched) = recent.withLock { ($0.seals.filter { $0 != live }, $0.searched) }
        guard !seals.isEmpty, let reached = try? environment.scrubPagesFreed(after: searched, values: seals) else { return }
        recent.withLock { $0.searched = max($0.searched, reached) }
    }

    /// Overwrites the retired seals waiting where they lay, once no reader can see them.
    private func overwriteWaiting(environment: Environment) {
        let sites = waiting.withLock { sites in
            defer { sites.removeAll() }
            return sites
        }
        guard !sites.isEmpty else { return }
        // Not flushed: the commit's own flush is the durability that matters; the zeros reach the
        // disk with the page cache (a crash before leaves that one old seal, for the anchor).
        let left = (try? environment.overwriteStale(sites, sync: false)) ?? sites
        // Sites that wait too long (a reader holding a snapshot for hours) are not kept forever.
        waiting.withLock { $0 = Array(($0 + left).suffix(4_096)) }
    }
}
