import Foundation
import LMDB
import TestSupport
import Testing

struct EnvironmentTests {
    @Test func putThenGetReturnsBorrowedBytesAndMissingKeyIsNil() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path)
            let db = try #require(try env.openDatabase(named: "things"))
            try env.write { txn in try txn.put([9, 8, 7], forKey: [1], in: db) }
            try env.read { txn throws in
                let value = try #require(try txn.value(forKey: [1], in: db))
                #expect(Array(value) == [9, 8, 7])
                #expect(try txn.value(forKey: [2], in: db) == nil)
            }
        }
    }

    @Test func aThrowingWriteLeavesNothingBehind() throws {
        struct Refused: Error {}
        try withTemporaryDirectory { path in
            let env = try Environment(path: path)
            let db = try #require(try env.openDatabase(named: "things"))
            #expect(throws: Refused.self) {
                try env.write { txn in
                    try txn.put([1], forKey: [1], in: db)
                    throw Refused()
                }
            }
            #expect(try env.read { try $0.count(of: db) } == 0)
        }
    }

    @Test func aNestedTransactionThatThrowsIsUndoneAloneAndTheParentCommits() throws {
        struct Refused: Error {}
        try withTemporaryDirectory { path in
            let env = try Environment(path: path)
            let db = try #require(try env.openDatabase(named: "things"))
            try env.write { txn in
                try txn.put([1], forKey: [1], in: db)
                _ = try? txn.nested { child in
                    try child.put([2], forKey: [2], in: db)
                    throw Refused()
                }
                try txn.nested { child in try child.put([3], forKey: [3], in: db) }
            }
            try env.read { txn throws in
                #expect(try txn.bytes(forKey: [1], in: db) == [1])
                #expect(try txn.bytes(forKey: [2], in: db) == nil)
                #expect(try txn.bytes(forKey: [3], in: db) == [3])
            }
        }
    }

    @Test func cursorWalksKeysInByteOrderAndSeeksToTheNextKey() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path)
            let db = try #require(try env.openDatabase(named: "ordered"))
            try env.write { txn in
                for key: UInt8 in [5, 1, 3] { try txn.put([key], forKey: [key], in: db) }
            }
            try env.read { txn throws in
                try txn.withCursor(on: db) { cursor throws in
                    var keys: [UInt8] = []
                    var entry = try cursor.first()
                    while let current = entry {
                        keys.append(current.key[0])
                        entry = try cursor.next()
                    }
                    #expect(keys == [1, 3, 5])
                    #expect(try cursor.seek(atOrAfter: [4])?.key.first == 5)
                    #expect(try cursor.seek(atOrAfter: [6]) == nil)
                    #expect(try cursor.last()?.key.first == 5)
                }
            }
        }
    }

    @Test func noOverwriteRefusesAnExistingKeyWithKeyExists() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path)
            let db = try #require(try env.openDatabase(named: "things"))
            try env.write { txn in try txn.put([1], forKey: [1], in: db) }
            #expect(throws: LMDBError.keyExists) {
                try env.write { txn in try txn.put([2], forKey: [1], in: db, flags: .noOverwrite) }
            }
        }
    }

    @Test func aFullMapGrowsAndTheWriteIsRetriedUnseen() throws {
        try withTemporaryDirectory { path in
            var options = Environment.Options()
            options.mapSize = 64 << 10
            options.durable = false
            let env = try Environment(path: path, options: options)
            let db = try #require(try env.openDatabase(named: "big"))
            let value = [UInt8](repeating: 7, count: 64 << 10)
            for key in 0..<64 {
                try env.write { txn in try txn.put(value, forKey: withUnsafeBytes(of: UInt32(key).bigEndian) { Array($0) }, in: db) }
            }
            #expect(env.mapSize > 4 << 20)
            #expect(try env.read { try $0.count(of: db) } == 64)
        }
    }

    @Test func aReadOnlyEnvironmentRefusesWrites() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try Environment(path: path)
                _ = try env.openDatabase(named: "things")
            }
            var options = Environment.Options()
            options.readOnly = true
            let env = try Environment(path: path, options: options)
            #expect(try env.openDatabase(named: "things") != nil)
            #expect(try env.openDatabase(named: "missing") == nil)
            #expect(throws: LMDBError.permissionDenied) {
                try env.write { _ in }
            }
        }
    }

    @Test func errorsCarryLMDBsOwnMessage() {
        #expect(LMDBError.mapFull.description.contains("MDB_MAP_FULL"))
        #expect(LMDBError.noSpace.isSystemError)
    }

    @Test func aCompactingCopyOpensWithTheSameContent() throws {
        try withTemporaryDirectory { path in
            let source = path + "/source", target = path + "/target"
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            let env = try Environment(path: source)
            let db = try #require(try env.openDatabase(named: "things"))
            try env.write { txn in
                for key: UInt8 in 0..<100 { try txn.put([key], forKey: [key], in: db) }
            }
            try env.copy(to: target, compacting: true)
            let copy = try Environment(path: target)
            let copied = try #require(try copy.openDatabase(named: "things", create: false))
            #expect(try copy.read { try $0.count(of: copied) } == 100)
        }
    }
}
