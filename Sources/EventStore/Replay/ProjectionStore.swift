import Crypto
import LMDB

/// Projections keep their checkpoints and snapshots in the store's `projections` database, so a
/// projection catches up by the new events only. Keys and values are the application's; the log
/// never depends on them, and dropping them all only costs one full replay.
///
/// A value that holds a stream's personal data is sealed like the stream's payloads, under the
/// stream's data key (``ProjectionWriter/put(_:forKey:sealedFor:)``): destroying that key makes
/// it unreadable too.

extension LogReader {
    /// The projection value under `key` in this snapshot, borrowed; `nil` when absent.
    package func projectionValue(_ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        guard let database = layout.projections else { return nil }
        return try txn.value(forKey: key, in: database)
    }

    /// The value under `key` written sealed for `stream`, opened and copied; `nil` when absent,
    /// or when it cannot be opened (the stream's key destroyed, or the bytes changed).
    public func projectionValue(_ key: [UInt8], sealedFor stream: String) throws -> [UInt8]? {
        guard let stored = try projectionValue(key) else { return nil }
        guard let opener else { return Array(stored) }
        let streamBytes = Array(stream.utf8)
        let found = try streamBytes.withUnsafeBytes { bytes in
            try opener.key(of: bytes) { bytes in try opener.sealing.key(of: bytes, in: txn) }
        }
        guard case .key(let dataKey) = found, stored.count >= StoreSealing.sealOverhead else { return nil }
        var plain = [UInt8](repeating: 0, count: stored.count - StoreSealing.sealOverhead)
        let count = plain.withUnsafeMutableBytes { output in
            key.withUnsafeBytes { aad in dataKey.open(stored, aad: aad, into: output) }
        }
        return count == nil ? nil : plain
    }
}

/// Writes projection values inside ``EventStore/writeProjections(_:)``.
public struct ProjectionWriter: ~Copyable {
    let txn: WriteTransaction
    let database: Database
    let session: SealingSession?

    public func put(_ value: [UInt8], forKey key: [UInt8]) throws {
        try txn.put(value, forKey: key, in: database)
    }

    /// Writes a value that holds `stream`'s personal data, sealed under the stream's data key
    /// (in the clear in a store without sealing). Returns false, writing nothing and removing
    /// any older value, when the stream's key was destroyed.
    @discardableResult
    public func put(_ value: [UInt8], forKey key: [UInt8], sealedFor stream: String) throws -> Bool {
        guard let session else {
            try put(value, forKey: key)
            return true
        }
        let dataKey: DataKey
        do {
            dataKey = try session.dataKey(for: stream, in: txn)
        } catch EventStoreError.streamKeyDestroyed {
            _ = try txn.delete(forKey: key, in: database)
            return false
        }
        try txn.put(try dataKey.seal(value, aad: key), forKey: key, in: database)
        return true
    }

    /// The value under `key` as this transaction sees it, copied; `nil` when absent.
    public func value(forKey key: [UInt8]) throws -> [UInt8]? {
        try txn.bytes(forKey: key, in: database)
    }
}

extension EventStore {
    /// Writes projection checkpoints and snapshots in one transaction (durable like appends).
    /// The log is not touched.
    public func writeProjections(_ body: (borrowing ProjectionWriter) throws -> Void) throws {
        if isClosed { throw EventStoreError.closed(path: path) }
        guard let database = layout.projections, !options.readOnly else {
            throw EventStoreError.readOnly(path: path)
        }
        do {
            try environment.write { txn in
                try body(ProjectionWriter(txn: WriteTransaction(borrowing: txn), database: database,
                                          session: layout.sealing.map { SealingSession(sealing: $0, meta: layout.meta) }))
                // Closed while the body ran: nothing of it is committed.
                if isClosed { throw EventStoreError.closed(path: path) }
            }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw EventStoreError.wrap(error, operation: "write projection checkpoints", path: path)
        }
    }
}
