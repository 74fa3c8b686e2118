import Glibc
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
    /// A sealed store was opened without saying where its master key is.
    case masterKeyRequired(path: String)
    /// The master key's file does not exist.
    case masterKeyMissing(keyFile: String)
    /// The master key does not open this store.
    case wrongMasterKey(path: String, source: String)
    /// A key file or key text that holds no master key.
    case invalidMasterKey(source: String, reason: String)
    /// The key file can be read by other users.
    case keyFileExposed(path: String, mode: UInt32)
    /// A new key file could not be written.
    case keyFileNotWritten(path: String, reason: String)
    /// The stream's data key was destroyed: nothing more can be appended to it.
    case streamKeyDestroyed(stream: String)
    /// The stream's data key cannot be read (missing, or not opened by this master key).
    case streamKeyUnreadable(stream: String)
    /// The operation needs a store that seals its payloads.
    case notSealed(path: String)

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
        case .storage(let operation, let error) where error == .noSpace || error == .fileTooLarge || error.rawValue == EDQUOT:
            "Could not \(operation): \(error); the disk (or the file size limit) is full. Nothing of this write was stored and everything stored before is intact: free space and try again."
        case .storage(let operation, let error):
            "Could not \(operation): \(error)."
        case .masterKeyRequired(let path):
            "The store at \(path) is sealed and no master key was given; pass its key file."
        case .masterKeyMissing(let keyFile):
            "The master key file \(keyFile) does not exist; point to the store's key file (--key-file or PATIENT_RECORDS_KEY_FILE) or restore it from where keys are kept."
        case .wrongMasterKey(let path, let source):
            "\(source.prefix(1).uppercased() + source.dropFirst()) does not hold the master key of the store at \(path); use the key file created with this store."
        case .invalidMasterKey(let source, let reason):
            "\(source.prefix(1).uppercased() + source.dropFirst()) holds no master key: \(reason)."
        case .keyFileExposed(let path, let mode):
            "The key file \(path) can be read by other users (mode \(String(mode, radix: 8))); run chmod 600 on it."
        case .keyFileNotWritten(let path, let reason):
            "Could not write the new master key file \(path): \(reason)."
        case .streamKeyDestroyed(let stream):
            "The data key of stream \(stream) was destroyed (crypto-shredding); nothing more can be appended to it."
        case .streamKeyUnreadable(let stream):
            "The data key of stream \(stream) cannot be read with this master key; the store's keys are damaged."
        case .notSealed(let path):
            "The store at \(path) was created without sealing; it keeps no data keys to destroy."
        }
    }
}
