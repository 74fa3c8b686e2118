import Foundation
import LMDB
import TestSupport
import Testing

/// Damage met by this layer itself: a file that shrinks under a reader reading values in place,
/// and the structure audit of the data file (meta pages, free list, every page owned once).
struct DamageTests {
    /// A reader walks values in place (as the replay does) while the file is truncated under it:
    /// the page that vanished reads as zeros instead of ending the process with SIGBUS, the read
    /// transaction refuses its result, and every later transaction of that environment refuses too
    /// (its map holds zeros there), while another environment of the same process goes on.
    @Test func aFileTruncatedUnderAnInPlaceReaderIsRefusedNotSIGBUS() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path)
            let db = try #require(try env.openDatabase(named: "values"))
            // 400 values of 3 KiB: well past the first megabyte of the file.
            try env.write { txn in
                for index in 0..<400 {
                    try txn.put([UInt8](repeating: UInt8(index % 251), count: 3_000), forKey: withUnsafeBytes(of: UInt32(index).bigEndian) { Array($0) }, in: db)
                }
            }
            let other = path + "/other"
            try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: false)
            let bystander = try Environment(path: other)
            let kept = try #require(try bystander.openDatabase(named: "kept"))
            try bystander.write { txn in try txn.put([1], forKey: [1], in: kept) }

            var sum = 0
            #expect(throws: LMDBError.fileShrank) {
                try env.read { txn in
                    var values: [UnsafeRawBufferPointer] = []
                    try txn.withCursor(on: db) { cursor in
                        var entry = try cursor.first()
                        while let current = entry {
                            values.append(current.value)
                            entry = try cursor.next()
                        }
                    }
                    #expect(values.count == 400)
                    // Shrink the file to 64 KiB, then read every value through its pointer.
                    #expect(truncate(path + "/data.mdb", 64 << 10) == 0)
                    for value in values { for byte in value { sum &+= Int(byte) } }
                }
            }
            #expect(throws: LMDBError.fileShrank) { try env.read { try $0.count(of: db) } }
            #expect(try bystander.read { try $0.bytes(forKey: [1], in: kept) } == [1])
        }
    }

    /// The audit of a sound file finds every page owned once, across many commits with a reader
    /// holding an old snapshot (so that the free list has entries) and values on overflow pages.
    @Test func aSoundFileAuditsCleanAndEveryPageIsAccounted() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path)
            let small = try #require(try env.openDatabase(named: "small"))
            let large = try #require(try env.openDatabase(named: "large"))
            for round in 0..<30 {
                try env.write { txn in
                    for index in 0..<50 {
                        let key = withUnsafeBytes(of: UInt32(round * 50 + index).bigEndian) { Array($0) }
                        try txn.put([UInt8](repeating: 7, count: 40), forKey: key, in: small)
                        if index % 10 == 0 { try txn.put([UInt8](repeating: 9, count: 9_000), forKey: key, in: large) }
                    }
                }
            }
            let report = try env.audit(.full)
            #expect(report.isSound, "\(report.problem ?? "")")
            #expect(report.livePages > 0 && report.freePages > 0)
            #expect(report.livePages + report.freePages + 2 == report.lastPage + 1)
            #expect(try env.audit(.beforeWrite).isSound)
        }
    }

    /// A free list whose root points at another database's page is found before a write, and the
    /// write is refused: nothing is committed into it.
    @Test func aFreeListRootPointingElsewhereRefusesTheWrite() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try Environment(path: path)
                let db = try #require(try env.openDatabase(named: "values"))
                for round in 0..<20 {
                    try env.write { txn in
                        for index in 0..<40 {
                            try txn.put([UInt8](repeating: UInt8(round), count: 100), forKey: [UInt8(round), UInt8(index)], in: db)
                        }
                    }
                }
            }
            let file = path + "/data.mdb"
            var data = try Data(contentsOf: URL(fileURLWithPath: file))
            func word(_ offset: Int) -> UInt64 { data[offset..<(offset + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
            let pageSize = 4096
            let current = word(144) > word(pageSize + 144) ? 0 : pageSize
            var refused = 0
            for mask: UInt8 in [0x01, 0x02, 0x04, 0x08, 0x10, 0x20] {
                var damaged = data
                damaged[current + 80] ^= mask
                try damaged.write(to: URL(fileURLWithPath: file))
                do {
                    let env = try Environment(path: path)
                    let db = try #require(try env.openDatabase(named: "values", create: false))
                    try env.write { txn in try txn.put([1, 2, 3], forKey: [200, 1], in: db) }
                    // Acknowledged: then the file must still be sound.
                    #expect(try env.audit(.full).isSound, "mask \(mask): a write was acknowledged into a damaged free list")
                } catch let error as LMDBError {
                    #expect(error.isDamage, "mask \(mask): \(error)")
                    refused += 1
                }
            }
            try data.write(to: URL(fileURLWithPath: file))
            #expect(refused > 0)
            data = Data()
        }
    }
}
