import EventStore
import Foundation
import Tracing

/// What an import did.
public struct ImportSummary: Sendable, Hashable {
    /// Events written.
    public let imported: Int
    /// Events already stored with the same content (skipped).
    public let alreadyStored: Int
    /// Lines read, blank lines included.
    public let lines: Int
}

/// Where an import reads CloudEvents NDJSON from.
public enum ImportSource: Sendable {
    /// A file, read twice at most (when the map must grow during the import).
    case file(String)
    /// A stream read once (standard input, a pipe): nothing of it is written anywhere but the
    /// store. The map is grown before the import so that it need not be read twice.
    case stream(FileHandle)
}

/// How far an import has come: bytes read of how many (when known), and events imported.
public typealias ImportProgress = @Sendable (_ bytesRead: Int, _ totalBytes: Int?, _ eventsImported: Int) -> Void

extension PatientRecordStore {
    /// Imports CloudEvents NDJSON from a file: every event lands, or none does. The same file
    /// again is a no-op. Memory stays constant: each line is checked against the store's own
    /// transaction, which already holds the lines before it.
    ///
    /// - Throws: ``EventValidationError`` naming the line, the attribute or field and the reason.
    @discardableResult
    public func importEvents(fromFile path: String, progress: ImportProgress? = nil) throws -> ImportSummary {
        try importEvents(from: .file(path), progress: progress)
    }

    /// Imports CloudEvents NDJSON from `source`, all or nothing (see ``importEvents(fromFile:progress:)-8uptd``).
    @discardableResult
    public func importEvents(from source: ImportSource, progress: ImportProgress? = nil) throws -> ImportSummary {
        try withSpan("PatientRecordStore.import", ofKind: .internal) { span in
            do {
                let summary = try importEventsUnderSpan(from: source, progress: progress)
                span.attributes["patient_record_store.imported"] = Int64(summary.imported)
                ClinicalInstruments.imported(summary)
                return summary
            } catch let error as EventValidationError {
                ClinicalInstruments.refused(error)
                throw error
            }
        }
    }

    private func importEventsUnderSpan(from source: ImportSource, progress: ImportProgress?) throws -> ImportSummary {
        let total: Int?
        var streamed: FileHandle?
        switch source {
        case .file(let path):
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw EventValidationError(field: "file", reason: "\(path) does not exist")
            }
            guard !isDirectory.boolValue else { throw EventValidationError(field: "file", reason: "\(path) is a directory, not an NDJSON file") }
            total = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int
        case .stream(let handle):
            total = nil
            streamed = handle
            // A stream cannot be read again if the transaction must start over for a larger map.
            try events.reserveRoom(bytes: Self.streamedImportRoom)
        }
        var started = false
        return try events.withExclusiveTransaction { appender in
            if started, streamed != nil {
                throw EventValidationError(field: "file", reason: "the input outgrew \(Self.streamedImportRoom >> 30) GiB of room reserved for one import from a stream; nothing was written: import it from a file")
            }
            started = true
            let handle: FileHandle
            if let streamed {
                handle = streamed
            } else if case .file(let path) = source {
                guard let opened = FileHandle(forReadingAtPath: path) else { throw EventValidationError(field: "file", reason: "\(path) cannot be read") }
                handle = opened
            } else {
                throw EventValidationError(field: "file", reason: "no input")
            }
            defer { if streamed == nil { try? handle.close() } }
            // Lines are read and parsed ahead, beside this transaction (see ParsePipeline).
            let pipeline = ParsePipeline(reader: LineReader(handle: handle, maxLineBytes: CloudEventCodec.maxLineBytes))
            pipeline.start()
            defer { pipeline.cancel(waiting: streamed == nil) }
            var number = 0, imported = 0, skipped = 0, bytesRead = 0
            while let batch = pipeline.next() {
                for line in batch.lines {
                    number = line.number
                    guard let result = line.result else { continue }
                    if try ingest(result.get(), into: &appender, line: number) { imported += 1 } else { skipped += 1 }
                }
                bytesRead = batch.bytesRead
                progress?(bytesRead, total, imported)
                try LongWork.checkCancellation()
            }
            return ImportSummary(imported: imported, alreadyStored: skipped, lines: number)
        }
    }

    /// The map room reserved before an import from a stream (virtual address space, not disk).
    static let streamedImportRoom = 16 << 30

    /// Records `inputs` in order in one transaction: all of them, or none when one is refused.
    /// Events already stored with the same content are skipped, so the same inputs again are a no-op.
    @discardableResult
    public func importEvents(_ inputs: some Sequence<ClinicalEventInput>, progress: ImportProgress? = nil) throws -> ImportSummary {
        try events.withExclusiveTransaction { appender in
            var number = 0, imported = 0, skipped = 0
            for input in inputs {
                number += 1
                if try ingest(input, into: &appender, line: nil) { imported += 1 } else { skipped += 1 }
                if number & 0x3FF == 0 {
                    progress?(number, nil, imported)
                    try LongWork.checkCancellation()
                }
            }
            progress?(number, nil, imported)
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
        } catch let error as EventValidationError {
            throw error.at(line: line)
        } catch let error as EventStoreError where error.code == .duplicateEventId || error.code == .invalidEvent {
            throw EventValidationError(line: line, field: error.code == .duplicateEventId ? "id" : "line", reason: error.description)
        }
    }

    /// Writes the whole store, or one patient, as CloudEvents NDJSON, one line per event, in log
    /// order. Forgotten patients are left out whole: their payloads cannot be read, and an
    /// erasure must not come back through an export and import. Returns the number of events left out.
    @discardableResult
    public func exportEvents(patient: String? = nil, to write: (String) throws -> Void) throws -> Int {
        try exportEvents(patient: patient, lines: { try write(String(decoding: $0, as: UTF8.self)) })
    }

    /// ``exportEvents(patient:to:)`` with each line as UTF-8 bytes, newline included. The whole
    /// store is encoded on several threads at once (decoding and encoding cost far more than
    /// reading), and `lines` is called in log order on the calling thread.
    @discardableResult
    public func exportEvents(patient: String? = nil, lines write: ([UInt8]) throws -> Void) throws -> Int {
        var leftOut = 0
        func consume(_ piece: ExportPiece) throws -> Bool {
            switch piece {
            case .line(let bytes): try write(bytes)
            case .leftOut: leftOut += 1
            case .unknown: break
            }
            return true
        }
        try events.read { reader in
            if let patient {
                try reader.forEachRecord(inStream: patient) { record in try consume(ExportPiece(record)) }
            } else {
                try reader.forEachRecordTransformed({ record in try ExportPiece(record) }, consume: consume)
            }
        }
        return leftOut
    }
}

/// One record as the export writes it.
private enum ExportPiece: Sendable {
    case line([UInt8])
    /// A forgotten patient's event, or their PatientForgotten.
    case leftOut
    /// A type this version does not know.
    case unknown

    init(_ record: EventRecordView) throws {
        if let line = try CloudEventCodec.exportLine(record) {
            self = .line(line)
        } else {
            self = ClinicalEventType(rawValue: record.type) == nil ? .unknown : .leftOut
        }
    }
}
