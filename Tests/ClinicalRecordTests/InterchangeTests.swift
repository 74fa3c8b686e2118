@_spi(RawRecords) import ClinicalRecord
import EventStore
import Foundation
import Testing

struct InterchangeTests {
    @Test func theSampleImportsAsItIsAndAgainIsANoOp() async throws {
        try await withRecordStore { store, _ in
            let first = try store.importEvents(fromFile: samplePath)
            #expect(first.imported == 128)
            let again = try store.importEvents(fromFile: samplePath)
            #expect(again.imported == 0)
            #expect(again.alreadyStored == 128)
            #expect(try store.events.head() == 128)
            #expect(try store.events.verify().isIntact)
        }
    }

    @Test func exportImportExportIsIdenticalButForStoreAssignedTimes() async throws {
        try await withRecordStore { store, directory in
            try store.importEvents(fromFile: samplePath)
            let export = try exportText(store)
            let file = directory + "/export.ndjson"
            try export.write(toFile: file, atomically: true, encoding: .utf8)
            let copy = try PatientRecordStore.open(at: directory + "/copy", durable: false)
            defer { copy.close() }
            try copy.importEvents(fromFile: file)
            let second = try exportText(copy)
            #expect(export != second)
            #expect(withoutStoreAssignedTimes(export) == withoutStoreAssignedTimes(second))
            #expect(export.split(separator: "\n").count == 128)
        }
    }
}
