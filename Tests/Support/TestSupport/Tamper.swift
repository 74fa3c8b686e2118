import Crypto
import Foundation
import LMDB

/// Damage and forgery done underneath a store, as an attacker or a failing disk would.
public enum Tamper {
    /// Flips the bits of `mask` in the byte at `offset` of the file at `path`.
    public static func flip(_ path: String, at offset: Int, mask: UInt8) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        guard var byte = try handle.read(upToCount: 1)?.first else { return }
        byte ^= mask
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: [byte])
    }

    /// Cuts the file at `path` to `size` bytes.
    public static func truncate(_ path: String, to size: Int) throws {
        guard Foundation.truncate(path, off_t(size)) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }

    /// The SHA-256 of a file, to show that nothing was written to it.
    public static func digest(of path: String) throws -> [UInt8] {
        Array(SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    /// Rewrites the log of the store at `path` as someone with write access but without the
    /// master key could: the records at `dropping` are removed, the actor `renaming.from` becomes
    /// `renaming.to`, sequences and stream versions are renumbered, and the hash chain, the
    /// stream and id indexes and the head in `meta` are recomputed. The store must be closed.
    public static func rewriteLog(ofStoreAt path: String, dropping: Set<UInt64> = [], renaming: (from: String, to: String)? = nil) throws {
        let env = try Environment(path: path)
        guard let events = try env.openDatabase(named: "events", create: false),
              let streams = try env.openDatabase(named: "streams", create: false),
              let ids = try env.openDatabase(named: "event-ids", create: false),
              let meta = try env.openDatabase(named: "meta", create: false) else { throw CocoaError(.fileReadCorruptFile) }
        try env.write { txn in
            var records: [[UInt8]] = []
            try txn.withCursor(on: events) { cursor in
                var entry = try cursor.first()
                var sequence: UInt64 = 1
                while let current = entry {
                    if !dropping.contains(sequence) { records.append(Array(current.value)) }
                    sequence += 1
                    entry = try cursor.next()
                }
            }
            for database in [events, streams, ids] {
                var keys: [[UInt8]] = []
                try txn.withCursor(on: database) { cursor in
                    var entry = try cursor.first()
                    while let current = entry {
                        keys.append(Array(current.key))
                        entry = try cursor.next()
                    }
                }
                for key in keys { try txn.delete(forKey: key, in: database) }
            }
            var previous = [UInt8](repeating: 0, count: 32)
            var versions: [[UInt8]: UInt64] = [:]
            for (index, original) in records.enumerated() {
                var record = original
                func length(_ offset: Int) -> Int { Int(UInt16(record[offset]) | UInt16(record[offset + 1]) << 8) }
                let idLength = length(4), streamLength = length(6), actorLength = length(8)
                let stream = Array(record[72 + idLength ..< 72 + idLength + streamLength])
                let id = Array(record[72 ..< 72 + idLength])
                let actorStart = 72 + idLength + streamLength
                if let renaming, record[actorStart ..< actorStart + actorLength].elementsEqual(renaming.from.utf8) {
                    record.replaceSubrange(actorStart ..< actorStart + actorLength, with: Array(renaming.to.utf8))
                    let newLength = UInt16(renaming.to.utf8.count)
                    record[8] = UInt8(newLength & 0xff)
                    record[9] = UInt8(newLength >> 8)
                }
                let version = (versions[stream] ?? 0) + 1
                versions[stream] = version
                withUnsafeBytes(of: version.littleEndian) { record.replaceSubrange(16..<24, with: $0) }
                var hasher = SHA256()
                hasher.update(data: previous)
                hasher.update(data: record[0..<40])
                hasher.update(data: record[72...])
                previous = Array(hasher.finalize())
                record.replaceSubrange(40..<72, with: previous)
                let sequence = withUnsafeBytes(of: UInt64(index + 1).bigEndian) { Array($0) }
                try txn.put(record, forKey: sequence, in: events)
                try txn.put(sequence, forKey: stream + [0] + withUnsafeBytes(of: version.bigEndian) { Array($0) }, in: streams)
                try txn.put(sequence, forKey: id, in: ids)
            }
            try txn.put(withUnsafeBytes(of: UInt64(records.count).bigEndian) { Array($0) }, forKey: Array("head-sequence".utf8), in: meta)
            try txn.put(previous, forKey: Array("chain-head".utf8), in: meta)
        }
    }
}
