import Foundation
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
