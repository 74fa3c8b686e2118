import ArgumentParser
import ClinicalRecord
import Compliance
import EventStore
import Foundation

/// `patient-records-replay`: replays the record and reports every compliance rule broken.
public struct ReplayCommand: ParsableCommand {
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

    public init() {}

    public func validate() throws {
        try checkAsOf(asOf)
    }

    public func run() throws {
        let policy = try self.policy.map { try Policy.load(fromFile: $0) } ?? Policy()
        let store = try options.open(readOnly: false)
        defer { store.close() }
        let progress = TerminalProgress("Replaying", total: Int(try store.events.head()), quiet: quiet)
        let report = try ComplianceReplay.run(store, asOf: asOf.flatMap(AsOf.init), policy: policy, progress: progress.replaying)
        progress.finish()
        // The findings show patients' data: the read is recorded before they are shown (after
        // the replay, whose snapshot and judging time it must not change).
        var shown: [String] = []
        for finding in report.findings where !finding.patient.isEmpty && shown.last != finding.patient { shown.append(finding.patient) }
        try store.recordRead(access.read("Compliance findings shown by patient-records-replay"), of: Array(Set(shown)).sorted())
        switch format {
        case .json:
            var out = StandardOutput()
            try Self.writeJSON(report, to: &out)
            try out.flush()
        case .text:
            print(Self.text(report))
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
            try out.write(",\"severity\":\"\(finding.severity.rawValue)\"}")
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
        out.append(",\"patients\":\(report.patients),\"summary\":{")
        for (index, rule) in report.summary.keys.sorted().enumerated() {
            out.append(index == 0 ? "" : ",")
            out.appendJSONString(rule)
            out.append(":\(report.summary[rule] ?? 0)")
        }
        try out.write("}}\n")
    }

    static func text(_ report: ComplianceReport) -> String {
        var out = ["Compliance as of \(report.asOf): \(report.eventsReplayed) events, \(report.patients) patients, \(report.findings.count) findings."]
        if let forgotten = report.forgottenPatients {
            out.append("Forgotten, not judged (their entries can no longer be read): \(forgotten.joined(separator: ", ")).")
        }
        let byPatient = Dictionary(grouping: report.findings, by: \.patient)
        for patient in byPatient.keys.sorted() {
            out.append("")
            out.append(patient.isEmpty ? "The log" : "Patient \(patient)")
            for finding in byPatient[patient] ?? [] {
                out.append("  \(finding.severity == .error ? "error  " : "warning") \(finding.rule.rawValue)\(finding.session.map { " [\($0)]" } ?? "") seq \(finding.sequence): \(finding.message)")
            }
        }
        if !report.summary.isEmpty {
            out.append("")
            out.append("Summary: " + report.summary.keys.sorted().map { "\($0) \(report.summary[$0] ?? 0)" }.joined(separator: ", "))
        }
        return out.joined(separator: "\n")
    }
}
