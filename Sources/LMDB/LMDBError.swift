import CLMDB
import CLMDBGuard
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error returned by LMDB: one of its own return codes, or an `errno` value it passed on.
///
/// `MDB_NOTFOUND` is never an error here: lookups that find nothing return `nil`.
///
/// ```swift
/// do { try environment.write { txn in try txn.put(value, for: key, in: db, flags: .noOverwrite) } }
/// catch let error as LMDBError where error == .keyExists { … }
/// ```
///
/// A few conditions are detected by this layer rather than by LMDB (``lockFileReplaced``,
/// ``lockFileMissing``, ``dataFileTruncated``); they have codes below LMDB's own.
public struct LMDBError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw return code: an `MDB_*` constant (negative) or an `errno` value (positive).
    public let rawValue: Int32
    /// What was found, for the codes this layer detects itself (``damaged``, ``assertion``):
    /// one sentence naming the page and the field. Not part of equality: errors are matched by code.
    public let detail: String?

    public init(rawValue: Int32, detail: String? = nil) {
        self.rawValue = rawValue
        self.detail = detail
    }

    public static func == (lhs: LMDBError, rhs: LMDBError) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    /// `MDB_KEYEXIST`: key/data pair already exists.
    public static let keyExists = LMDBError(rawValue: MDB_KEYEXIST)
    /// `MDB_PAGE_NOTFOUND`: requested page not found, usually corruption.
    public static let pageNotFound = LMDBError(rawValue: MDB_PAGE_NOTFOUND)
    /// `MDB_CORRUPTED`: located page was the wrong type.
    public static let corrupted = LMDBError(rawValue: MDB_CORRUPTED)
    /// `MDB_PANIC`: update of meta page failed or the environment had a fatal error.
    public static let panic = LMDBError(rawValue: MDB_PANIC)
    /// `MDB_VERSION_MISMATCH`: the environment was written by another LMDB version.
    public static let versionMismatch = LMDBError(rawValue: MDB_VERSION_MISMATCH)
    /// `MDB_INVALID`: the file is not an LMDB data file.
    public static let invalid = LMDBError(rawValue: MDB_INVALID)
    /// `MDB_MAP_FULL`: the map size is reached. ``Environment/write(_:)`` grows the map and retries.
    public static let mapFull = LMDBError(rawValue: MDB_MAP_FULL)
    /// `MDB_DBS_FULL`: the environment's maximum number of named databases is reached.
    public static let databasesFull = LMDBError(rawValue: MDB_DBS_FULL)
    /// `MDB_READERS_FULL`: the environment's maximum number of readers is reached.
    public static let readersFull = LMDBError(rawValue: MDB_READERS_FULL)
    /// `MDB_TXN_FULL`: the transaction has too many dirty pages.
    public static let transactionFull = LMDBError(rawValue: MDB_TXN_FULL)
    /// `MDB_CURSOR_FULL`: cursor stack too deep, an internal error.
    public static let cursorFull = LMDBError(rawValue: MDB_CURSOR_FULL)
    /// `MDB_PAGE_FULL`: page has not enough space, an internal error.
    public static let pageFull = LMDBError(rawValue: MDB_PAGE_FULL)
    /// `MDB_MAP_RESIZED`: another process grew the map beyond this one's size. Handled internally.
    public static let mapResized = LMDBError(rawValue: MDB_MAP_RESIZED)
    /// `MDB_INCOMPATIBLE`: the operation does not fit the database's flags.
    public static let incompatible = LMDBError(rawValue: MDB_INCOMPATIBLE)
    /// `MDB_BAD_RSLOT`: invalid reuse of a reader slot.
    public static let badReaderSlot = LMDBError(rawValue: MDB_BAD_RSLOT)
    /// `MDB_BAD_TXN`: the transaction must abort, has a child, or is invalid.
    public static let badTransaction = LMDBError(rawValue: MDB_BAD_TXN)
    /// `MDB_BAD_VALSIZE`: unsupported size of key, database name or data.
    public static let badValueSize = LMDBError(rawValue: MDB_BAD_VALSIZE)
    /// `MDB_BAD_DBI`: the database handle was closed or changed unexpectedly.
    public static let badDatabase = LMDBError(rawValue: MDB_BAD_DBI)

    /// `ENOENT`: no such file or directory.
    public static let noSuchFile = LMDBError(rawValue: ENOENT)
    /// `EACCES`: permission denied (also: a write in a read-only transaction or environment).
    public static let permissionDenied = LMDBError(rawValue: EACCES)
    /// `ENOSPC`: no space left on the device.
    public static let noSpace = LMDBError(rawValue: ENOSPC)
    /// `EIO`: input/output error.
    public static let ioError = LMDBError(rawValue: EIO)
    /// `EINVAL`: invalid argument.
    public static let invalidArgument = LMDBError(rawValue: EINVAL)
    /// `EFBIG`: file too large (for example beyond `RLIMIT_FSIZE`).
    public static let fileTooLarge = LMDBError(rawValue: EFBIG)
    /// `EAGAIN`: the environment is locked by another process in an incompatible mode.
    public static let wouldBlock = LMDBError(rawValue: EAGAIN)

    // Conditions this layer detects itself, outside LMDB's own range of codes.

    /// `lock.mdb` was removed or replaced while the environment was open, or another process
    /// commits through a lock file of its own: a write is refused rather than risk overwriting
    /// that process's commits.
    public static let lockFileReplaced = LMDBError(rawValue: -31_001)
    /// `lock.mdb` is missing while another process has the environment open.
    public static let lockFileMissing = LMDBError(rawValue: -31_002)
    /// The data file is shorter than the pages its last commit uses: truncated, or only partly
    /// copied.
    public static let dataFileTruncated = LMDBError(rawValue: -31_003)
    /// LMDB faulted reading a damaged page (it followed a pointer outside its data); the fault
    /// was caught and the call failed instead of ending the process.
    public static let pageFault = LMDBError(rawValue: -31_004)
    /// One of LMDB's own assertions failed on a damaged page; the call failed instead of the
    /// process aborting. ``detail`` holds LMDB's text.
    public static let assertion = LMDBError(rawValue: -31_005)
    /// The file's structure is damaged (a meta page, the free list, a tree, the accounting of
    /// pages), found by this layer's own check of the file; ``detail`` names the page and field.
    public static let damaged = LMDBError(rawValue: -31_006)
    /// The data file shrank while this process read it in place: a page vanished under a reader.
    /// Nothing read in that transaction is used.
    public static let fileShrank = LMDBError(rawValue: -31_007)

    public var description: String {
        switch self {
        case .lockFileReplaced:
            "the lock file lock.mdb was removed or replaced while the environment was open, so another process may be writing without this one knowing"
        case .lockFileMissing:
            "the lock file lock.mdb is missing while another process has the environment open"
        case .dataFileTruncated:
            "the data file data.mdb is shorter than the pages its last commit uses (truncated, or only partly copied)"
        case .pageFault:
            "a page of the data file is damaged (reading it faulted)"
        case .assertion:
            "a page of the data file is damaged (LMDB's check \(Self.assertionText(detail)) failed)"
        case .damaged:
            detail.map { "the data file's structure is damaged: " + $0.trimmingSuffix(".") } ?? "the data file's structure is damaged"
        case .fileShrank:
            "the data file data.mdb shrank while it was being read (truncated under a running reader); what was read is not used"
        default:
            String(cString: mdb_strerror(rawValue))
        }
    }

    /// `'IS_LEAF(mp)'` out of LMDB's `mdb.c:1234: Assertion 'IS_LEAF(mp)' failed in f()`.
    private static func assertionText(_ text: String?) -> String {
        guard let text, let start = text.firstIndex(of: "'"), let end = text[text.index(after: start)...].firstIndex(of: "'") else {
            return "of a page"
        }
        return String(text[start...end])
    }

    /// Lets `catch LMDBError.mapFull { … }` match a thrown error.
    public static func ~= (pattern: LMDBError, error: any Error) -> Bool {
        (error as? LMDBError) == pattern
    }

    /// Whether the error says the data file is damaged (or shrank under a reader), as opposed
    /// to a refusal, a full disk or a lock.
    public var isDamage: Bool {
        [LMDBError.corrupted, .pageNotFound, .dataFileTruncated, .pageFault, .assertion, .damaged, .fileShrank, .panic, .invalid]
            .contains(self)
    }

    /// Whether the error came from the file system rather than from LMDB itself.
    public var isSystemError: Bool { rawValue > 0 }
}

/// Turns an LMDB return code into a thrown ``LMDBError``.
@inline(__always)
func check(_ code: Int32) throws(LMDBError) {
    if code != 0 { throw LMDBError.from(code) }
}

extension LMDBError {
    /// The error for `code`, with LMDB's assertion text when a guarded call caught one.
    static func from(_ code: Int32) -> LMDBError {
        code == LMDBError.assertion.rawValue ? LMDBError(rawValue: code, detail: String(cString: clmdb_last_assertion())) : LMDBError(rawValue: code)
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
