import ArgumentParser
import ClinicalRecord
import EventStore
import Foundation

/// `patient-records stats`: what the store holds.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what the store holds: events, patients, types, size.",
        discussion: """
            Example:
              patient-records stats --store ./demo-store --json
            """
    )

    struct Report: Encodable {
        var store: String
        var storeId: String
        var format: UInt32
        var events: UInt64
        var patients: Int
        var eventsByType: [String: Int]
        var unknownTypes: Int
        var firstRecorded: String?
        var lastRecorded: String?
        var dataFileBytes: Int
    }

    @OptionGroup var options: StoreOptions
    @Flag(help: "JSON for scripts.") var json = false

    func run() async throws {
        let store = try options.open(readOnly: true)
        var byType: [String: Int] = [:]
        var patients = 0, unknown = 0
        var first: Int64?, last: Int64?
        let head = try store.read { reader -> UInt64 in
            try reader.forEachRecord { record in
                if first == nil { first = record.recordedAt }
                last = record.recordedAt
                if let type = ClinicalEventType(rawValue: record.type) {
                    byType[type.name, default: 0] += 1
                    if type == .patientRegistered { patients += 1 }
                } else {
                    unknown += 1
                }
                return true
            }
            return try reader.head()
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: try options.path() + "/data.mdb")[.size] as? Int) ?? 0
        let report = Report(store: try options.path(), storeId: store.storeId, format: store.formatVersion, events: head, patients: patients, eventsByType: byType, unknownTypes: unknown,
                            firstRecorded: first.map(ClinicalTime.format), lastRecorded: last.map(ClinicalTime.format), dataFileBytes: size)
        if json { return try writeJSON(report) }
        say("Store \(try options.path()) (id \(report.storeId), format \(report.format)): \(head) events, \(patients) patients, \(size) bytes on disk.")
        if let first = report.firstRecorded, let last = report.lastRecorded { say("Recorded from \(first) to \(last).") }
        var table = Table(headers: ["type", "events"])
        table.rows = byType.sorted { $0.value > $1.value }.map { [$0.key, String($0.value)] }
        if unknown > 0 { table.rows.append(["(types this version does not know)", String(unknown)]) }
        say(TerminalLine(rendered: table.render()))
    }
}

/// `patient-records backup`: a hot, compacted, verified copy.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a hot, compacted copy of the store while writers run.",
        discussion: """
            Copies one consistent snapshot with LMDB's compacting copy (free pages left out) into \
            DEST.partial-XXXX beside DEST, flushes and verifies it (hash chain and structure), and \
            only then renames it to DEST, which must not exist or be an empty directory. A backup \
            that is interrupted never appears under DEST; what it leaves is named .partial and \
            every tool refuses it. The copy's data file is readable by its owner only.

            The copy is sealed like the store and opens with the same master key, which is not \
            copied: keep key files apart from backups (a stolen backup is then unreadable). No data \
            key destroyed by forget survives in the copy.

            Example:
              patient-records backup --store ./demo-store /backups/clinic-2026-03-01
            """
    )

    @OptionGroup var options: StoreOptions
    @Argument(help: "The directory to write the copy to.") var destination: String
    @Flag(help: "No progress on the terminal.") var quiet = false

    func run() async throws {
        let source = try options.open(readOnly: true)
        defer { source.close() }
        let progress = TerminalProgress("Backing up", total: 100, quiet: quiet)
        let report = try await source.backup(to: destination) { copied, total in
            progress.update(total > 0 ? copied * 100 / total : 0, detail: "\(copied >> 20) of \(total >> 20) MiB")
        }
        progress.finish()
        say("Backed up \(report.eventsVerified) events to \(destination); the copy verifies.")
    }
}
