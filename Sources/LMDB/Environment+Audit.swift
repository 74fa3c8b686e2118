import CLMDBGuard
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What this layer's own check of the data file's structure found (see ``Environment/audit(_:)``).
public struct StructureReport: Sendable, Hashable {
    /// The transaction (commit) whose meta page was checked.
    public let transaction: UInt64
    /// The last page number that commit uses.
    public let lastPage: UInt64
    /// Pages in use by the databases (a full audit only).
    public let livePages: UInt64
    /// Pages listed in LMDB's free list.
    public let freePages: UInt64
    /// One sentence naming the page and what is wrong with it; `nil` when the structure is sound.
    public let problem: String?
    /// The page where the damage was found.
    public let damagedPage: UInt64?

    public var isSound: Bool { problem == nil }
}

extension Environment {
    /// For a command-line tool: a data file that shrinks under a reader reading it in place (a
    /// replay, an audit) ends the process with `message` on standard error and status 1, rather
    /// than reading on over zeros (see ``LMDBError/fileShrank``) or ending by SIGBUS. A library
    /// host keeps the default: the read transaction refuses its result.
    public static func exitWhenFileShrinks(message: String) {
        clmdb_exit_when_file_shrinks(message)
    }

    /// How much of the file's structure ``audit(_:)`` checks.
    public enum AuditDepth: Int32, Sendable {
        /// Both meta pages: magic, version, page size, consecutive transactions, the last page
        /// inside the file, every database root in range (done before every open).
        case metaPages = 0
        /// The meta pages, and the free list's and main database's trees walked whole, their
        /// entries in range and their statistics as the meta page records them (done before every
        /// write: these are the pages a writer reuses and relies on).
        case beforeWrite = 1
        /// Everything: every tree and overflow run, and every page below the last one owned
        /// exactly once, live in one tree or free (what `verify` does).
        case full = 2
    }

    /// Checks the structure of the data file by reading it (never through the map, so a damaged
    /// or truncated file cannot fault), as the commit `transaction` left it (the newest when 0).
    public func audit(_ depth: AuditDepth, transaction: UInt64 = 0) throws(LMDBError) -> StructureReport {
        try Self.audit(descriptor: locks.fileDescriptor, depth: depth, transaction: transaction)
    }

    static func audit(descriptor: Int32, depth: AuditDepth, transaction: UInt64 = 0) throws(LMDBError) -> StructureReport {
        var report = clmdb_audit_report()
        let rc = clmdb_audit(descriptor, depth.rawValue, transaction, &report)
        if rc == CLMDB_AUDIT_IO { throw LMDBError(rawValue: report.io_errno == 0 ? EIO : report.io_errno) }
        let problem: String? = rc == CLMDB_AUDIT_OK ? nil : withUnsafeBytes(of: report.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return StructureReport(
            transaction: report.txnid, lastPage: report.last_page, livePages: report.live_pages,
            freePages: report.free_pages, problem: problem.map { $0.isEmpty ? "the structure check failed" : $0 },
            damagedPage: report.damaged_page == UInt64.max ? nil : report.damaged_page)
    }

    /// Refuses a data file whose meta pages are damaged, before LMDB reads them (LMDB trusts
    /// them: a page count past the file, a root in another tree, a transaction id out of step).
    static func checkMetaPages(directory: String) throws(LMDBError) {
        let descriptor = open(directory + "/data.mdb", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return } // LMDB creates it, or reports why not
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_size > 0 else { return }
        let report = try audit(descriptor: descriptor, depth: .metaPages)
        if let problem = report.problem { throw LMDBError(rawValue: LMDBError.damaged.rawValue, detail: problem) }
    }

    /// The check before a write transaction: what the writer relies on (the meta pages, the
    /// free list it reuses pages from) is sound, or nothing is written. The free list and the
    /// main database are walked before this environment's first write and whenever another
    /// process committed since its last one (about 0.1 ms on a 400 MB store with 9,000 free
    /// pages); between its own commits, which started from a checked state, the meta pages are
    /// checked (microseconds).
    func checkBeforeWrite() throws(LMDBError) {
        let last = info().lastTransaction
        let depth: AuditDepth = writeChecked.withLock { $0 == last } ? .metaPages : .beforeWrite
        let report = try audit(depth)
        if let problem = report.problem { throw LMDBError(rawValue: LMDBError.damaged.rawValue, detail: problem) }
    }

    /// Notes that this environment's own commit `transaction` followed a checked state.
    func noteCommitted(_ transaction: Int) {
        writeChecked.withLock { $0 = transaction }
    }
}

/// A place in a free page of the data file where a retired value lies, to be overwritten once
/// no reader can see it (see ``Environment/scrubFreePages(containing:)``).
public struct ScrubSite: Sendable, Hashable {
    public let page: Int
    public let offset: Int
    public let length: Int
    /// The commit that freed the page: readers of older snapshots may still read it.
    public let freedBy: UInt64

    public init(page: Int, offset: Int, length: Int, freedBy: UInt64) {
        self.page = page
        self.offset = offset
        self.length = length
        self.freedBy = freedBy
    }
}

/// What ``Environment/scrubFreePages(containing:)`` did.
public struct ScrubOutcome: Sendable {
    /// Copies overwritten with zeros (and flushed).
    public var overwritten = 0
    /// Copies a reader may still see: to be overwritten later.
    public var deferred: [ScrubSite] = []
    /// For each deferred site, the index of the value found there (in the values asked for).
    public var deferredMatches: [Int] = []

    public init() {}
}
