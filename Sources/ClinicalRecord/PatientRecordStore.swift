@_spi(RawRecords) import EventStore
import Foundation
import Tracing
import SwiftProtobuf

/// The patient record store a clinic's services embed: validated recording, patient state, the
/// audit trail, and CloudEvents import and export, over an `EventStore`.
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
    /// The log underneath, for this package's tools and for measurements that read records
    /// raw (`@_spi(RawRecords) import ClinicalRecord`). A service uses the store's own methods:
    /// writing to the log directly would skip validation, the references index and the snapshots.
    @_spi(RawRecords) public let events: EventStore

    private init(events: EventStore) {
        self.events = events
    }

    /// Opens (or creates, unless read-only) the record store in the directory `path`.
    ///
    /// Payloads are sealed with a key per patient, wrapped by the store's master key. A new store
    /// gets a new master key in a new key file, so nothing needs setting up.
    ///
    /// - Parameters:
    ///   - path: the store's directory; a new store is made only in a new or empty one.
    ///   - readOnly: open for reading only (several processes may; writers go on).
    ///   - durable: whether each commit is flushed to disk before it is acknowledged.
    ///   - keyFile: the master key file; shorthand for `keys: .file(keyFile)`.
    ///   - keys: where the master key is; by default the store's own file in
    ///     ``defaultKeyDirectory`` (`<store id>.key`). The library reads no environment variable
    ///     of its own: a tool that offers `PATIENT_RECORDS_KEY_FILE` or `PATIENT_RECORDS_KEY`
    ///     resolves them itself and passes the result here.
    ///   - sealing: whether a new store seals payloads (an existing one keeps its choice).
    ///   - withoutMasterKey: open a sealed store read-only without its key (to verify its log).
    ///   - observability: the host's logger and metrics factory (`Observability`, in EventStore); silent by default.
    public static func open(at path: String, readOnly: Bool = false, durable: Bool = true, keyFile: String? = nil,
                            keys: MasterKeySource? = nil, sealing: Bool = true,
                            withoutMasterKey: Bool = false, observability: Observability = Observability()) throws -> PatientRecordStore {
        var options = EventStore.Options(readOnly: readOnly || withoutMasterKey, durable: durable)
        options.observability = observability
        options.indexes = [References.index]
        options.masterKey = withoutMasterKey ? nil : (keyFile.map { .file($0) } ?? keys ?? .directory(defaultKeyDirectory))
        options.withoutMasterKey = withoutMasterKey
        options.sealsNewStore = sealing
        return PatientRecordStore(events: try EventStore.open(at: path, options: options))
    }

    /// `$XDG_CONFIG_HOME/patient-records/keys`, or `~/.config/patient-records/keys` (the XDG base
    /// directory convention): outside any store directory, so a copy of a store never carries its key.
    public static var defaultKeyDirectory: String {
        let xdg = getenv("XDG_CONFIG_HOME").map { String(cString: $0) } ?? ""
        return (xdg.isEmpty ? NSHomeDirectory() + "/.config" : xdg) + "/patient-records/keys"
    }

    /// The key file of this store, when its master key lives in the default place.
    public var defaultKeyFile: String {
        Self.defaultKeyDirectory + "/" + events.storeId + ".key"
    }

    /// Closes the store: events already given to ``record(_:)`` are committed, an import or
    /// snapshot refresh under way is rolled back, then every later use (record, reads, replays,
    /// import, export, verify) throws `EventStoreError` with code `closed`, and subscriptions end. The same directory can be opened again once the last
    /// reference to this instance is released.
    public func close() { events.close() }

    /// The application indexes a record store keeps beside its log (for a restore, which
    /// creates them empty and rebuilds them with ``rebuildFromLog()``).
    public static let indexNames = [References.index]

    /// The sequence of the last event recorded (0 for an empty store).
    public func head() throws -> UInt64 { try events.head() }

    /// Where a recorded event landed.
    public struct Recorded: Sendable, Hashable {
        public let sequence: UInt64
        public let streamVersion: UInt64
        /// True when the same event (same id, same content) was stored already: nothing was written.
        public let wasAlreadyStored: Bool
    }

    /// Validates `input` against the record and appends it, durably.
    ///
    /// - Throws: ``EventValidationError`` naming the attribute or field and the reason; nothing is written.
    @discardableResult
    public func record(_ input: ClinicalEventInput) async throws -> Recorded {
        // The event's own trace context (its `traceparent`), when it has one, is the parent of
        // the span: the write shows up in the trace of the request that made it.
        var context = ServiceContext.current ?? .topLevel
        if let traceparent = input.traceparent {
            var carrier = ["traceparent": traceparent]
            if let state = input.extensions.first(where: { $0.name == "tracestate" }).flatMap({ CloudEventCodec.jsonString($0.jsonValue) }) {
                carrier["tracestate"] = state
            }
            InstrumentationSystem.instrument.extract(carrier, into: &context, using: TraceContextCarrier())
        }
        return try await withSpan("PatientRecordStore.record", context: context, ofKind: .internal) { span in
            span.attributes["patient_record_store.event_type"] = input.type.map { "\($0)" } ?? "unknown"
            return try await recordUnderSpan(input)
        }
    }

    private func recordUnderSpan(_ input: ClinicalEventInput) async throws -> Recorded {
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
            } catch let error as EventStoreError where error.code == .duplicateEventId {
                throw EventValidationError(field: "id", reason: "event \(error.eventId ?? input.id) is already stored (sequence \(error.sequence ?? 0)) with other content")
            }
        }
        throw EventValidationError(field: "subject", reason: "patient \(input.patientId) is being written too busily to record this event; try again")
    }

    /// Forgets a patient (crypto-shredding, GDPR Art. 17): destroys their data key and records a
    /// ``Ketamine_V1_PatientForgotten`` in the clear, in one durable transaction. Afterwards none
    /// of their earlier payloads (or their snapshot) can be read by anyone, nothing more can be
    /// recorded for them, projections show them as forgotten, and the hash chain still verifies.
    /// Every other patient is untouched.
    ///
    /// - Throws: ``EventValidationError`` when the role may not forget (only `admin` and `system`),
    ///   the reason is empty, or the patient is not registered or already forgotten;
    ///   `EventStoreError.notSealed(path:)` for a store created without sealing.
    @discardableResult
    public func forget(_ patientId: String, reason: String, actorId: String, actorRole: ActorRole, source: String, time: Int64 = ClinicalTime.now) async throws -> Recorded {
        var message = Ketamine_V1_PatientForgotten()
        message.reason = reason
        let input = ClinicalEventInput(source: source, patientId: patientId, time: time, actorId: actorId, actorRole: actorRole, message: message)
        let (event, version) = try events.read { reader -> (NewEvent, UInt64) in
            try Validator.validate(input, of: .patientForgotten, against: reader)
            return (try EventCodec.newEvent(for: input, type: .patientForgotten), try reader.streamVersion(patientId))
        }
        do {
            let result = try await events.destroyKey(ofStream: patientId, recording: [event], expectedVersion: .exactly(version), indexEntries: References.entries(for: input))
            let position = result.positions[0]
            return Recorded(sequence: position.sequence, streamVersion: position.streamVersion, wasAlreadyStored: position.wasAlreadyStored)
        } catch EventStoreError.versionConflict {
            throw EventValidationError(field: "subject", reason: "patient \(patientId) was written to meanwhile; run forget again")
        } catch EventStoreError.streamKeyDestroyed {
            throw EventValidationError.forgotten(patientId)
        }
    }

    /// Whether the patient was forgotten (``forget(_:reason:actorId:actorRole:source:time:)``).
    public func isForgotten(_ patientId: String) throws -> Bool {
        try events.read { reader in try References.exists(.forgotten, "", patient: patientId, in: reader) }
    }

    enum Prepared {
        case append(StreamAppend)
        case alreadyStored(sequence: UInt64, version: UInt64)
    }

    /// Checks one event against `snapshot` and turns it into what the log stores.
    func prepare(_ input: ClinicalEventInput, against snapshot: borrowing some RecordSnapshot & ~Copyable) throws -> Prepared {
        guard let type = input.type else {
            throw EventValidationError(field: "type", reason: "\(Swift.type(of: input.message).protoMessageName) is not an event type of this record")
        }
        guard type != .patientForgotten else {
            throw EventValidationError(field: "type", reason: "a patient is forgotten only by PatientRecordStore.forget (patient-records forget), which destroys their data key in the same transaction")
        }
        let event = try EventCodec.newEvent(for: input, type: type)
        if let sequence = try snapshot.sequence(ofEventId: input.id), let stored = try snapshot.record(at: sequence) {
            if stored.payloadState == .keyDestroyed {
                throw EventValidationError.forgotten(stored.streamId)
            }
            guard Self.sameContent(stored, event, stream: input.patientId) else {
                throw EventValidationError(field: "id", reason: "event \(input.id) is already stored (sequence \(sequence)) with other content")
            }
            return .alreadyStored(sequence: sequence, version: stored.streamVersion)
        }
        try Validator.validate(input, of: type, against: snapshot)
        let version = try snapshot.streamVersion(input.patientId)
        return .append(StreamAppend(stream: input.patientId, events: [event], expectedVersion: .exactly(version), indexEntries: References.entries(for: input)))
    }

    /// Whether a stored event has the content of `event`: everything the writer chose but the
    /// extension attributes (the first event's stay), `data` compared as the stored message.
    static func sameContent(_ stored: EventRecordView, _ event: NewEvent, stream: String) -> Bool {
        guard stored.payloadState.isReadable, stored.type == event.type, stored.occurredAt == event.occurredAt,
              stored.idBytes.elementsEqual(event.id.utf8), stored.streamIdBytes.elementsEqual(stream.utf8),
              stored.actorBytes.elementsEqual(event.actor.utf8), stored.payload.elementsEqual(event.payload),
              var old = try? Ketamine_V1_EventEnvelope(serializedBytes: stored.metadata.bytes),
              var new = try? Ketamine_V1_EventEnvelope(serializedBytes: event.metadata) else { return false }
        old.extensions = []
        new.extensions = []
        return old == new
    }

    // MARK: Reading

    /// Decodes one stored record; `nil` for a type code this version does not know. A forgotten
    /// patient's event decodes as its header with an empty message (``ClinicalEvent/isForgotten``).
    public static func decode(_ record: EventRecordView) throws -> ClinicalEvent? {
        try EventCodec.decode(record, forgotten: true)
    }

    /// The decoded events of one patient, in stream order. Unknown types are skipped; a forgotten
    /// patient's events come as headers (``ClinicalEvent/isForgotten``).
    public func events(ofPatient patient: String) throws -> [ClinicalEvent] {
        try events.read { reader in
            var out: [ClinicalEvent] = []
            try reader.forEachRecord(inStream: patient) { record in
                if let event = try EventCodec.decode(record, forgotten: true) { out.append(event) }
                return true
            }
            return out
        }
    }

    /// Calls `body` with every decoded event from `sequence` on, in log order, inside one snapshot;
    /// a forgotten patient's events come as headers (``ClinicalEvent/isForgotten``).
    /// Returns the number of records of a type this version does not know (skipped).
    @discardableResult
    public func forEachEvent(from sequence: UInt64 = 1, _ body: (ClinicalEvent) throws -> Bool) throws -> Int {
        try events.read { reader in
            var unknown = 0
            try reader.forEachRecord(from: sequence) { record in
                guard let event = try EventCodec.decode(record, forgotten: true) else {
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

/// W3C trace context read from an event's attributes, for the host's instrument.
struct TraceContextCarrier: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}
