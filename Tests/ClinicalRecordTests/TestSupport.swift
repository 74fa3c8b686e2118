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

/// A complete registration (Ana, born 1980-05-01, female) for tests that need a patient.
func sampleRegistration(familyName: String = "Ruiz", weightKg: Double = 70) -> Ketamine_V1_PatientRegistered {
    var registration = Ketamine_V1_PatientRegistered()
    registration.givenName = "Ana"
    registration.familyName = familyName
    registration.birthDate = "1980-05-01"
    registration.sex = .female
    registration.weightKg = weightKg
    return registration
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

/// Whether python3 can import `module` (the FHIR and CloudEvents tests check with the real
/// libraries, which tools/test installs).
func pythonCanImport(_ module: String) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import " + module]
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}

/// Runs a Python script with `arguments`: what it printed, trimmed; an issue with what it
/// complained when it fails.
func runPython(_ script: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let process = Process()
    let output = Pipe(), errors = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    // Read before waiting: a full pipe would stop the script.
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(complaint)", sourceLocation: sourceLocation)
    return printed.trimmingCharacters(in: .whitespacesAndNewlines)
}
