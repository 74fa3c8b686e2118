import EventStore
import Foundation
import SwiftProtobuf

/// A projection kept per patient and rebuilt by ``ClinicalReplay``.
///
/// It declares the event types it reads; events of other types are skipped on their header and
/// never decoded for it. An event several projections read is decoded once for all of them.
/// Patients are replayed in parallel, so `apply` must touch only the state it is given.
public protocol PatientProjection: Sendable {
    associatedtype State

    /// The event types this projection reads.
    var eventTypes: Set<ClinicalEventType> { get }
    /// Whether it is told about events of types this version does not know (they are not decoded).
    var countsUnknownTypes: Bool { get }
    /// Whether it reads the envelope attributes (`source`, `actorRole`, correlation and causation
    /// ids, content type). When no projection reading an event does, the envelope is not decoded
    /// and those attributes are empty; the header's (id, patient, actor, times) always are there.
    var readsEnvelope: Bool { get }

    /// The state of a patient before their first event in the replayed range.
    func makeState(patientId: String) -> State
    /// Applies one event of the patient. `voided` is true when an EntryVoided in the replayed
    /// range voids it.
    func apply(_ event: ClinicalEvent, voided: Bool, to state: inout State)
    /// Counts an event of a type this version does not know.
    func applyUnknown(_ record: UnknownRecord, to state: inout State)
}

extension PatientProjection {
    public var countsUnknownTypes: Bool { false }
    public var readsEnvelope: Bool { true }
    public func applyUnknown(_ record: UnknownRecord, to state: inout State) {}
}

/// The header of an event whose type this version does not know.
public struct UnknownRecord: Sendable {
    public let sequence: UInt64
    public let streamVersion: UInt64
    public let typeCode: UInt16
    public let recordedAt: Int64
}

/// Names one projection added to a ``ClinicalReplay``, to read its states back.
public struct ProjectionHandle<P: PatientProjection>: Sendable {
    let index: Int
}

/// A record that could not be decoded during a replay; the replay goes on without it.
public struct UnreadableRecord: Sendable {
    public let sequence: UInt64
    public let patientId: String
    public let eventId: String
    public let reason: String
}

/// Replays the log once for several per-patient projections (see ARCHITECTURE.md, Replay core).
///
/// ```swift
/// var replay = ClinicalReplay()
/// let states = replay.add(PatientStateProjection())
/// let result = try replay.run(store)
/// let p1 = result.states(of: states).first { $0.patientId == "P-0001" }?.state
/// ```
///
/// The log is read in place inside one read transaction by ``ParallelReplay``: headers route
/// each event to the partition that owns its patient, only events some projection declared are
/// decoded, once, on that partition's thread. Voids are found first by a pass over EntryVoided
/// headers alone, so every projection is told in one pass whether an event is voided.
public struct ClinicalReplay: Sendable {
    private var projections: [ErasedProjection] = []

    public init() {}

    /// Adds a projection to replay; the handle reads its states from the result.
    public mutating func add<P: PatientProjection>(_ projection: P) -> ProjectionHandle<P> {
        projections.append(ErasedProjection(projection))
        return ProjectionHandle(index: projections.count - 1)
    }

    /// The event types any added projection reads.
    public var eventTypes: EventTypeSet {
        projections.reduce(into: EventTypeSet()) { $0.formUnion($1.types) }
    }

    /// Replays `from`…`through` (the head of the snapshot when larger) of one snapshot.
    ///
    /// - Parameters:
    ///   - partitions: parallel workers over disjoint sets of patients; one per core by default.
    ///   - progress: shown on a terminal; silent in pipes.
    public func run(
        _ reader: borrowing LogReader, from: UInt64 = 1, through: UInt64 = .max,
        partitions: Int = ParallelReplay.defaultPartitions, progress: TerminalProgress? = nil
    ) throws -> ReplayResult {
        let head = min(through, try reader.head())
        // Voids are matched by the sequence of the event they void: an integer test per event.
        var voided = Set<UInt64>()
        for id in try Self.voidedEventIds(reader, from: from, through: head) {
            if let sequence = try reader.sequence(ofEventId: id) { voided.insert(sequence) }
        }
        let types = eventTypes
        let parts = (0..<max(1, partitions)).map { _ in
            ClinicalPartition(projections: projections, voidedSequences: voided)
        }
        let done = try ParallelReplay.run(
            reader, range: ReplayRange(from: from, through: head, types: types), partitions: parts,
            progress: progress.map { bar in { bar.update(Int($0), detail: "\($0) of \(head) events") } })
        progress?.finish()
        return ReplayResult(partitions: done, through: head)
    }

    /// Replays records from another source (a reference measurement, an import check) through
    /// the same projections, on the calling thread. `scan` calls its argument with each record
    /// in log order; `voided` holds the ids voided in them.
    public func run(voided: Set<String>, scan: ((EventRecordView) throws -> Void) throws -> Void) throws -> ReplayResult {
        var partition = ClinicalPartition(projections: projections, voidedIds: voided)
        let types = eventTypes
        var last: UInt64 = 0
        try scan { record in
            last = record.sequence
            if types.contains(record.type) { try partition.apply(record) }
        }
        return ReplayResult(partitions: [partition], through: last)
    }

    /// Replays the whole store (or up to `asOf`) in one read transaction.
    public func run(_ store: PatientRecordStore, asOf: AsOf? = nil, progress: TerminalProgress? = nil) throws -> ReplayResult {
        try store.events.read { reader in
            let through = try Self.lastSequence(reader, asOf: asOf)
            return try run(reader, through: through, progress: progress)
        }
    }

    /// The last sequence an as-of point includes (the head without one). Recorded times never
    /// decrease along the log, so a time is found by bisection.
    public static func lastSequence(_ reader: borrowing LogReader, asOf: AsOf?) throws -> UInt64 {
        let head = try reader.head()
        switch asOf {
        case nil: return head
        case .sequence(let last)?: return min(last, head)
        case .time(let time)?:
            var low: UInt64 = 0, high = head // invariant: low is included (or 0), high + 1 is not
            while low < high {
                let middle = low + (high - low + 1) / 2
                if let record = try reader.record(at: middle), record.recordedAt <= time { low = middle } else { high = middle - 1 }
            }
            return low
        }
    }

    /// The ids of every event voided by an EntryVoided in the range: headers route, only the
    /// voids are decoded.
    static func voidedEventIds(_ reader: borrowing LogReader, from: UInt64, through: UInt64) throws -> Set<String> {
        var voids = VoidCollector()
        voids = try ParallelReplay.run(
            reader, range: ReplayRange(from: from, through: through, types: EventTypeSet([ClinicalEventType.entryVoided.rawValue])),
            partitions: [voids])[0]
        return voids.ids
    }
}

extension ClinicalReplay {
    /// The id of the event an EntryVoided record voids, read from the map without decoding its
    /// envelope; `nil` for a record that is no void or cannot be read (an unreadable void voids
    /// nothing; the replay that reads it reports it; a forgotten patient's void is not read).
    public static func voidedEventId(in record: EventRecordView) -> String? {
        guard record.type == ClinicalEventType.entryVoided.rawValue, record.payloadState.isReadable,
              let void = try? Ketamine_V1_EntryVoided(serializedBytes: record.payload.bytes),
              !void.voidedEventID.isEmpty else { return nil }
        return void.voidedEventID
    }
}

private struct VoidCollector: ReplayPartition {
    var ids = Set<String>()

    mutating func apply(_ record: EventRecordView) throws {
        if let id = ClinicalReplay.voidedEventId(in: record) { ids.insert(id) }
    }
}

/// What a replay produced: each projection's state per patient, and what could not be read.
public struct ReplayResult: Sendable {
    fileprivate let partitions: [ClinicalPartition]
    /// The last sequence replayed.
    public let through: UInt64

    /// The states one projection reached, one per patient. Patient ids are distinct as bytes
    /// (two spellings of one text are two patients), so this is a list, not a dictionary.
    public func states<P: PatientProjection>(of handle: ProjectionHandle<P>) -> [(patientId: String, state: P.State)] {
        var out: [(patientId: String, state: P.State)] = []
        forEachState(of: handle) { out.append(($0, $1)) }
        return out
    }

    /// Calls `body` with each patient's state of one projection, without collecting them.
    public func forEachState<P: PatientProjection>(of handle: ProjectionHandle<P>, _ body: (String, P.State) throws -> Void) rethrows {
        for partition in partitions {
            for (patient, boxes) in partition.patients {
                try body(patient, unsafeDowncast(boxes[handle.index], to: StateBox<P.State>.self).state)
            }
        }
    }

    /// Events decoded and handed to projections.
    public var eventsApplied: Int { partitions.reduce(0) { $0 + $1.eventsApplied } }
    /// Events of forgotten patients left out: their data keys were destroyed.
    public var forgottenEventsSkipped: Int { partitions.reduce(0) { $0 + $1.forgottenSkipped } }
    public var patientCount: Int { partitions.reduce(0) { $0 + $1.patients.count } }
    /// Records that could not be decoded, in log order.
    public var unreadable: [UnreadableRecord] { partitions.flatMap(\.unreadable).sorted { $0.sequence < $1.sequence } }
}

/// A state in a reference box, so a projection mutates it in place (no copy on write).
final class StateBox<State>: @unchecked Sendable {
    var state: State
    init(_ state: State) { self.state = state }
}

/// A projection with its state type erased, so one partition can hold several.
struct ErasedProjection: @unchecked Sendable {
    let types: EventTypeSet
    let countsUnknown: Bool
    let readsEnvelope: Bool
    let make: (String) -> AnyObject
    let apply: (ClinicalEvent, Bool, AnyObject) -> Void
    let applyUnknown: (UnknownRecord, AnyObject) -> Void

    init<P: PatientProjection>(_ projection: P) {
        types = EventTypeSet(projection.eventTypes.map(\.rawValue))
        countsUnknown = projection.countsUnknownTypes
        readsEnvelope = projection.readsEnvelope
        make = { StateBox(projection.makeState(patientId: $0)) }
        apply = { event, voided, box in
            projection.apply(event, voided: voided, to: &unsafeDowncast(box, to: StateBox<P.State>.self).state)
        }
        applyUnknown = { record, box in
            projection.applyUnknown(record, to: &unsafeDowncast(box, to: StateBox<P.State>.self).state)
        }
    }
}

/// The patients of one partition and their projection states. Used by one thread at a time.
struct ClinicalPartition: ReplayPartition, @unchecked Sendable {
    let projections: [ErasedProjection]
    /// The events voided in the replayed range, by sequence (the store) or by id (other sources).
    let voidedSequences: Set<UInt64>
    let voidedIds: Set<String>
    /// Each patient met, in order of their first event, with one state box per projection.
    var patients: [(id: String, boxes: [AnyObject])] = []
    /// Where each patient is in `patients`, by the bytes of their id.
    var patientIndex = BytesTable<Int>()
    var eventsApplied = 0
    var unreadable: [UnreadableRecord] = []
    /// Events of forgotten patients, whose payloads no key opens any more (not damage).
    var forgottenSkipped = 0

    /// The types some projection that reads the envelope wants.
    let envelopeTypes: EventTypeSet

    init(projections: [ErasedProjection], voidedSequences: Set<UInt64> = [], voidedIds: Set<String> = []) {
        self.projections = projections
        envelopeTypes = projections.filter(\.readsEnvelope).reduce(into: EventTypeSet()) { $0.formUnion($1.types) }
        self.voidedSequences = voidedSequences
        self.voidedIds = voidedIds
    }

    mutating func apply(_ record: EventRecordView) throws {
        let boxes: [AnyObject]
        if let index = patientIndex[record.streamIdBytes] {
            boxes = patients[index].boxes
        } else {
            let patientId = record.streamId
            boxes = projections.map { $0.make(patientId) }
            patientIndex.set(record.streamIdBytes, patients.count)
            patients.append((patientId, boxes))
        }
        let code = record.type
        if record.payloadState == .keyDestroyed {
            forgottenSkipped += 1
            return
        }
        guard ClinicalEventType(rawValue: code) != nil else {
            let unknown = UnknownRecord(sequence: record.sequence, streamVersion: record.streamVersion, typeCode: code, recordedAt: record.recordedAt)
            for (projection, box) in zip(projections, boxes) where projection.countsUnknown { projection.applyUnknown(unknown, box) }
            return
        }
        let event: ClinicalEvent
        do {
            guard let decoded = try EventCodec.decode(record, envelope: envelopeTypes.contains(code)) else { return }
            event = decoded
        } catch {
            unreadable.append(UnreadableRecord(sequence: record.sequence, patientId: record.streamId, eventId: record.id, reason: "\(error)"))
            return
        }
        eventsApplied += 1
        let isVoided = voidedSequences.contains(event.sequence) || (!voidedIds.isEmpty && voidedIds.contains(event.id))
        for (projection, box) in zip(projections, boxes) where projection.types.contains(code) {
            projection.apply(event, isVoided, box)
        }
    }
}
