import EventStore
import SwiftProtobuf

/// What validation needs to read of the record: a snapshot, or the import's own transaction.
package protocol RecordSnapshot: ~Copyable {
    func streamVersion(_ stream: String) throws -> UInt64
    func sequence(ofEventId id: String) throws -> UInt64?
    func record(at sequence: UInt64) throws -> EventRecordView?
    func indexValue(_ index: String, key: [UInt8]) throws -> UnsafeRawBufferPointer?
}

extension LogReader: RecordSnapshot {}
extension ExclusiveAppender: RecordSnapshot {}

/// The index of ids that later events refer to, per patient: plans, sessions, consents, side
/// effects, voided events and the patient's erasure (what each event defines is its message's
/// ``ClinicalMessage/definitions``). Kept beside the log and written in the same transaction as
/// the event that defines each id, so checking a reference is one lookup, not a scan of the stream.
///
/// Key: patient id, 0, kind, 0, id. Value: the id of the event that defined it.
enum References {
    static let index = "clinical-references"

    typealias Kind = ClinicalReference.Kind

    static func key(patient: String, kind: Kind, id: String) -> [UInt8] {
        var key = Array(patient.utf8)
        key.append(0)
        key.append(contentsOf: kind.rawValue.utf8)
        key.append(0)
        key.append(contentsOf: id.utf8)
        return key
    }

    /// Whether the entry exists and names an event of the patient (a damaged value is not trusted).
    static func exists(_ kind: Kind, _ id: String, patient: String, in snapshot: borrowing some RecordSnapshot & ~Copyable) throws -> Bool {
        try snapshot.indexValue(index, key: key(patient: patient, kind: kind, id: id)) != nil
    }

    /// Every voided event of the snapshot: its id → the id of the void (both as bytes). Each
    /// void's entry (patient, `voided`, the voided id → the void's id) is written in the void's
    /// own transaction, and `verify` checks the index against the log; reading it costs two
    /// seeks a patient, not a pass over the log.
    static func voids(_ reader: borrowing LogReader, patient only: String? = nil) throws -> [[UInt8]: [UInt8]] {
        var voids: [[UInt8]: [UInt8]] = [:]
        let kind = [0] + Array(ClinicalReference.Kind.voided.rawValue.utf8) + [0]
        if let only {
            let prefix = Array(only.utf8) + kind
            try reader.forEachIndexEntry(index, from: prefix) { key, value in
                guard key.starts(with: prefix) else { return false }
                let id = Array(key.dropFirst(prefix.count))
                if !id.isEmpty { voids[id] = Array(value) }
                return true
            }
            return voids
        }
        var start: [UInt8] = []
        var visited = 0
        while true {
            // The seeks touch a leaf of the index for every patient (and the kernel maps its
            // neighbours with it): give the pages back now and then, as a scan of the log does.
            visited += 1
            if visited % 512 == 0 { reader.releaseReadPages() }
            // The next patient with entries: the id before the first 0 of the next key.
            var patient: [UInt8]?
            try reader.forEachIndexEntry(index, from: start) { key, _ in
                patient = Array(key.prefix { $0 != 0 })
                return false
            }
            guard let current = patient else { break }
            let prefix = current + kind
            try reader.forEachIndexEntry(index, from: prefix) { key, value in
                guard key.starts(with: prefix) else { return false }
                let id = Array(key.dropFirst(prefix.count))
                if !id.isEmpty { voids[id] = Array(value) }
                return true
            }
            // Past every key of this patient: ids hold no control characters, so none starts
            // with the patient's id and a byte 1.
            start = current + [1]
        }
        return voids
    }

    /// The entries an event adds to the index.
    static func entries(for input: ClinicalEventInput) -> [IndexEntry] {
        entries(patient: input.patientId, eventId: input.id, message: input.message)
    }

    /// The entries the event `eventId` of `patient` adds to the index: its key names the id the
    /// event defines, its value is the event's id.
    static func entries(patient: String, eventId: String, message: any SwiftProtobuf.Message) -> [IndexEntry] {
        guard let message = message as? any ClinicalMessage else { return [] }
        return message.definitions.map { definition in
            IndexEntry(index: index, key: key(patient: patient, kind: definition.kind, id: definition.id), value: Array(eventId.utf8))
        }
    }
}
