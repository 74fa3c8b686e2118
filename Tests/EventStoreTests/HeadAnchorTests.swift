import Foundation
import LMDB
import TestSupport
import Testing
@_spi(RawRecords) @testable import EventStore

/// A rollback of the data file (an older copy with its old, correctly sealed head put back by
/// someone without the key) is found against the highest head kept beside the key file.
struct HeadAnchorTests {
    @Test func aDataFileRolledBackToAnOlderSealedHeadIsFound() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store", keyFile = directory + "/keys/store.key"
            try FileManager.default.createDirectory(atPath: directory + "/keys", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            var options = EventStore.Options()
            options.masterKey = .file(keyFile)
            do {
                let store = try EventStore.open(at: path, options: options)
                for index in 0..<5 { try await store.append([event("e-\(index)")], to: "patient-\(index % 2)") }
                store.close()
            }
            #expect(HeadAnchor(path: keyFile + ".head", storePath: path).read()?.sequence == 5)
            let older = try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb"))
            do {
                let store = try EventStore.open(at: path, options: options)
                // The snooping reads to be dropped.
                for index in 5..<8 { try await store.append([event("read-\(index)")], to: "patient-0") }
                #expect(try store.verify().isIntact)
                store.close()
            }
            #expect(HeadAnchor(path: keyFile + ".head", storePath: path).read()?.sequence == 8)
            // The older file, whose head seal is the master key's own, is put back.
            try older.write(to: URL(fileURLWithPath: path + "/data.mdb"))
            let store = try EventStore.open(at: path, options: options)
            defer { store.close() }
            let report = try store.verify()
            #expect(!report.isIntact)
            #expect(report.problem?.contains("below the highest head this store committed (sequence 8") == true, "\(report.problem ?? "")")
            // A copy of the older file elsewhere (a backup) is an older state on purpose: not compared.
            let copy = directory + "/copy"
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            try older.write(to: URL(fileURLWithPath: copy + "/data.mdb"))
            var readOnly = options
            readOnly.readOnly = true
            let backup = try EventStore.open(at: copy, options: readOnly)
            #expect(try backup.verify().isIntact)
            backup.close()
            // Without the mark, the older file is consistent in itself: that is all it can show.
            try FileManager.default.removeItem(atPath: keyFile + ".head")
            #expect(try store.verify().isIntact)
        }
    }
}

/// The seal of every older head is overwritten in the page its commit freed, once no reader
/// can see that page (at the next commit): no older sealed head can be put back from the file.
struct RetiredSealTests {
    @Test func noOlderHeadSealRemainsInTheLiveFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            var options = EventStore.Options()
            options.masterKey = .key(MasterKey.generate())
            let store = try EventStore.open(at: path, options: options)
            defer { store.close() }
            var seals: [[UInt8]] = []
            // Sixteen commits: the scrub runs every eight (and when the store closes).
            for index in 0..<16 {
                try await store.append([event("e-\(index)")], to: "patient-\(index % 3)")
                seals.append(try store.read { reader in try #require(try reader.txn.bytes(forKey: StoreLayout.MetaKey.headSeal, in: store.layout.meta)) })
            }
            #expect(Set(seals).count == 16)
            // The current seal is live; the one before it waits for the next commit (the older
            // meta page still names its page); no older one is left in a page freed before. (LMDB's
            // recycled page buffers can carry one into the unused middle of a page written later,
            // where nothing reads it; the head anchor beside the key finds a rollback to it.)
            let data = try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb"))
            // Pages the last commit freed are still part of the snapshot before it: LMDB (and the
            // scrub) leave them until the next commit.
            let last = try store.read { $0.txn.transactionId }
            let free = Set(try store.environment.freePages().filter { $0.freedBy < last }.map(\.page))
            var inGaps = 0
            for (index, seal) in seals.enumerated() where index < 14 {
                var from = data.startIndex
                while let found = data.range(of: Data(seal), in: from..<data.endIndex) {
                    #expect(!free.contains(found.lowerBound / 4096), "the seal of head \(index + 1) is still in free page \(found.lowerBound / 4096)")
                    inGaps += 1
                    from = found.upperBound
                }
            }
            #expect(inGaps <= 3, "\(inGaps) older seals in live pages")
            #expect(try SealingTests.occurrences(of: seals[15], inFileAt: path + "/data.mdb") >= 1)
        }
    }
}
