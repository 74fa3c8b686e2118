@_spi(RawRecords) import ClinicalRecord
import FuzzDriver
@_spi(RawRecords) import EventStore
import Foundation

/// One store for the whole run (opening one per input would be most of the time), holding the
/// specification's sample, so that inputs can refer to its patients, plans and sessions.
nonisolated(unsafe) private var store: PatientRecordStore?
nonisolated(unsafe) private var inputFile = ""

private func setUp() -> PatientRecordStore {
    if let store { return store }
    let directory = NSTemporaryDirectory() + "patient-records-fuzz-import-\(getpid())"
    try? FileManager.default.removeItem(atPath: directory)
    let opened = try! PatientRecordStore.open(at: directory + "/store", durable: false, keyFile: directory + "/master.key")
    if let sample = ProcessInfo.processInfo.environment["PATIENT_RECORDS_FUZZ_SAMPLE"] {
        _ = try! opened.importEvents(fromFile: sample)
    }
    inputFile = directory + "/input.ndjson"
    store = opened
    return opened
}

/// One fuzz input as an NDJSON file imported into the store: it lands whole or not at all, and a
/// refusal is an EventValidationError naming the line. Nothing may crash, and the store must verify.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImport(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let store = setUp()
    _ = FileManager.default.createFile(atPath: inputFile, contents: Data(bytes: data, count: size))
    let head = try! store.events.head()
    do {
        _ = try store.importEvents(fromFile: inputFile)
    } catch is EventValidationError {
        precondition(try! store.events.head() == head, "a refused import wrote events")
    } catch {
        preconditionFailure("an import failed with something other than a validation error: \(error)")
    }
    if size % 64 == 0 { precondition(try! store.events.verify().isIntact, "the store no longer verifies") }
    return 0
}

/// SwiftPM links an executable's `main` to `fuzz_import_main`; defining it here hands the process to
/// libFuzzer's driver (and keeps libFuzzer's own `main` out of the link).
@_cdecl("fuzz_import_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc, argv, fuzzImport)
}
