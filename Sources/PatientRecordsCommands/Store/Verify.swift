import ArgumentParser
import ClinicalRecord
import EventStore

/// `patient-records verify`: recompute the hash chain and check everything the log defines.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the hash chain, the structure and the indexes of the store; exit 1 on damage.",
        discussion: """
            Recomputes every record's chain hash from the first event and checks that sequences \
            run without a gap and that the stream and id indexes point back at each record. With \
            the store's master key it also checks that every payload decodes, that the clinical \
            references index and the patient snapshots are exactly what the log gives, and the \
            seal of the head, which no one without the key can make for a rewritten log. Without \
            the key (none found, and no --key-file) it checks the chain and structure alone.

            The last line names the head as HASH@SEQUENCE. Publish it (a printed report, a copy \
            kept elsewhere): --expect-head then proves that nothing up to it was rewritten since, \
            with or without the key.

            On damage it names the first bad sequence (or what is wrong) and exits with status 1.

            Examples:
              patient-records verify --store ./demo-store
              patient-records verify --store ./demo-store --expect-head 5f0c…e1@1200
            """
    )

    @OptionGroup var options: StoreOptions
    @Option(name: .customLong("expect-head"), help: ArgumentHelp("A head published earlier, HASH@SEQUENCE: the record at SEQUENCE must still carry HASH.", valueName: "hash@sequence"))
    var expectHead: String?

    func validate() throws {
        if let expectHead, ChainHead(expectHead) == nil {
            throw ValidationError("--expect-head must be 64 hexadecimal digits, @, and a sequence number, not \(expectHead.debugDescription).")
        }
    }

    func run() async throws {
        let records: PatientRecordStore
        do {
            records = try options.open(readOnly: true)
        } catch let error as EventStoreError where options.keyFile == nil && (error.code == .masterKeyMissing || error.code == .masterKeyRequired) {
            records = try PatientRecordStore.open(at: try options.path(), withoutMasterKey: true)
        }
        let result = try records.verify(expecting: expectHead.flatMap(ChainHead.init))
        let log = result.log
        if let sequence = log.firstBadSequence {
            say("Damaged: the first bad record is sequence \(sequence): \(log.problem ?? "unknown problem").")
            throw ExitCode(1)
        }
        if let problem = log.problem {
            say("Damaged: \(problem).")
            throw ExitCode(1)
        }
        if let first = result.problems.first {
            say("Damaged: \(first).")
            for more in result.problems.dropFirst() { say("  and \(more).") }
            throw ExitCode(1)
        }
        var checked = "the hash chain, the structure and the indexes verify"
        if let live = log.livePages, let free = log.freePages {
            checked += ", every page of the data file is owned once (\(live) in use, \(free) free)"
        }
        if result.payloadsChecked {
            checked += ", every payload decodes, the clinical references and the snapshots match the log"
            if log.headSealChecked { checked += ", and the head's seal matches the master key" }
            if log.headMarkChecked { checked += "; the log reaches the highest head this store committed (kept beside its key)" }
        } else {
            checked += " (without the master key: payloads, clinical references, the head's seal and the mark of the highest head kept beside the key were not checked, so a log rewritten or rolled back by someone without the key is not found; give --key-file)"
        }
        say("Intact: \(log.eventsVerified) events; \(checked).")
        if let head = log.head { say("Head: \(head)") }
    }
}
