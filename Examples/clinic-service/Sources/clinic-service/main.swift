import ClinicalRecord
import ClinicService
import EventStore
import Foundation
import Hummingbird
import Logging

// clinic-service --store DIR [--port 8080]: the example service on 127.0.0.1. The store's master
// key is found as the tools find it (PATIENT_RECORDS_KEY_FILE, PATIENT_RECORDS_KEY, or the
// store's own file under ~/.config/patient-records/keys/). Metrics go to whatever backend the
// process bootstraps with MetricsSystem.bootstrap before the store opens (none here: no-op).
let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
}
guard let path = option("--store") else {
    FileHandle.standardError.write(Data("usage: clinic-service --store DIR [--port 8080]\n".utf8))
    exit(2)
}
var logger = Logger(label: "clinic-service")
logger.logLevel = .info
// The store logs through the service's logger (map growth, refusals, failed commits).
let store = try PatientRecordStore.open(at: path, observability: Observability(logger: logger))
let service = ClinicService(store: store)
let app = Application(router: service.router(),
                      configuration: .init(address: .hostname("127.0.0.1", port: Int(option("--port") ?? "") ?? 8080)),
                      logger: logger)
try await app.runService()
