import ArgumentParser
import EventStore
import Foundation

/// `patient-records demo`: builds a small store and shows what the log does.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a sample store and show what it does.",
        discussion: """
            Appends a short history for three patients to the store (./demo-store unless --store
            is given), concurrently and durably, then reads it back, follows a patient's stream
            and verifies the hash chain. Running it again adds nothing: appends are idempotent
            by event id.

            Example:
              patient-records demo --store /tmp/demo-store
            """
    )

    @OptionGroup var options: StoreOptions

    func run() async throws {
        let store = try EventStore.open(at: options.store)
        defer { store.close() }
        let patients = ["P-0001", "P-0002", "P-0003"]
        let steps = ["registered", "assessed", "evaluated", "consented", "planned", "dosed", "discharged"]
        let start = Int64(1_767_225_600) * 1_000_000_000 // 2026-01-01T00:00:00Z
        let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
            for (index, patient) in patients.enumerated() {
                group.addTask {
                    let events = steps.enumerated().map { step, name in
                        NewEvent(id: "demo-\(patient)-\(step)", type: UInt16(step + 1),
                                 occurredAt: start + Int64(index * 86_400 + step * 3_600) * 1_000_000_000,
                                 actor: "u-demo", payload: Array("\(patient) \(name)".utf8))
                    }
                    return try await store.append(events, to: patient)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let written = results.flatMap(\.positions).filter { !$0.wasAlreadyStored }.count
        print("Store \(options.store) (id \(store.storeId)): \(written) new events appended, head at sequence \(try store.head()).")
        print("")
        print("Stream \(patients[0]):")
        for event in try store.events(inStream: patients[0]) {
            print("  v\(event.streamVersion)  seq \(event.sequence)  \(String(decoding: event.payload, as: UTF8.self))  chain \(event.chainHashHex.prefix(12))…")
        }
        let report = try store.verify()
        print("")
        print(report.isIntact ? "Hash chain verified over \(report.eventsVerified) events." : "Verification failed: \(report.problem ?? "")")
    }
}
