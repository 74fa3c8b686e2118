import ArgumentParser
import ClinicalRecord
import EventStore

/// `patient-records verify`: recompute the hash chain and check the log's structure.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the hash chain and the structure of the log; exit 1 on damage.",
        discussion: """
            Recomputes every record's chain hash from the first event, checks that sequences \
            run without a gap, that the stream and id indexes point back at each record and \
            that every record decodes as its event type. On damage it names the first bad \
            sequence and exits with status 1.

            Example:
              patient-records verify --store ./demo-store
            """
    )

    @OptionGroup var options: StoreOptions

    func run() async throws {
        let records = try options.open(readOnly: true)
        let report = try records.events.verify()
        if let sequence = report.firstBadSequence {
            print("Damaged: the first bad record is sequence \(sequence): \(report.problem ?? "unknown problem").")
            throw ExitCode(1)
        }
        if let problem = report.problem {
            print("Damaged: \(problem).")
            throw ExitCode(1)
        }
        // Every payload must decode as the message its type code names.
        var undecodable: (UInt64, String)?
        try records.events.read { reader in
            try reader.forEachRecord { record in
                do {
                    _ = try PatientRecordStore.decode(record)
                    return true
                } catch {
                    undecodable = (record.sequence, "\(error)")
                    return false
                }
            }
        }
        if let (sequence, reason) = undecodable {
            print("Damaged: the first bad record is sequence \(sequence): it does not decode (\(reason)).")
            throw ExitCode(1)
        }
        print("Intact: \(report.eventsVerified) events, hash chain, indexes and payloads verified.")
    }
}
