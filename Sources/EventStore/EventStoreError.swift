import LMDB

/// Why the store refused or failed. Each case reads as one sentence that says what to do.
public enum EventStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The path exists but is a file, not a directory.
    case notADirectory(path: String)
    /// No store exists at the path (opening read-only, or without permission to create one).
    case noStore(path: String)
    /// The process may not read or write the store's directory or files.
    case permissionDenied(path: String)
    /// The store's directory or one of its files can be written by other users.
    case writableByOthers(path: String, mode: UInt32)
    /// The directory holds LMDB files but not an event store.
    case notAnEventStore(path: String)
    /// The store was written in another format version.
    case formatVersionMismatch(path: String, found: UInt32, supported: UInt32)
    /// The same store is already open in this process.
    case alreadyOpen(path: String)
    /// The store was opened read-only.
    case readOnly(path: String)
    /// The store was closed.
    case closed
    /// The stream did not have the version the writer expected.
    case versionConflict(stream: String, expected: ExpectedVersion, actual: UInt64)
    /// The event id is stored already, with other content.
    case duplicateEventId(id: String, storedAt: UInt64)
    /// An argument the store cannot take (an empty id, an over-long stream id, …).
    case invalidEvent(String)
    /// A stored record could not be read.
    case corruptRecord(sequence: UInt64, reason: String)
    /// LMDB failed underneath.
    case storage(operation: String, LMDBError)

    public var description: String {
        switch self {
        case .notADirectory(let path):
            "\(path) is a file, not a directory; give the directory that holds (or is to hold) the store."
        case .noStore(let path):
            "There is no event store at \(path); create one by opening it for writing first."
        case .permissionDenied(let path):
            "Permission denied for the store at \(path); run as the user that owns it or fix its permissions."
        case .writableByOthers(let path, let mode):
            "\(path) can be written by other users (mode \(String(mode, radix: 8))); a patient record must be writable by its owner only: run chmod go-w on it."
        case .notAnEventStore(let path):
            "\(path) holds an LMDB environment that is not an event store."
        case .formatVersionMismatch(let path, let found, let supported):
            "The store at \(path) has format version \(found), but this build reads only format version \(supported); use a build that supports version \(found)."
        case .alreadyOpen(let path):
            "The store at \(path) is already open in this process; share that instance instead of opening it twice."
        case .readOnly(let path):
            "The store at \(path) is open read-only; open it for writing to append."
        case .closed:
            "The event store is closed."
        case .versionConflict(let stream, let expected, let actual):
            "Stream \(stream) is at version \(actual), but the append expected \(expected); reload the stream and try again."
        case .duplicateEventId(let id, let sequence):
            "Event id \(id) is already stored (sequence \(sequence)) with other content; give the new event a new id."
        case .invalidEvent(let reason):
            reason
        case .corruptRecord(let sequence, let reason):
            "The record at sequence \(sequence) is damaged: \(reason)."
        case .storage(let operation, let error):
            "Could not \(operation): \(error)."
        }
    }
}
