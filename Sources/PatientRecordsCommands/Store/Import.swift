import ArgumentParser
import Foundation
import ClinicalRecord
import EventStore

/// `patient-records import`: CloudEvents NDJSON, all or nothing.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import CloudEvents NDJSON, all or nothing.",
        discussion: """
            Every line is validated against the store and the lines before it; one bad line \
            refuses the whole file, naming the line, the field and the reason, and nothing is \
            written. Importing the same file again is a no-op. Reads standard input for -.

            Examples:
              patient-records import --store ./clinic-store history.ndjson
              cat history.ndjson | patient-records import --store ./clinic-store -
            """
    )

    @OptionGroup var options: StoreOptions
    @Argument(help: "The NDJSON file, or - for standard input.") var file: String
    @Flag(help: "No progress on the terminal.") var quiet = false

    func run() async throws {
        // Standard input is read once, straight into the store's transaction: nothing of it is
        // written anywhere else (no spool of patient data left behind by a kill).
        let source: ImportSource = file == "-" ? .stream(FileHandle.standardInput) : .file(file)
        let store = try options.open(create: true)
        defer { store.close() }
        let total = file == "-" ? nil : (try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int
        let progress = TerminalProgress("Importing", total: total, quiet: quiet)
        let summary = try await store.importEvents(from: source, progress: progress.importing)
        progress.finish()
        say("Imported \(summary.imported) events (\(summary.alreadyStored) already stored) from \(summary.lines) lines.")
    }
}

/// `patient-records export`: CloudEvents NDJSON to stdout.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export the store, or one patient, as CloudEvents or as FHIR R4 on standard output.",
        discussion: """
            --format cloudevents (the default): one line per event in log order, with the \
            attributes the store assigned (sequence, streamversion, recordedtime, chainhash); \
            `import` takes it back. --format fhir: the clinical record, one FHIR R4 Bundle \
            (type collection) per patient and line, as docs/FHIR.md describes; forgotten \
            patients are left out. An export shows patients' data, so it is recorded first: a \
            RecordAccessed for the patient, or for every patient when the whole store is \
            exported.

            Examples:
              patient-records export --store ./demo-store > clinic.ndjson
              patient-records export --store ./demo-store --patient P-0001 --purpose patient_request
              patient-records export --store ./demo-store --format fhir --patient P-0001 > P-0001.fhir.ndjson
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case cloudevents, fhir
    }

    @OptionGroup var options: StoreOptions
    @Option(help: "Only this patient.") var patient: String?
    @Option(help: "cloudevents (the log, importable) or fhir (one FHIR R4 Bundle per patient).") var format: Format = .cloudevents
    @OptionGroup var access: AccessOptions

    func run() async throws {
        let store = try options.open(readOnly: false)
        defer { store.close() }
        if let patient {
            guard try store.eventCount(ofPatient: patient) > 0 else {
                throw ValidationError("Patient \(patient) has no record in \(try options.path()).")
            }
            try await access.recordAccess(to: patient, in: store, what: format == .fhir ? "Record exported as FHIR by patient-records export" : "Record exported by patient-records export")
        } else {
            try store.recordRead(access.read(format == .fhir ? "Whole store exported as FHIR by patient-records export" : "Whole store exported by patient-records export"))
        }
        // Lines go out in large writes: one write per line would cost a system call each.
        var out = StandardOutput()
        switch format {
        case .cloudevents:
            try store.exportEvents(patient: patient, lines: { line in try out.write(bytes: line) })
        case .fhir:
            try store.exportFHIR(patient: patient) { bundle in try out.write(bytes: bundle) }
        }
        try out.flush()
    }
}
