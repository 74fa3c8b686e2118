import ArgumentParser
import ClinicalRecord
import Compliance
import EventStore
import Foundation

/// `patient-records patient`: one patient's current state; the read is recorded.
struct Patient: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one patient's state, rebuilt from the log.",
        discussion: """
            Shows demographics, history, eligibility, consents, the current plan and its \
            progress, every instrument's baseline and trend, sessions and open side effects. \
            Voided entries are left out. Showing a record appends a RecordAccessed event first, \
            so every read is itself on the record.

            Examples:
              patient-records patient --store ./demo-store P-0001
              patient-records patient --store ./demo-store P-0001 --as-of 2026-03-01T00:00:00Z --json
              patient-records patient --store ./demo-store P-0001 --html p-0001.html
            """
    )

    @OptionGroup var options: StoreOptions
    @Argument(help: "The patient id.") var id: String
    @Option(name: .customLong("as-of"), help: "The state as of an RFC 3339 recorded time or a sequence number.")
    var asOf: String?
    @Flag(help: "JSON for scripts.") var json = false
    @Option(help: "Also write a self-contained HTML page (scores charts, outcomes, sessions, findings) to this file, readable by you only.")
    var html: String?
    @Option(name: .customLong("time-zone"), help: "Show times in this IANA time zone (the clinic's, e.g. America/Chicago); UTC by default.")
    var timeZone: String?
    @Option(help: "A policy file for the compliance findings the page shows.")
    var policy: String?
    @OptionGroup var access: AccessOptions

    func validate() throws {
        try checkAsOf(asOf)
        if let timeZone, TimeZone(identifier: timeZone) == nil {
            throw ValidationError("--time-zone must be an IANA time zone such as Europe/Berlin, not \(timeZone.debugDescription).")
        }
    }

    func run() async throws {
        let store = try options.open()
        defer { store.close() }
        guard try store.eventCount(ofPatient: id) > 0 else {
            throw ValidationError("Patient \(id) has no record in \(try options.path()).")
        }
        // A forgotten patient's record holds nothing personal to read, and takes no more events.
        if try !store.isForgotten(id) {
            try await access.recordAccess(to: id, in: store, what: "Record shown by patient-records patient")
        }
        guard let state = try store.patientState(id, asOf: asOf.flatMap(AsOf.init)) else {
            throw ValidationError("Patient \(id) had no events as of \(asOf ?? "now").")
        }
        let display = timeZone.flatMap(TimeZone.init(identifier:)).map(Display.init) ?? Display()
        if let html {
            let rules = try self.policy.map { try Policy.load(fromFile: $0) } ?? Policy()
            let findings = try ComplianceReplay.findings(ofPatient: id, in: store, asOf: asOf.flatMap(AsOf.init), policy: rules)
            try PrivateFile.write(PatientPage.html(state, findings: findings, display: display), to: html)
        }
        if json { try writeJSON(PatientStateJSON(state)) } else { say(TerminalLine(rendered: PatientStateText.render(state, display: display))) }
    }
}

/// `patient-records disclosures`: the HIPAA accounting of disclosures.
struct Disclosures: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List one patient's disclosures of the last 6 years (HIPAA accounting).",
        discussion: """
            Every RecordAccessed with the purpose disclosure in the 6 years up to now: date, \
            recipient, description and purpose. A disclosure voided later stays, marked voided \
            (the accounting must list every disclosure made). Showing the accounting is a read \
            of the record, recorded first.

            Example:
              patient-records disclosures --store ./demo-store P-0002 --json
            """
    )

    @OptionGroup var options: StoreOptions
    @Argument(help: "The patient id.") var id: String
    @Flag(help: "JSON for scripts.") var json = false
    @OptionGroup var access: AccessOptions

    func run() async throws {
        let store = try options.open(readOnly: false)
        defer { store.close() }
        guard try store.eventCount(ofPatient: id) > 0 else {
            throw ValidationError("Patient \(id) has no record in \(try options.path()).")
        }
        try await access.recordAccess(to: id, in: store, what: "Accounting of disclosures shown by patient-records disclosures")
        let disclosures = try store.disclosures(of: id)
        if json { return try writeJSON(disclosures) }
        if disclosures.isEmpty { return say("No disclosures of \(id)'s record in the last 6 years.") }
        var table = Table(headers: ["date", "recipient", "purpose", "description", "voided"])
        table.rows = disclosures.map { [$0.date, $0.recipient, $0.purpose, $0.description, $0.voidedBy.map { "voided by \($0)" } ?? ""] }
        say(TerminalLine(rendered: table.render()))
    }
}
