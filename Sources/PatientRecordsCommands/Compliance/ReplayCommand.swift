import ArgumentParser
import LogShipping
import ClinicalRecord
import Compliance
import EventStore
import Foundation

/// `patient-records-replay`: replays the record and reports every compliance rule broken.
public struct ReplayCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "patient-records-replay",
        abstract: "Replay the record and report the compliance rules it breaks.",
        discussion: """
            Reads the log once, from the first event up to the as-of point, rebuilds every \
            patient's history (voided entries count as never recorded) and applies the 34 rules of \
            the clinic policy (docs/COMPLIANCE.md). Thresholds come from --policy (JSON, or YAML \
            `key: value` lines, with `rules:` to switch rules off or set when they take effect); \
            unspecified ones keep the shipped defaults. The report shows patients' data, so \
            showing it is recorded first: a RecordAccessed for each patient with a finding.

            Exit status: 0 when there is no error-severity finding, 1 when there is one, 2 when the \
            record could not be checked (bad arguments, missing store, bad policy file).

            Examples:
              patient-records-replay --store ./demo-store
              patient-records-replay --store ./demo-store --as-of 2026-03-01T00:00:00Z --format json
              patient-records-replay --store ./demo-store --as-of 5120 --policy clinic-policy.yaml
              patient-records-replay --from 'postgres://records@db.example/clinics' --format json

            With --from, the logs shipped to PostgreSQL (patient-records ship) are judged \
            instead of a local store: every shipped store, or those named by --store-id, each \
            opened with its own key file (<store id>.key in --key-dir), in one report whose \
            findings name their store. A row changed in PostgreSQL is an integrity finding, as \
            in a local store.
            """,
        version: "patient-records-replay " + Release.description
    )

    public enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @OptionGroup var options: StoreOptions
    @Option(name: .customLong("as-of"), help: "Replay up to this RFC 3339 recorded time or this sequence number.")
    var asOf: String?
    @Option(help: "A policy file (JSON or YAML key: value lines) overriding thresholds.")
    var policy: String?
    @Option(help: "text for people, json for scripts.")
    var format: Format = .text
    @Flag(help: "No progress on the terminal.")
    var quiet = false
    @OptionGroup var access: AccessOptions
    @Option(name: .customLong("from"), help: ArgumentHelp("Judge the logs shipped to this PostgreSQL database instead of a local store.", valueName: "url"))
    var from: String?
    @Option(name: .customLong("store-id"), help: "With --from: only this shipped store (repeat for several; default: every one).")
    var storeIds: [String] = []
    @Option(name: .customLong("key-dir"), help: ArgumentHelp("With --from: the directory of the stores' key files, named <store id>.key (default: ~/.config/patient-records/keys).", valueName: "dir"))
    var keyDirectory: String?

    public init() {}

    public func validate() throws {
        try checkAsOf(asOf)
        if from != nil && asOf != nil { throw ValidationError("--as-of judges a local store; with --from the whole shipped logs are judged.") }
        if from == nil && (!storeIds.isEmpty || keyDirectory != nil) { throw ValidationError("--store-id and --key-dir go with --from.") }
    }

    public func run() async throws {
        let policy = try self.policy.map { try Policy.load(fromFile: $0) } ?? Policy()
        if let from {
            let report = try await NetworkReplay(target: try PostgresTarget(commandLineURL: from), storeIds: storeIds,
                                                 keyDirectory: keyDirectory ?? PatientRecordStore.defaultKeyDirectory, policy: policy).run()
            try show(report)
            return
        }
        let store = try options.open(readOnly: false)
        defer { store.close() }
        let progress = TerminalProgress("Replaying", total: Int(try store.head()), quiet: quiet)
        let report = try await ComplianceReplay.run(store, asOf: asOf.flatMap(AsOf.init), policy: policy, progress: progress.replaying)
        progress.finish()
        // The findings show patients' data: the read is recorded before they are shown (after
        // the replay, whose snapshot and judging time it must not change).
        var shown: [String] = []
        for finding in report.findings where !finding.patient.isEmpty && shown.last != finding.patient { shown.append(finding.patient) }
        try store.recordRead(access.read("Compliance findings shown by patient-records-replay"), of: Array(Set(shown)).sorted())
        try show(report)
    }

    private func show(_ report: ComplianceReport) throws {
        switch format {
        case .json:
            var out = StandardOutput()
            try Self.writeJSON(report, to: &out)
            try out.flush()
        case .text:
            say(Self.text(report))
        }
        if report.hasErrors { throw ExitCode(1) }
    }

    /// The report as one line of JSON with its keys sorted (the shape docs/COMPLIANCE.md
    /// gives), written as it goes: a report of many findings needs no tree of them in memory.
    static func writeJSON(_ report: ComplianceReport, to out: inout StandardOutput) throws {
        out.append("{\"asOf\":")
        out.appendJSONString(report.asOf)
        out.append(",\"eventsReplayed\":\(report.eventsReplayed),\"findings\":[")
        for (index, finding) in report.findings.enumerated() {
            out.append(index == 0 ? "{\"eventId\":" : ",{\"eventId\":")
            out.appendJSONString(finding.eventId)
            out.append(",\"message\":")
            out.appendJSONString(finding.message)
            out.append(",\"patient\":")
            out.appendJSONString(finding.patient)
            out.append(",\"rule\":\"\(finding.rule.rawValue)\",\"sequence\":\(finding.sequence)")
            if let session = finding.session {
                out.append(",\"session\":")
                out.appendJSONString(session)
            }
            out.append(",\"severity\":\"\(finding.severity.rawValue)\"")
            if let store = finding.store {
                out.append(",\"store\":")
                out.appendJSONString(store)
            }
            try out.write("}")
        }
        out.append("]")
        if let forgotten = report.forgottenPatients {
            out.append(",\"forgottenPatients\":[")
            for (index, patient) in forgotten.enumerated() {
                if index > 0 { out.append(",") }
                out.appendJSONString(patient)
            }
            out.append("]")
        }
        out.append(",\"patients\":\(report.patients)")
        if let stores = report.stores {
            out.append(",\"stores\":[")
            for (index, store) in stores.enumerated() {
                if index > 0 { out.append(",") }
                out.appendJSONString(store)
            }
            out.append("]")
        }
        out.append(",\"summary\":{")
        for (index, rule) in report.summary.keys.sorted().enumerated() {
            out.append(index == 0 ? "" : ",")
            out.appendJSONString(rule)
            out.append(":\(report.summary[rule] ?? 0)")
        }
        try out.write("}}\n")
    }

    /// The report as lines for a terminal: store ids (read from PostgreSQL), patient ids,
    /// sessions and messages are values, escaped as every value written to a terminal is.
    static func text(_ report: ComplianceReport) -> [TerminalLine] {
        var out: [TerminalLine] = ["Compliance as of \(report.asOf): \(report.eventsReplayed) events, \(report.patients) patients, \(report.findings.count) findings."]
        if let forgotten = report.forgottenPatients {
            out.append("Forgotten, not judged (their entries can no longer be read): \(forgotten.joined(separator: ", ")).")
        }
        if let stores = report.stores { out.append("Stores: \(stores.joined(separator: ", ")).") }
        let byPatient = Dictionary(grouping: report.findings) { ($0.store.map { "\($0) " } ?? "") + $0.patient }
        for patient in byPatient.keys.sorted() {
            out.append("")
            let finding = byPatient[patient]?.first
            let store: TerminalLine = finding?.store.map { "Store \($0), " } ?? ""
            let subject: TerminalLine = (finding?.patient ?? "").isEmpty ? (store.text.isEmpty ? "The log" : "the log") : "Patient \(finding?.patient ?? "")"
            out.append("\(store)\(subject)")
            for finding in byPatient[patient] ?? [] {
                let session: TerminalLine = finding.session.map { " [\($0)]" } ?? ""
                out.append("  \(finding.severity == .error ? "error  " : "warning") \(finding.rule.rawValue)\(session) seq \(finding.sequence): \(finding.message)")
            }
        }
        if !report.summary.isEmpty {
            out.append("")
            out.append("Summary: \(report.summary.keys.sorted().map { "\($0) \(report.summary[$0] ?? 0)" }.joined(separator: ", "))")
        }
        return out
    }
}
