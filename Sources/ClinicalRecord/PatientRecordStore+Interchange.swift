import EventStore
import Foundation

/// What an import did.
public struct ImportSummary: Sendable, Hashable {
    /// Events written.
    public let imported: Int
    /// Events already stored with the same content (skipped).
    public let alreadyStored: Int
    /// Lines read, blank lines included.
    public let lines: Int
}

extension PatientRecordStore {
    /// Imports CloudEvents NDJSON from `path` ("-" for standard input): every event lands, or
    /// none does. The same file again is a no-op. Memory stays constant: each line is checked
    /// against the store's own transaction, which already holds the lines before it.
    ///
    /// - Throws: ``ValidationError`` naming the line, the attribute or field and the reason.
    @discardableResult
    public func importEvents(fromFile path: String, quiet: Bool = false) throws -> ImportSummary {
        let size = path == "-" ? nil : (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int
        let progress = TerminalProgress("Importing", total: size, quiet: quiet)
        defer { progress.finish() }
        if path == "-" {
            // Standard input cannot be read twice, so a retry after the map grows cannot re-read
            // it: spool it to a private file first.
            let spool = NSTemporaryDirectory() + "patient-records-import-\(UUID().uuidString).ndjson"
            guard FileManager.default.createFile(atPath: spool, contents: nil, attributes: [.posixPermissions: 0o600]),
                  let out = FileHandle(forWritingAtPath: spool) else {
                throw ValidationError(field: "file", reason: "could not spool standard input to \(spool)")
            }
            defer { try? FileManager.default.removeItem(atPath: spool) }
            while let chunk = try FileHandle.standardInput.read(upToCount: 1 << 20), !chunk.isEmpty { out.write(chunk) }
            try out.close()
            return try importEvents(fromFile: spool, quiet: quiet)
        }
        return try events.withExclusiveTransaction { appender in
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw ValidationError(field: "file", reason: "\(path) cannot be read")
            }
            defer { try? handle.close() }
            var lines = LineReader(handle: handle)
            var number = 0, imported = 0, skipped = 0
            while let line = try lines.next() {
                number += 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { continue }
                let input = try CloudEventCodec.decode(line, lineNumber: number)
                if try ingest(input, into: &appender, line: number) { imported += 1 } else { skipped += 1 }
                progress.update(lines.bytesRead, detail: "\(imported) events")
            }
            return ImportSummary(imported: imported, alreadyStored: skipped, lines: number)
        }
    }

    /// Records `inputs` in order in one transaction: all of them, or none when one is refused.
    /// Events already stored with the same content are skipped, so the same inputs again are a no-op.
    @discardableResult
    public func importEvents(_ inputs: some Sequence<ClinicalEventInput>, progress: TerminalProgress? = nil) throws -> ImportSummary {
        try events.withExclusiveTransaction { appender in
            var number = 0, imported = 0, skipped = 0
            for input in inputs {
                number += 1
                if try ingest(input, into: &appender, line: nil) { imported += 1 } else { skipped += 1 }
                progress?.update(number, detail: "\(imported) events")
            }
            progress?.finish()
            return ImportSummary(imported: imported, alreadyStored: skipped, lines: number)
        }
    }

    /// Checks one event against the transaction and appends it; false when it was stored already.
    private func ingest(_ input: ClinicalEventInput, into appender: inout ExclusiveAppender, line: Int?) throws -> Bool {
        do {
            switch try prepare(input, against: appender) {
            case .alreadyStored:
                return false
            case .append(let part):
                try appender.append(part)
                return true
            }
        } catch let error as ValidationError {
            throw error.at(line: line)
        } catch let error as EventStoreError {
            throw ValidationError(line: line, field: "id", reason: error.description)
        }
    }

    /// Writes the whole store, or one patient, as CloudEvents NDJSON, one line per event, in log
    /// order. Forgotten patients are left out whole: their payloads cannot be read, and an
    /// erasure must not come back through an export and import. Returns the number of events left out.
    @discardableResult
    public func exportEvents(patient: String? = nil, to write: (String) throws -> Void) throws -> Int {
        var leftOut = 0
        func each(_ event: ClinicalEvent) throws -> Bool {
            if event.isForgotten || event.type == .patientForgotten {
                leftOut += 1
            } else {
                try write(CloudEventCodec.encode(event) + "\n")
            }
            return true
        }
        if let patient {
            for event in try events(ofPatient: patient) { _ = try each(event) }
        } else {
            try forEachEvent(each)
        }
        return leftOut
    }
}
