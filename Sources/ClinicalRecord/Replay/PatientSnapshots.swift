@_spi(RawRecords) import EventStore
import SwiftProtobuf
import Foundation

/// Snapshots of each patient's ``PatientStateBuilder`` in the store's `projections` database,
/// with one checkpoint: the last sequence they include. Loading a patient costs their events
/// since the snapshot; bringing every snapshot up to date costs the events since the checkpoint.
///
/// A snapshot is only a cache of the log: one that cannot be read (another format, damage) is
/// ignored and the patient is rebuilt from their events.
enum PatientSnapshots {
    static let name = "patient-state"
    /// Changes whenever ``PatientStateBuilder``'s state does in a way old snapshots cannot be
    /// read as; older snapshots are then ignored. 2: binary protobuf; 3: the latest 12 sessions,
    /// not 50; 4: the typed state (`Ketamine_V1_PatientState`), with baselines per plan; 5: a
    /// score's level kept when it is not a band of its total (the C-SSRS screener's risk).
    static let formatVersion: UInt8 = 5
    static let checkpointKey = Array(name.utf8)

    static func key(_ patientId: String) -> [UInt8] {
        Array(name.utf8) + [0] + Array(patientId.utf8)
    }

    static func encode(_ builder: PatientStateBuilder) throws -> [UInt8] {
        [formatVersion] + (try builder.state.serializedBytes() as [UInt8])
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) -> PatientStateBuilder? {
        guard bytes.first == formatVersion,
              let state = try? Ketamine_V1_PatientState(serializedBytes: UnsafeRawBufferPointer(rebasing: bytes.dropFirst()).bytes) else { return nil }
        return PatientStateBuilder(state: state)
    }

    static func load(_ patientId: String, _ reader: borrowing LogReader) throws -> PatientStateBuilder? {
        try reader.projectionValue(key(patientId), sealedFor: patientId).flatMap { bytes in bytes.withUnsafeBytes(decode) }
    }

    /// The sequence every snapshot includes; 0 when there are none.
    static func checkpoint(_ reader: borrowing LogReader) throws -> UInt64 {
        try reader.projectionValue(checkpointKey).map(checkpoint) ?? 0
    }

    static func checkpoint(_ value: UnsafeRawBufferPointer) -> UInt64 {
        guard value.count == 9, value[0] == formatVersion else { return 0 }
        return Bytes.uint64(bigEndian: UnsafeRawBufferPointer(rebasing: value.dropFirst())) ?? 0
    }
}

/// What ``PatientRecordStore/refreshSnapshots(progress:)-1qvjq`` did.
public struct SnapshotRefresh: Sendable {
    /// The checkpoint before and after.
    public let from: UInt64, through: UInt64
    /// Patients whose snapshots were written.
    public let patientsUpdated: Int
    /// Events read to do it.
    public let eventsApplied: Int
}

extension PatientRecordStore {
    /// Brings every patient's snapshot up to the head of the log: from the checkpoint on, only
    /// the patients with new events are loaded, advanced and written back, with the new
    /// checkpoint, in one transaction. The first time it replays the whole log (in parallel).
    /// A void of an event older than the checkpoint makes that patient rebuild from their events.
    @discardableResult
    public func refreshSnapshots(progress: ReplayProgress? = nil) throws -> SnapshotRefresh {
        let (checkpoint, head, builders, applied): (UInt64, UInt64, [PatientStateBuilder], Int) = try events.read { reader in
            let checkpoint = try PatientSnapshots.checkpoint(reader)
            let head = try reader.head()
            guard head > checkpoint else { return (checkpoint, head, [], 0) }
            var replay = ClinicalReplay()
            if checkpoint == 0 {
                let handle = replay.add(PatientStateProjection())
                let result = try replay.run(reader, progress: progress)
                return (checkpoint, head, result.states(of: handle).map(\.state), result.eventsApplied)
            }
            // Catching up: the patients with new events, from their snapshots. Only voids are read
            // past their headers, so only their payloads are opened.
            var touched = TouchedPatients()
            touched = try ParallelReplay.run(
                reader, range: ReplayRange(from: checkpoint + 1, through: head, payloadTypes: EventTypeSet([ClinicalEventType.entryVoided.rawValue])),
                partitions: [touched]).partitions[0]
            var seeds = BytesTable<PatientStateBuilder>()
            var rebuilt: [PatientStateBuilder] = []
            for patient in touched.patients {
                if touched.voidsOlderEvents.contains(Array(patient.utf8)) {
                    if let builder = try buildState(patient, reader, through: head) { rebuilt.append(builder) }
                } else if let snapshot = try PatientSnapshots.load(patient, reader), snapshot.lastSequence <= checkpoint {
                    Array(patient.utf8).withUnsafeBytes { seeds.set($0, snapshot) }
                } else if let builder = try buildState(patient, reader, through: checkpoint) {
                    Array(patient.utf8).withUnsafeBytes { seeds.set($0, builder) }
                }
            }
            let handle = replay.add(PatientStateProjection(seeds: seeds))
            let result = try replay.run(reader, from: checkpoint + 1, through: head, partitions: 1, progress: progress)
            var builders = rebuilt
            let rebuiltIds = Set(rebuilt.map { Array($0.patientId.utf8) })
            result.forEachState(of: handle) { patient, builder in
                if !rebuiltIds.contains(Array(patient.utf8)) { builders.append(builder) }
            }
            return (checkpoint, head, builders, result.eventsApplied)
        }
        guard head > checkpoint else { return SnapshotRefresh(from: checkpoint, through: checkpoint, patientsUpdated: 0, eventsApplied: 0) }
        let encoded = try builders.map { ($0.patientId, PatientSnapshots.key($0.patientId), try PatientSnapshots.encode($0)) }
        try events.writeProjections { writer in
            // Another process may have brought the snapshots further meanwhile: keep theirs.
            if let stored = try writer.value(forKey: PatientSnapshots.checkpointKey),
               stored.withUnsafeBytes(PatientSnapshots.checkpoint) >= head { return }
            // A snapshot holds the patient's personal data: sealed under their data key.
            for (patient, key, value) in encoded { try writer.put(value, forKey: key, sealedFor: patient) }
            try writer.put([PatientSnapshots.formatVersion] + Bytes.bigEndian(head), forKey: PatientSnapshots.checkpointKey)
        }
        return SnapshotRefresh(from: checkpoint, through: head, patientsUpdated: builders.count, eventsApplied: applied)
    }

    /// One patient's state folded from their stream up to `through`, from nothing; `nil` when
    /// they have no events by then.
    func buildState(_ patientId: String, _ reader: borrowing LogReader, through: UInt64) throws -> PatientStateBuilder? {
        try foldState(patientId, reader, from: nil, through: through)
    }

    /// Folds the patient's events after `snapshot` (all of them without one) up to `through`.
    /// Returns `nil` when the patient has no events by then. When a new event voids one the
    /// snapshot already holds, the snapshot is dropped and the patient is folded from the start.
    func foldState(_ patientId: String, _ reader: borrowing LogReader, from snapshot: PatientStateBuilder?, through: UInt64) throws -> PatientStateBuilder? {
        // First the voids among the events to fold (their ids, as bytes), then the fold itself.
        var voided = Set<[UInt8]>()
        var ids = Set<[UInt8]>()
        var any = false
        let first = (snapshot?.streamVersion ?? 0) + 1
        try reader.forEachStoredRecord(inStream: patientId, from: first) { record in
            guard record.sequence <= through else { return false }
            any = true
            if snapshot != nil { ids.insert(Array(record.idBytes)) }
            if record.type == ClinicalEventType.entryVoided.rawValue, let opened = try? reader.record(at: record.sequence),
               let id = ClinicalReplay.voidedEventId(in: opened) {
                voided.insert(id)
            }
            return true
        }
        // A new void of an event the snapshot already holds: fold the patient from the start.
        if snapshot != nil, !voided.isSubset(of: ids) {
            return try foldState(patientId, reader, from: nil, through: through)
        }
        guard snapshot != nil || any else { return nil }
        var builder = snapshot ?? PatientStateBuilder(patientId: patientId)
        let projection = PatientStateProjection()
        try reader.forEachRecord(inStream: patientId, from: first) { record in
            guard record.sequence <= through else { return false }
            guard let type = ClinicalEventType(rawValue: record.type) else {
                projection.applyUnknown(UnknownRecord(sequence: record.sequence, streamVersion: record.streamVersion, typeCode: record.type, recordedAt: record.recordedAt), to: &builder)
                return true
            }
            // A forgotten patient's earlier events no longer open; their PatientForgotten does.
            guard record.payloadState.isReadable else { return true }
            projection.apply(ReplayedEvent(record: record, type: type), voided: voided.contains(Array(record.idBytes)), to: &builder)
            return true
        }
        return builder
    }
}

/// The patients with events in a range, and those among them whose new voids reach back past it.
private struct TouchedPatients: ReplayPartition {
    var patients: [String] = []
    var seen = BytesTable<Bool>()
    var idsInRange = Set<[UInt8]>()
    var voidsOlderEvents = Set<[UInt8]>()

    mutating func apply(_ record: EventRecordView) throws {
        if seen[record.streamIdBytes] == nil {
            seen.set(record.streamIdBytes, true)
            patients.append(record.streamId)
        }
        idsInRange.insert(Array(record.idBytes))
        if let voided = ClinicalReplay.voidedEventId(in: record), !idsInRange.contains(voided) {
            voidsOlderEvents.insert(Array(record.streamIdBytes))
        }
    }
}
