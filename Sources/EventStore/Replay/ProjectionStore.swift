import LMDB

/// Projections keep their checkpoints and snapshots in the store's `projections` database, so a
/// projection catches up by the new events only. Keys and values are the application's; the log
/// never depends on them, and dropping them all only costs one full replay.

extension LogReader {
    /// The projection value under `key` in this snapshot, borrowed; `nil` when absent.
    public func projectionValue(_ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        guard let database = layout.projections else { return nil }
        return try txn.value(forKey: key, in: database)
    }
}

/// Writes projection values inside ``EventStore/writeProjections(_:)``.
public struct ProjectionWriter: ~Copyable {
    let txn: WriteTransaction
    let database: Database

    public func put(_ value: [UInt8], forKey key: [UInt8]) throws {
        try txn.put(value, forKey: key, in: database)
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
        guard let database = layout.projections, !options.readOnly else {
            throw EventStoreError.readOnly(path: path)
        }
        do {
            try environment.write { txn in
                try body(ProjectionWriter(txn: WriteTransaction(borrowing: txn.handle), database: database))
            }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw EventStoreError.wrap(error, operation: "write projection checkpoints")
        }
    }
}
