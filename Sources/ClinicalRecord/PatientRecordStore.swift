import EventStore
import Foundation
import SwiftProtobuf

/// The patient record store a clinic's services embed: validated recording, patient state, the
/// audit trail, and CloudEvents import and export, over an ``EventStore``.
///
/// ```swift
/// let records = try PatientRecordStore.open(at: "/var/lib/clinic/records")
/// var registration = Ketamine_V1_PatientRegistered()
/// registration.givenName = "Ana"; registration.familyName = "Ruiz"
/// registration.birthDate = "1980-05-01"; registration.sex = .female; registration.weightKg = 80
/// try await records.record(ClinicalEventInput(
///     source: "urn:clinic:northside", patientId: "P-0001", time: now,
///     actorId: "u-staff-1", actorRole: .staff, message: registration))
/// let state = try records.patientState("P-0001")
/// ```
public final class PatientRecordStore: Sendable {
    /// The log underneath.
    public let events: EventStore

    private init(events: EventStore) {
        self.events = events
    }

    /// Opens (or creates, unless read-only) the record store in the directory `path`.
    public static func open(at path: String, readOnly: Bool = false, durable: Bool = true) throws -> PatientRecordStore {
        var options = EventStore.Options(readOnly: readOnly, durable: durable)
        options.indexes = [References.index]
        return PatientRecordStore(events: try EventStore.open(at: path, options: options))
    }

    /// Stops accepting new events after those in flight.
    public func close() { events.close() }

    /// Where a recorded event landed.
    public struct Recorded: Sendable, Hashable {
        public let sequence: UInt64
        public let streamVersion: UInt64
        /// True when the same event (same id, same content) was stored already: nothing was written.
        public let wasAlreadyStored: Bool
    }

    /// Validates `input` against the record and appends it, durably.
    ///
    /// - Throws: ``ValidationError`` naming the attribute or field and the reason; nothing is written.
    @discardableResult
    public func record(_ input: ClinicalEventInput) async throws -> Recorded {
        // Validation reads a snapshot; the append then insists the patient's stream is still at
        // the version validated against, so a concurrent writer makes it validate again.
        for _ in 0..<16 {
            let part: StreamAppend
            switch try events.read({ reader in try prepare(input, against: reader) }) {
            case .alreadyStored(let sequence, let version):
                return Recorded(sequence: sequence, streamVersion: version, wasAlreadyStored: true)
            case .append(let prepared):
                part = prepared
            }
            do {
                let result = try await events.append(part.events, to: part.stream, expectedVersion: part.expectedVersion, indexEntries: part.indexEntries)
                let position = result.positions[0]
                return Recorded(sequence: position.sequence, streamVersion: position.streamVersion, wasAlreadyStored: position.wasAlreadyStored)
            } catch EventStoreError.versionConflict {
                continue
            } catch EventStoreError.duplicateEventId(let id, let sequence) {
                throw ValidationError(field: "id", reason: "event \(id) is already stored (sequence \(sequence)) with other content")
            }
        }
        throw ValidationError(field: "subject", reason: "patient \(input.patientId) is being written too busily to record this event; try again")
    }

    enum Prepared {
        case append(StreamAppend)
        case alreadyStored(sequence: UInt64, version: UInt64)
    }

    /// Checks one event against `snapshot` and turns it into what the log stores.
    func prepare(_ input: ClinicalEventInput, against snapshot: borrowing some RecordSnapshot & ~Copyable) throws -> Prepared {
        guard let type = input.type else {
            throw ValidationError(field: "type", reason: "\(Swift.type(of: input.message).protoMessageName) is not an event type of this record")
        }
        let event = try EventCodec.newEvent(for: input, type: type)
        if let sequence = try snapshot.sequence(ofEventId: input.id), let stored = try snapshot.record(at: sequence) {
            guard stored.hasSameContent(as: event, stream: input.patientId) else {
                throw ValidationError(field: "id", reason: "event \(input.id) is already stored (sequence \(sequence)) with other content")
            }
            return .alreadyStored(sequence: sequence, version: stored.streamVersion)
        }
        try Validator.validate(input, of: type, against: snapshot)
        let version = try snapshot.streamVersion(input.patientId)
        return .append(StreamAppend(stream: input.patientId, events: [event], expectedVersion: .exactly(version), indexEntries: References.entries(for: input)))
    }

    // MARK: Reading

    /// Decodes one stored record; `nil` for a type code this version does not know.
    public static func decode(_ record: EventRecordView) throws -> ClinicalEvent? {
        try EventCodec.decode(record)
    }

    /// The decoded events of one patient, in stream order. Unknown types are skipped.
    public func events(ofPatient patient: String) throws -> [ClinicalEvent] {
        try events.read { reader in
            var out: [ClinicalEvent] = []
            try reader.forEachRecord(inStream: patient) { record in
                if let event = try EventCodec.decode(record) { out.append(event) }
                return true
            }
            return out
        }
    }

    /// Calls `body` with every decoded event from `sequence` on, in log order, inside one snapshot.
    /// Returns the number of records of a type this version does not know (skipped).
    @discardableResult
    public func forEachEvent(from sequence: UInt64 = 1, _ body: (ClinicalEvent) throws -> Bool) throws -> Int {
        try events.read { reader in
            var unknown = 0
            try reader.forEachRecord(from: sequence) { record in
                guard let event = try EventCodec.decode(record) else {
                    unknown += 1
                    return true
                }
                return try body(event)
            }
            return unknown
        }
    }
}

extension EventStore {
    @discardableResult
    func append(_ events: [NewEvent], to stream: String, expectedVersion: ExpectedVersion, indexEntries: [IndexEntry]) async throws -> AppendResult {
        try await appendAtomically([StreamAppend(stream: stream, events: events, expectedVersion: expectedVersion, indexEntries: indexEntries)])[0]
    }
}
