import ClinicalRecord
import Foundation
import TestSupport
import Testing

/// A fresh record store in a temporary directory, removed when the test ends.
@discardableResult
func withRecordStore<R>(_ body: (PatientRecordStore, String) async throws -> R) async throws -> R {
    try await withTemporaryDirectory { directory in
        let store = try PatientRecordStore.open(at: directory + "/store", durable: false)
        defer { store.close() }
        return try await body(store, directory)
    }
}

/// The shared sample history of the specification.
let samplePath = Sample.path

func exportText(_ store: PatientRecordStore, patient: String? = nil) throws -> String {
    var text = ""
    try store.exportEvents(patient: patient) { text += $0 }
    return text
}

/// Drops the attributes a store assigns for itself from every exported line.
func withoutStoreAssignedTimes(_ export: String) -> String {
    export.replacing(/,"recordedtime":"[^"]*"/, with: "").replacing(/,"chainhash":"[0-9a-f]*"/, with: "")
}
