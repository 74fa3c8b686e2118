import ArgumentParser
import ClinicalRecord
import EventStore
import Foundation

/// `patient-records audit`: who did what, when, to which record.
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the audit trail: who did what, when, to which record.",
        discussion: """
            One entry per event in log order: sequence, recorded time, actor and role, action \
            (create, read, void), patient and a one-line summary. Voided entries stay, marked. \
            --since and --until filter on the recorded time. --format fhir prints a FHIR R4 \
            Bundle of AuditEvent resources. The trail shows patients' data, so reading it is \
            itself recorded first: a RecordAccessed for each patient it shows, by --reader.

            Examples:
              patient-records audit --store ./demo-store --patient P-0001
              patient-records audit --store ./demo-store --actor u-nurse-1 --since 2026-03-01T00:00:00Z
              patient-records audit --store ./demo-store --format fhir > audit-bundle.json
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, fhir }

    @OptionGroup var options: StoreOptions
    @Option(help: "Only this patient.") var patient: String?
    @Option(help: "Only this actor.") var actor: String?
    @Option(help: "Recorded at or after this RFC 3339 time.") var since: String?
    @Option(help: "Recorded at or before this RFC 3339 time.") var until: String?
    @Option(help: "Only these event types (short names, comma-separated), e.g. DoseAdministered.") var type: String?
    @Option(help: "table, json or fhir.") var format: Format = .table
    @OptionGroup var readerOptions: ReaderOptions

    func validate() throws {
        if let since { _ = try parseTime(since, option: "--since") }
        if let until { _ = try parseTime(until, option: "--until") }
    }

    func run() async throws {
        let store = try options.open(readOnly: false)
        defer { store.close() }
        let query = AuditQuery(
            patientId: patient, actorId: actor,
            since: try since.map { try parseTime($0, option: "--since") }, until: try until.map { try parseTime($0, option: "--until") },
            types: type.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) })
        // The read is on the record before anything is shown (the trail then shows it too).
        let shown = try store.patientsInAuditTrail(query)
        try store.recordRead(readerOptions.access.read("Audit trail shown by patient-records audit"), of: shown)
        // Written as it is read: memory does not grow with the store.
        var out = StandardOutput()
        switch format {
        case .table:
            var table = StreamingTable(headers: AuditText.headers)
            try store.forEachAuditEntry(query, rendering: AuditText.row) { row in try table.append(row, to: &out) }
            try table.finishSample(to: &out)
        case .json:
            var first = true
            try out.write("[")
            try store.forEachAuditEntry(query, rendering: AuditText.json) { entry in
                try out.write(first ? "\n" : ",\n")
                try out.write(bytes: entry)
                first = false
            }
            try out.write("\n]\n")
        case .fhir:
            var first = true
            try out.write(FHIRAuditBundle.bundleStart())
            let storeId = store.storeId
            try store.forEachAuditEntry(query, rendering: { try FHIRAuditBundle.entryJSON($0, storeId: storeId) }) { entry in
                try out.write(first ? "" : ",")
                try out.write(bytes: entry)
                first = false
            }
            try out.write(FHIRAuditBundle.bundleEnd + "\n")
        }
        try out.flush()
    }
}
