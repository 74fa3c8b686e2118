import LMDB
import Testing

/// Changes the stored bytes of the record at `sequence` underneath the store, as damage on disk
/// would, without going through the store (so no hash or index is updated).
public func damageRecord(_ sequence: UInt64, inStoreAt path: String, sourceLocation: SourceLocation = #_sourceLocation, _ change: (inout [UInt8]) -> Void) throws {
    let env = try Environment(path: path)
    let events = try #require(try env.openDatabase(named: "events", create: false), sourceLocation: sourceLocation)
    let key = withUnsafeBytes(of: sequence.bigEndian) { Array($0) }
    try env.write { txn in
        var record = try #require(try txn.bytes(forKey: key, in: events), sourceLocation: sourceLocation)
        change(&record)
        try txn.put(record, forKey: key, in: events)
    }
}
