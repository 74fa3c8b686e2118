import ClinicGenerator
import ArgumentParser
import ClinicalRecord
import EventStore
import Foundation

/// `patient-records demo`: builds a sample clinic and shows what the store does.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a sample clinic and show what the store does.",
        discussion: """
            Records about 40 patients over 6 months into the store (./demo-store unless --store \
            is given): every modality, assessments that improve over the sessions for most, \
            side effects, a withdrawn consent, corrections by voiding, disclosures, and a few \
            sessions that break a compliance rule. It uses the seeded generator of \
            `patient-records generate`, so running it again adds nothing but the record access \
            of showing a patient. Then it shows one patient and the tail of the audit trail.

            Example:
              patient-records demo --store /tmp/demo-store
            """
    )

    @OptionGroup var given: StoreOptions

    /// The store the demo writes: --store, PATIENT_RECORDS_STORE, or ./demo-store (the only
    /// command with a default directory).
    var options: StoreOptions {
        var options = given
        if (try? options.path()) == nil { options.store = "./demo-store" }
        return options
    }
    @Option(help: "The generator's seed.") var seed: UInt64 = 42
    @Option(help: "The number of patients.") var patients: Int = 40
    @Option(help: "The patient to show.") var show: String = "P-0001"
    @Flag(help: "No progress on the terminal.") var quiet = false

    func validate() throws {
        guard patients > 0 else { throw ValidationError("--patients must be at least 1.") }
    }

    func run() async throws {
        let store = try options.open(create: true)
        defer { store.close() }
        let generator = ClinicGenerator(seed: seed, patients: patients, months: 6)
        let inputs = generator.allEvents()
        let progress = TerminalProgress("Recording the demo clinic", total: inputs.count, quiet: quiet)
        let summary = try await store.importEvents(inputs, progress: progress.importing)
        progress.finish()
        say("Demo clinic in \(try options.path()): \(inputs.count) events for \(patients) patients (\(summary.imported) new, \(summary.alreadyStored) already stored).")
        say("")

        var access = Ketamine_V1_RecordAccessed()
        access.purpose = .audit
        access.description_p = "Shown by patient-records demo"
        try await store.record(ClinicalEventInput(
            source: "urn:clinic:demo", patientId: show, time: ClinicalTime.now,
            actorId: ProcessInfo.processInfo.environment["USER"] ?? "admin", actorRole: .admin, message: access))
        guard let state = try store.patientState(show) else {
            throw ValidationError("Patient \(show) has no record in \(try options.path()).")
        }
        say(TerminalLine(rendered: PatientStateText.render(state)))
        say("")
        say("The last entries of the audit trail:")
        say(TerminalLine(rendered: AuditText.render(try store.auditTrail(AuditQuery(limit: 12)))))
        let report = try store.verify()
        say("")
        say(report.isIntact ? "Hash chain verified over \(report.log.eventsVerified) events." : "Verification failed: \(report.log.problem ?? report.problems.first ?? "")")
        if store.isSealed {
            let keyFile = options.namedKeyFile() ?? store.defaultKeyFile
            say("Payloads are sealed with a key per patient; the master key is in \(keyFile) (keep it apart from backups).")
        }
    }
}
