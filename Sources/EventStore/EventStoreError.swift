import Glibc
import LMDB

/// Why the store refused or failed: a stable ``code`` to react to, one sentence that says what
/// happened and what to do, and the LMDB error underneath when there is one.
///
/// A struct rather than an enum, so that a new kind of failure is a new ``Code``, not a source
/// break for every `switch` in client code (as swift-nio's `FileSystemError` and GRDB's
/// `DatabaseError` do). Match a kind with its code:
///
/// ```swift
/// do { try await store.append(events, to: "P-1", expectedVersion: .exactly(3)) }
/// catch EventStoreError.versionConflict { /* reload and retry */ }
/// catch let error as EventStoreError where error.code == .duplicateEventId { print(error.eventId ?? "") }
/// ```
public struct EventStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A kind of failure. New codes may be added; treat an unknown one as a failure to report.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Lets `catch EventStoreError.versionConflict { … }` match an error by its code.
        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? EventStoreError)?.code == code
        }

        /// The same match where the error is typed (`throws(EventStoreError)`).
        public static func ~= (code: Code, error: EventStoreError) -> Bool {
            error.code == code
        }

        /// The path is a file, not a directory.
        public static let notADirectory = Code(rawValue: "not-a-directory")
        /// No store exists at the path (opening read-only, or without permission to create one).
        public static let noStore = Code(rawValue: "no-store")
        /// The directory is not empty and holds no store: a new store is made only in an empty one.
        public static let directoryNotEmpty = Code(rawValue: "directory-not-empty")
        /// The process may not read or write the store's directory or files.
        public static let permissionDenied = Code(rawValue: "permission-denied")
        /// The store's directory or one of its files can be written by other users.
        public static let writableByOthers = Code(rawValue: "writable-by-others")
        /// The directory holds a data file that does not open as an event store: damaged, or
        /// something else's. Nothing is changed in it.
        public static let notAnEventStore = Code(rawValue: "not-an-event-store")
        /// The store is damaged: a truncated data file, a damaged page or record, a missing index.
        public static let damaged = Code(rawValue: "damaged")
        /// The store was written in a format version this build does not read.
        public static let formatVersionMismatch = Code(rawValue: "format-version-mismatch")
        /// The same store is already open in this process.
        public static let alreadyOpen = Code(rawValue: "already-open")
        /// The store was opened read-only.
        public static let readOnly = Code(rawValue: "read-only")
        /// The store was closed.
        public static let closed = Code(rawValue: "closed")
        /// The stream did not have the version the writer expected.
        public static let versionConflict = Code(rawValue: "version-conflict")
        /// The event id is stored already, with other content.
        public static let duplicateEventId = Code(rawValue: "duplicate-event-id")
        /// An argument the store cannot take (an empty id, an over-long stream id, …).
        public static let invalidEvent = Code(rawValue: "invalid-event")
        /// A stored record could not be read.
        public static let corruptRecord = Code(rawValue: "corrupt-record")
        /// LMDB or the file system failed underneath (see ``EventStoreError/underlyingDescription``).
        public static let storage = Code(rawValue: "storage")
        /// Another process uses the store through a different lock file.
        public static let lockFileReplaced = Code(rawValue: "lock-file-replaced")
        /// A sealed store was opened without saying where its master key is.
        public static let masterKeyRequired = Code(rawValue: "master-key-required")
        /// The master key's file does not exist.
        public static let masterKeyMissing = Code(rawValue: "master-key-missing")
        /// The master key does not open this store.
        public static let wrongMasterKey = Code(rawValue: "wrong-master-key")
        /// The store's master key was rotated since this process opened it: it may no longer write.
        public static let masterKeyChanged = Code(rawValue: "master-key-changed")
        /// A key file or key text that holds no master key.
        public static let invalidMasterKey = Code(rawValue: "invalid-master-key")
        /// The key file can be read by other users.
        public static let keyFileExposed = Code(rawValue: "key-file-exposed")
        /// A key file could not be written.
        public static let keyFileNotWritten = Code(rawValue: "key-file-not-written")
        /// The stream's data key was destroyed: nothing more can be appended to it.
        public static let streamKeyDestroyed = Code(rawValue: "stream-key-destroyed")
        /// The stream's data key cannot be read (missing, or not opened by this master key).
        public static let streamKeyUnreadable = Code(rawValue: "stream-key-unreadable")
        /// The operation needs a store that seals its payloads.
        public static let notSealed = Code(rawValue: "not-sealed")
        /// A backup's destination cannot take a copy.
        public static let backupDestination = Code(rawValue: "backup-destination")
        /// An index the store was not opened with (see `EventStore.Options.indexes`).
        public static let unknownIndex = Code(rawValue: "unknown-index")
        /// The cryptographic library failed to seal or wrap (not a wrong key: that is
        /// ``wrongMasterKey`` or ``streamKeyUnreadable``).
        public static let cryptography = Code(rawValue: "cryptography")
    }

    /// What kind of failure this is.
    public let code: Code
    /// One sentence: what happened and what to do.
    public let message: String
    /// The LMDB or file-system error underneath, when there is one (LMDB is an implementation
    /// detail of the store: clients read ``underlyingDescription``).
    package let underlying: LMDBError?
    /// What LMDB or the file system reported underneath, when there is one: for logs.
    public var underlyingDescription: String? { underlying.map { String(describing: $0) } }
    /// The store directory or file concerned, when there is one.
    public var path: String?
    /// The stream concerned, when there is one.
    public var stream: String?
    /// The event id concerned, when there is one.
    public var eventId: String?
    /// The sequence concerned (a damaged record, an id stored already), when there is one.
    public var sequence: UInt64?

    public init(code: Code, message: String, path: String? = nil, stream: String? = nil, eventId: String? = nil, sequence: UInt64? = nil) {
        self.init(code: code, message: message, underlying: nil, path: path, stream: stream, eventId: eventId, sequence: sequence)
    }

    package init(code: Code, message: String, underlying: LMDBError?, path: String? = nil, stream: String? = nil, eventId: String? = nil, sequence: UInt64? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.path = path
        self.stream = stream
        self.eventId = eventId
        self.sequence = sequence
    }

    public var description: String { message }

    // Each code under the error's own name, so that `catch EventStoreError.versionConflict`
    // matches by code (see ``Code/~=(_:_:)``).
    public static let notADirectory = Code.notADirectory
    public static let noStore = Code.noStore
    public static let directoryNotEmpty = Code.directoryNotEmpty
    public static let permissionDenied = Code.permissionDenied
    public static let writableByOthers = Code.writableByOthers
    public static let notAnEventStore = Code.notAnEventStore
    public static let damaged = Code.damaged
    public static let formatVersionMismatch = Code.formatVersionMismatch
    public static let alreadyOpen = Code.alreadyOpen
    public static let readOnly = Code.readOnly
    public static let closed = Code.closed
    public static let versionConflict = Code.versionConflict
    public static let duplicateEventId = Code.duplicateEventId
    public static let invalidEvent = Code.invalidEvent
    public static let corruptRecord = Code.corruptRecord
    public static let storage = Code.storage
    public static let lockFileReplaced = Code.lockFileReplaced
    public static let masterKeyRequired = Code.masterKeyRequired
    public static let masterKeyMissing = Code.masterKeyMissing
    public static let wrongMasterKey = Code.wrongMasterKey
    public static let masterKeyChanged = Code.masterKeyChanged
    public static let invalidMasterKey = Code.invalidMasterKey
    public static let keyFileExposed = Code.keyFileExposed
    public static let keyFileNotWritten = Code.keyFileNotWritten
    public static let streamKeyDestroyed = Code.streamKeyDestroyed
    public static let streamKeyUnreadable = Code.streamKeyUnreadable
    public static let notSealed = Code.notSealed
    public static let backupDestination = Code.backupDestination
    public static let unknownIndex = Code.unknownIndex
    public static let cryptography = Code.cryptography

    // The kinds of failure, each with its sentence.

    public static func notADirectory(path: String) -> EventStoreError {
        EventStoreError(code: .notADirectory, message: "\(path) is a file, not a directory; give the directory that holds (or is to hold) the store.", path: path)
    }
    public static func noStore(path: String) -> EventStoreError {
        EventStoreError(code: .noStore, message: "There is no event store at \(path); create one by opening it for writing first.", path: path)
    }
    public static func directoryNotEmpty(path: String) -> EventStoreError {
        EventStoreError(code: .directoryNotEmpty, message: "\(path) is not empty and holds no event store; a new store is created only in a new or empty directory.", path: path)
    }
    public static func permissionDenied(path: String) -> EventStoreError {
        EventStoreError(code: .permissionDenied, message: "Permission denied for the store at \(path); run as the user that owns it or fix its permissions.", path: path)
    }
    public static func writableByOthers(path: String, mode: UInt32) -> EventStoreError {
        EventStoreError(code: .writableByOthers, message: "\(path) can be written by other users (mode \(String(mode, radix: 8))); a store must be writable by its owner only: run chmod go-w on it.", path: path)
    }
    public static func notAnEventStore(path: String, reason: String) -> EventStoreError {
        EventStoreError(code: .notAnEventStore, message: "\(path) holds a data file that does not open as an event store (\(reason)): it is damaged or belongs to something else. Nothing was changed; restore the store from a backup.", path: path)
    }
    public static func damaged(path: String, reason: String) -> EventStoreError {
        damaged(path: path, reason: reason, underlying: nil)
    }
    package static func damaged(path: String, reason: String, underlying: LMDBError?) -> EventStoreError {
        EventStoreError(code: .damaged, message: "The store at \(path) is damaged: \(reason). Nothing was changed; restore the store from a backup.", underlying: underlying, path: path)
    }
    public static func formatVersionMismatch(path: String, found: UInt32, supported: ClosedRange<UInt32>) -> EventStoreError {
        EventStoreError(code: .formatVersionMismatch, message: "The store at \(path) has format version \(found), but this build reads format versions \(supported.lowerBound) to \(supported.upperBound); use a build that supports version \(found).", path: path)
    }
    public static func alreadyOpen(path: String) -> EventStoreError {
        EventStoreError(code: .alreadyOpen, message: "The store at \(path) is already open in this process; share that instance instead of opening it twice.", path: path)
    }
    public static func readOnly(path: String) -> EventStoreError {
        EventStoreError(code: .readOnly, message: "The store at \(path) is open read-only; open it for writing to append.", path: path)
    }
    public static func closed(path: String) -> EventStoreError {
        EventStoreError(code: .closed, message: "The event store at \(path) is closed; open it again to use it.", path: path)
    }
    public static func versionConflict(stream: String, expected: ExpectedVersion, actual: UInt64) -> EventStoreError {
        EventStoreError(code: .versionConflict, message: "Stream \(stream) is at version \(actual), but the append expected \(expected); reload the stream and try again.", stream: stream, sequence: nil)
    }
    public static func duplicateEventId(id: String, storedAt sequence: UInt64) -> EventStoreError {
        EventStoreError(code: .duplicateEventId, message: "Event id \(id) is already stored (sequence \(sequence)) with other content; give the new event a new id.", eventId: id, sequence: sequence)
    }
    public static func invalidEvent(_ reason: String) -> EventStoreError {
        EventStoreError(code: .invalidEvent, message: reason)
    }
    public static func corruptRecord(sequence: UInt64, reason: String) -> EventStoreError {
        EventStoreError(code: .corruptRecord, message: "The record at sequence \(sequence) is damaged: \(reason).", sequence: sequence)
    }
    package static func storage(operation: String, _ error: LMDBError, path: String? = nil) -> EventStoreError {
        // LMDB reports a write cut short by a full disk as an I/O error (and a copy written with
        // O_DIRECT, cut short by a file size limit, as an invalid argument).
        let error = (error == .ioError || error == .invalidArgument) && path.map(diskIsFull) == true ? LMDBError.noSpace : error
        let message = switch error {
        case LMDBError.noSpace, LMDBError.fileTooLarge, LMDBError(rawValue: EDQUOT):
            "Could not \(operation): \(error); the disk (or the file size limit) is full. Nothing of this write was stored and everything stored before is intact: free space and try again."
        case LMDBError.fileShrank:
            "Could not \(operation): \(error). Nothing was changed: find what truncated the file, then run verify (restore the store from a backup if it says damaged)."
        case _ where error.isDamage:
            "Could not \(operation): \(error). The store is damaged; nothing was changed: restore it from a backup."
        case LMDBError.lockFileReplaced, LMDBError.lockFileMissing:
            "Could not \(operation): \(error). Nothing was written: stop every process that uses the store, then open it again."
        default:
            "Could not \(operation): \(error)."
        }
        let code: Code = switch error {
        case _ where error.isDamage: .damaged
        case LMDBError.lockFileReplaced, LMDBError.lockFileMissing: .lockFileReplaced
        default: .storage
        }
        return EventStoreError(code: code, message: message, underlying: error, path: path)
    }
    public static func masterKeyRequired(path: String) -> EventStoreError {
        EventStoreError(code: .masterKeyRequired, message: "The store at \(path) is sealed and no master key was given; give its key file.", path: path)
    }
    public static func masterKeyMissing(keyFile: String) -> EventStoreError {
        EventStoreError(code: .masterKeyMissing, message: "The master key file \(keyFile) does not exist; point to the store's key file or restore it from where keys are kept.", path: keyFile)
    }
    public static func masterKeyRotated() -> EventStoreError {
        EventStoreError(code: .masterKeyChanged, message: "The store's master key was rotated since it was opened here; nothing was written: open the store again with the new key file.")
    }
    public static func wrongMasterKey(path: String, source: String) -> EventStoreError {
        EventStoreError(code: .wrongMasterKey, message: "\(source.prefix(1).uppercased() + source.dropFirst()) does not hold the master key of the store at \(path); use the key file created with this store.", path: path)
    }
    public static func invalidMasterKey(source: String, reason: String) -> EventStoreError {
        EventStoreError(code: .invalidMasterKey, message: "\(source.prefix(1).uppercased() + source.dropFirst()) holds no master key: \(reason).")
    }
    public static func keyFileExposed(path: String, mode: UInt32) -> EventStoreError {
        EventStoreError(code: .keyFileExposed, message: "The key file \(path) can be read by other users (mode \(String(mode, radix: 8))); run chmod 600 on it.", path: path)
    }
    public static func keyFileNotWritten(path: String, reason: String) -> EventStoreError {
        EventStoreError(code: .keyFileNotWritten, message: "Could not write the master key file \(path): \(reason).", path: path)
    }
    public static func streamKeyDestroyed(stream: String) -> EventStoreError {
        EventStoreError(code: .streamKeyDestroyed, message: "The data key of stream \(stream) was destroyed (crypto-shredding); nothing more can be appended to it.", stream: stream)
    }
    public static func streamKeyUnreadable(stream: String) -> EventStoreError {
        EventStoreError(code: .streamKeyUnreadable, message: "The data key of stream \(stream) cannot be read with this master key; the store's keys are damaged.", stream: stream)
    }
    public static func notSealed(path: String) -> EventStoreError {
        EventStoreError(code: .notSealed, message: "The store at \(path) was created without sealing; it keeps no data keys.", path: path)
    }
    public static func backupDestination(path: String, reason: String) -> EventStoreError {
        EventStoreError(code: .backupDestination, message: "Cannot back up to \(path): \(reason).", path: path)
    }
    public static func unknownIndex(_ name: String) -> EventStoreError {
        EventStoreError(code: .unknownIndex, message: "There is no index named \(name); declare it in EventStore.Options.indexes when the store is opened.")
    }
    public static func cryptography(_ what: String) -> EventStoreError {
        EventStoreError(code: .cryptography, message: "The cryptographic library failed: \(what). Nothing was written.")
    }

    /// Whether the file system of `path` has (almost) no room left, or the store's data file
    /// has reached the process's file size limit.
    static func diskIsFull(_ path: String) -> Bool {
        var fs = statvfs()
        if statvfs(path, &fs) == 0, UInt64(fs.f_bavail) * UInt64(fs.f_frsize) < 1 << 20 { return true }
        var limit = rlimit()
        var status = stat()
        if getrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max,
           stat(path + "/data.mdb", &status) == 0, UInt64(status.st_size) + (1 << 20) >= UInt64(limit.rlim_cur) {
            return true
        }
        return false
    }

    /// Any failure of an operation whose failures are all the store's, as an ``EventStoreError``:
    /// an LMDB error is `storage`, and anything else (which would be a bug) is `storage` too,
    /// with its description, so that such an operation can declare `throws(EventStoreError)`.
    static func converting(_ error: any Error, operation: String, path: String) -> EventStoreError {
        switch wrap(error, operation: operation, path: path) {
        case let error as EventStoreError: error
        default: EventStoreError(code: .storage, message: "Could not \(operation): \(error).", path: path)
        }
    }

    /// `error` as an ``EventStoreError`` when it is an LMDB error; otherwise unchanged.
    static func wrap(_ error: any Error, operation: String, path: String? = nil) -> any Error {
        if let lmdb = error as? LMDBError { return storage(operation: operation, lmdb, path: path) }
        return error
    }
}
