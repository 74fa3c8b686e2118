import ArgumentParser
import EventStore

/// `patient-records verify`: recompute the hash chain and check the log's structure.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the hash chain and the structure of the log; exit 1 on damage.",
        discussion: """
            Recomputes every record's chain hash from the first event, checks that sequences \
            run without a gap and that the stream and id indexes point back at each record. \
            On damage it names the first bad sequence and exits with status 1.

            Example:
              patient-records verify --store ./demo-store
            """
    )

    @OptionGroup var options: StoreOptions

    func run() async throws {
        let store = try EventStore.open(at: options.store, options: .init(readOnly: true))
        let report = try store.verify()
        if let sequence = report.firstBadSequence {
            print("Damaged: the first bad record is sequence \(sequence): \(report.problem ?? "unknown problem").")
            throw ExitCode(1)
        }
        if let problem = report.problem {
            print("Damaged: \(problem).")
            throw ExitCode(1)
        }
        print("Intact: \(report.eventsVerified) events, hash chain and indexes verified.")
    }
}
