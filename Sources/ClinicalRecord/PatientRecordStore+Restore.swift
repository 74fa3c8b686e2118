import EventStore
import Foundation
import SwiftProtobuf

extension PatientRecordStore {
    /// Rebuilds what the record keeps beside the log from the log itself: the
    /// clinical-references index (every id an event defined, from its payload) and the patients'
    /// snapshots. For a store restored from shipped records, whose log comes back byte for byte
    /// but whose indexes do not. A forgotten patient's events cannot be read any more: only
    /// their erasure is indexed (no further event can be recorded for them anyway).
    ///
    /// - Returns: the number of index entries written.
    @discardableResult
    public func rebuildFromLog() throws -> Int {
        var entries: [IndexEntry] = []
        try events.read { reader in
            try reader.forEachRecord { record in
                guard let type = ClinicalEventType(rawValue: record.type) else { return true }
                let id = record.id
                if type == .patientForgotten {
                    entries.append(IndexEntry(index: References.index, key: References.key(patient: record.streamId, kind: .forgotten, id: ""), value: Array(id.utf8)))
                    return true
                }
                guard record.payloadState.isReadable,
                      let message = try? type.messageType.init(serializedBytes: record.payload.bytes) else { return true }
                entries += References.entries(patient: record.streamId, eventId: id, message: message)
                return true
            }
        }
        try events.replaceIndex(named: References.index, with: entries)
        try refreshSnapshots()
        return entries.count
    }
}
