import ClinicGenerator
import ArgumentParser
import ClinicalRecord
import EventStore

/// `patient-records generate`: a realistic synthetic history.
struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a realistic synthetic clinic history for a seed.",
        discussion: """
            The same seed always gives the same events and ids (running it again adds nothing). \
            Patients are assessed, evaluated, consented and treated in every modality and setting; \
            a history with --rule-breaking-share 0 satisfies every compliance rule, and by default \
            about 4% of sessions break one (each of the 34 rules now and then).

            Example:
              patient-records generate --store /tmp/big-store --patients 16000 --seed 7
            """
    )

    @OptionGroup var options: StoreOptions
    @Option(help: "The number of patients.") var patients: Int
    @Option(help: "The seed.") var seed: UInt64 = 42
    @Option(help: "The months of history.") var months: Int = 6
    @Option(name: .customLong("rule-breaking-share"), help: "The share of sessions (0 to 1) that break one rule.")
    var ruleBreakingShare: Double = 0.04
    @Option(name: .customLong("patient-prefix"), help: "Patient ids are this prefix and a number (P-0001).")
    var patientPrefix = "P"
    @Flag(help: "After each induction course, weekly maintenance sessions to the end of the period (long histories).")
    var maintenance = false
    @Flag(help: "No progress on the terminal.") var quiet = false

    func validate() throws {
        guard patients > 0 else { throw ValidationError("--patients must be at least 1.") }
        guard (1...ClinicGenerator.maximumMonths).contains(months) else {
            throw ValidationError("--months must be from 1 to \(ClinicGenerator.maximumMonths) (times are kept to 2262).")
        }
        guard patients <= 10_000_000 else { throw ValidationError("--patients must be at most 10,000,000.") }
        guard (0...1).contains(ruleBreakingShare) else { throw ValidationError("--rule-breaking-share must be between 0 and 1.") }
    }

    func run() async throws {
        let store = try options.open(create: true)
        defer { store.close() }
        var generator = ClinicGenerator(seed: seed, patients: patients, months: months, ruleBreakingShare: ruleBreakingShare)
        generator.patientPrefix = patientPrefix
        generator.maintenance = maintenance
        let progress = TerminalProgress("Generating", total: patients, quiet: quiet)
        var imported = 0, skipped = 0
        // A transaction per slice of patients keeps each commit large and memory bounded.
        let slice = 250
        for start in stride(from: 0, to: patients, by: slice) {
            let inputs = (start..<min(start + slice, patients)).lazy.flatMap { generator.events(forPatient: $0) }
            let summary = try store.importEvents(inputs)
            imported += summary.imported
            skipped += summary.alreadyStored
            progress.update(min(start + slice, patients), detail: "\(imported) events")
        }
        progress.finish()
        let snapshots = TerminalProgress("Snapshots", total: nil, quiet: quiet)
        try await store.refreshSnapshots(progress: snapshots.replaying)
        snapshots.finish()
        say("Generated \(imported) events for \(patients) patients in \(try options.path()) (\(skipped) already stored).")
    }
}
