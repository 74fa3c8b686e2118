@_spi(RawRecords) import EventStore
import SwiftProtobuf

/// What ``PatientRecordStore/verify(expecting:)`` found.
public struct RecordVerification: Sendable {
    /// The log's own check: hash chain, structure, the stream and id indexes, the head and, with
    /// the master key, the head's seal.
    public let log: VerificationReport
    /// Whether payloads, the clinical references and the snapshots were checked too (they need
    /// the master key of a sealed store).
    public let payloadsChecked: Bool
    /// What else does not verify, first problem first; empty when everything does.
    public let problems: [String]
    /// The first sequence whose payload does not decode, when there is one.
    public let firstUndecodableSequence: UInt64?

    public var isIntact: Bool { log.isIntact && problems.isEmpty }
}

extension PatientRecordStore {
    /// Checks everything the store can rebuild from its log: the log itself (see
    /// `EventStore.verify(expecting:)`), that every payload decodes as its event type, that the
    /// `clinical-references` index holds exactly the entries the log defines, and that every
    /// patient snapshot equals the state rebuilt from that patient's events.
    ///
    /// Opened without the master key of a sealed store, only the log is checked.
    public func verify(expecting anchor: ChainHead? = nil) throws -> RecordVerification {
        let log = try events.verify(expecting: anchor)
        guard log.isIntact else {
            return RecordVerification(log: log, payloadsChecked: false, problems: [], firstUndecodableSequence: nil)
        }
        guard !events.isSealed || events.opensPayloads else {
            return RecordVerification(log: log, payloadsChecked: false, problems: [], firstUndecodableSequence: nil)
        }
        return try events.read { reader in
            var problems: [String] = []
            var undecodable: UInt64?
            var expected: [([UInt8], [UInt8])] = []
            var forgotten = Set<[UInt8]>()
            try reader.forEachRecord { record in
                guard record.sequence <= log.eventsVerified else { return false }
                if record.payloadState == .keyDestroyed {
                    forgotten.insert(Array(record.streamIdBytes))
                    return true
                }
                do {
                    guard let event = try EventCodec.decode(record) else { return true }
                    for entry in References.entries(patient: event.patientId, eventId: event.id, message: event.message) {
                        expected.append((entry.key, entry.value))
                    }
                } catch {
                    if undecodable == nil {
                        undecodable = record.sequence
                        problems.append(Self.undecodable(record.sequence, error))
                    }
                }
                return true
            }
            problems += try checkReferences(expected: expected, forgotten: forgotten, reader)
            problems += try checkSnapshots(reader, through: log.eventsVerified)
            return RecordVerification(log: log, payloadsChecked: true, problems: problems, firstUndecodableSequence: undecodable)
        }
    }

    /// Compares the index with the entries rebuilt from the log. A forgotten patient's events no
    /// longer open, so their entries are checked only to point at an event of theirs.
    private func checkReferences(expected: [([UInt8], [UInt8])], forgotten: Set<[UInt8]>, _ reader: borrowing LogReader) throws -> [String] {
        let wanted = expected.sorted { $0.0.lexicographicallyPrecedes($1.0) }
        var problems: [String] = []
        var index = 0
        func describe(_ key: [UInt8]) -> String {
            key.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " / ")
        }
        func patient(of key: [UInt8]) -> [UInt8] { Array(key.prefix { $0 != 0 }) }
        try reader.forEachIndexEntry(References.index) { rawKey, rawValue in
            let key = Array(rawKey), value = Array(rawValue)
            while index < wanted.count, wanted[index].0.lexicographicallyPrecedes(key) {
                if !forgotten.contains(patient(of: wanted[index].0)) {
                    problems.append("the clinical-references index lacks the entry \(describe(wanted[index].0)) that event \(String(decoding: wanted[index].1, as: UTF8.self)) defines")
                }
                index += 1
            }
            if index < wanted.count, wanted[index].0 == key {
                if wanted[index].1 != value {
                    problems.append("the clinical-references entry \(describe(key)) names event \(String(decoding: value, as: UTF8.self)), not \(String(decoding: wanted[index].1, as: UTF8.self))")
                }
                index += 1
            } else if forgotten.contains(patient(of: key)) {
                let eventId = String(decoding: value, as: UTF8.self)
                let owner = try reader.sequence(ofEventId: eventId).flatMap { try reader.storedRecord(at: $0) }.map { Array($0.streamIdBytes) }
                if owner != patient(of: key) {
                    problems.append("the clinical-references entry \(describe(key)) names event \(eventId), which is not an event of that patient")
                }
            } else {
                problems.append("the clinical-references index holds the entry \(describe(key)), which no event defines")
            }
            return problems.count < 20
        }
        for (key, value) in wanted[index...] where !forgotten.contains(patient(of: key)) && problems.count < 20 {
            problems.append("the clinical-references index lacks the entry \(describe(key)) that event \(String(decoding: value, as: UTF8.self)) defines")
        }
        return problems
    }

    /// Each stored snapshot must be what the patient's events give up to its last sequence.
    private func checkSnapshots(_ reader: borrowing LogReader, through head: UInt64) throws -> [String] {
        var problems: [String] = []
        let checkpoint = try PatientSnapshots.checkpoint(reader)
        if checkpoint > head { problems.append("the snapshot checkpoint (sequence \(checkpoint)) is past the head of the log (\(head))") }
        var patients: [String] = []
        let prefix = PatientSnapshots.key("")
        try reader.forEachProjectionEntry(from: prefix) { key, _ in
            guard key.starts(with: prefix) else { return false }
            patients.append(String(decoding: key.dropFirst(prefix.count), as: UTF8.self))
            return true
        }
        for patient in patients where problems.count < 20 {
            let opened = try reader.projectionValue(PatientSnapshots.key(patient), sealedFor: patient)
            // A snapshot of an older format (written by an earlier version) is ignored and
            // rebuilt from the log, never read as this format: not damage.
            if let opened, let version = opened.first, version < PatientSnapshots.formatVersion { continue }
            guard let stored = opened.flatMap({ bytes in bytes.withUnsafeBytes(PatientSnapshots.decode) }) else {
                if try !isForgotten(patient, reader) { problems.append("the snapshot of patient \(patient) does not open or decode") }
                continue
            }
            if stored.lastSequence > checkpoint {
                problems.append("the snapshot of patient \(patient) reaches sequence \(stored.lastSequence), past the checkpoint \(checkpoint)")
            }
            let rebuilt = try buildState(patient, reader, through: stored.lastSequence)
            if rebuilt?.state != stored.state {
                problems.append("the snapshot of patient \(patient) differs from the state rebuilt from their events")
            }
        }
        return problems
    }

    private func isForgotten(_ patient: String, _ reader: borrowing LogReader) throws -> Bool {
        try References.exists(.forgotten, "", patient: patient, in: reader)
    }
}

extension PatientRecordStore {
    /// A record that does not decode, as one of verify's problems (a fragment of a sentence).
    static func undecodable(_ sequence: UInt64, _ error: any Error) -> String {
        switch error {
        case let error as UnreadablePayload: "the record at sequence \(sequence): \(error.reason)"
        case let error as EventStoreError:
            String((error.message.prefix(1).lowercased() + error.message.dropFirst()).reversed().drop(while: { $0 == "." }).reversed())
        default: "the record at sequence \(sequence) does not decode: \(DecodingText.reason(error))"
        }
    }
}
