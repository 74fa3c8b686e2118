@_spi(RawRecords) import EventStore
import Tracing
import Foundation
import Synchronization

/// A projection kept per patient and rebuilt by ``ClinicalReplay``.
///
/// It declares the event types it reads; events of other types are skipped on their header and
/// never opened for it. It reads each event in place (``ReplayedEvent``): the payload's fields are
/// found in the opened bytes as asked, so a projection pays for the fields it reads. Patients are
/// replayed in parallel, so `apply` must touch only the state it is given.
public protocol PatientProjection: Sendable {
    associatedtype State: Sendable

    /// The event types this projection reads.
    var eventTypes: Set<ClinicalEventType> { get }
    /// Whether it is told about events of types this version does not know (they are not decoded).
    var countsUnknownTypes: Bool { get }

    /// The state of a patient before their first event in the replayed range.
    func makeState(patientId: String) -> State
    /// Applies one event of the patient. `voided` is true when an EntryVoided in the replayed
    /// range voids it. The event is valid only during the call.
    func apply(_ event: ReplayedEvent, voided: Bool, to state: inout State)
    /// Counts an event of a type this version does not know.
    func applyUnknown(_ record: UnknownRecord, to state: inout State)
    /// Called once for each patient after the replay's last event, on the partition's thread
    /// (in parallel with other partitions), for work that waits for the end.
    func finish(_ state: inout State)
}

extension PatientProjection {
    public var countsUnknownTypes: Bool { false }
    public func applyUnknown(_ record: UnknownRecord, to state: inout State) {}
    public func finish(_ state: inout State) {}
}

/// Names one projection added to a ``ClinicalReplay``, to read its states back from that replay's
/// result (and no other's).
public struct ProjectionHandle<P: PatientProjection>: Sendable {
    let index: Int
    let replay: UInt64
}

/// A record that could not be decoded during a replay; the replay goes on without it.
public struct UnreadableRecord: Sendable {
    public let sequence: UInt64
    public let patientId: String
    public let eventId: String
    public let reason: String
}

/// How far a replay has come: the last sequence routed, and the last it will replay.
public typealias ReplayProgress = @Sendable (_ replayed: UInt64, _ through: UInt64) -> Void

/// Replays the log once for several per-patient projections (see docs/STORAGE.md, replay).
///
/// ```swift
/// var replay = ClinicalReplay()
/// let states = replay.add(PatientStateProjection())
/// let result = try replay.run(store)
/// for (patient, builder) in result.states(of: states) { print(patient, builder.lastSequence) }
/// ```
///
/// The log is read in place inside one read transaction by `ParallelReplay` (EventStore): headers route
/// each event to the partition that owns its patient, and only events some projection declared
/// are opened, once, on that partition's thread, and handed to every projection that reads them.
/// Voids are found first by a pass over EntryVoided headers alone, so every projection is told
/// in one pass whether an event is voided.
public struct ClinicalReplay: Sendable {
    private var projections: [ErasedProjection] = []
    private let identity = ClinicalReplay.nextIdentity.add(1, ordering: .relaxed).newValue
    private static let nextIdentity = Atomic<UInt64>(0)

    public init() {}

    /// Adds a projection to replay; the handle reads its states from this replay's result.
    public mutating func add<P: PatientProjection>(_ projection: P) -> ProjectionHandle<P> {
        projections.append(ErasedProjection(projection))
        return ProjectionHandle(index: projections.count - 1, replay: identity)
    }

    /// The event types any added projection reads.
    public var eventTypes: EventTypeSet {
        projections.reduce(into: EventTypeSet()) { $0.formUnion($1.types) }
    }

    /// Replays `from`…`through` (the head of the snapshot when larger) of one snapshot.
    ///
    /// - Parameters:
    ///   - reader: the snapshot to replay (see `EventStore.read(_:)`).
    ///   - from: the first sequence to replay.
    ///   - through: the last sequence to replay.
    ///   - partitions: parallel workers over disjoint sets of patients; one per core by default.
    ///   - chain: checks the hash chain in the same pass (from the first record on; needs `from` 1)
    ///     and stops at the first record that does not verify; see ``ReplayResult/integrity``.
    ///   - progress: called now and then on the routing thread.
    public func run(
        _ reader: borrowing LogReader, from: UInt64 = 1, through: UInt64 = .max,
        partitions: Int = ParallelReplay.defaultPartitions, checkingChain chain: Bool = false, progress: ReplayProgress? = nil
    ) throws -> ReplayResult {
        let head = min(through, try reader.head())
        // Voids are matched by the sequence of the event they void: an integer test per event.
        var voided = Set<UInt64>()
        for id in try Self.voidedEventIds(reader, from: from, through: head) {
            if let sequence = try id.withUnsafeBytes({ try reader.sequence(ofEventIdBytes: $0) }) { voided.insert(sequence) }
        }
        let parts = (0..<max(1, partitions)).map { _ in
            ClinicalPartition(projections: projections, voidedSequences: voided)
        }
        var range = ReplayRange(from: from, through: head, types: eventTypes)
        range.checksChain = chain
        let done = try ParallelReplay.run(reader, range: range, partitions: parts, progress: progress.map { report in { report($0, head) } })
        return ReplayResult(partitions: done.partitions, through: done.integrity.map { $0.sequence - 1 } ?? head,
                            integrity: done.integrity, replay: identity)
    }

    /// Replays records from another source (a reference measurement) through the same
    /// projections, on the calling thread. `scan` calls its argument with each record in log
    /// order; `voided` holds the ids voided in them.
    @_spi(RawRecords)
    public func run(voided: Set<[UInt8]>, scan: ((EventRecordView) throws -> Void) throws -> Void) throws -> ReplayResult {
        var feed = feed(voided: voided)
        try scan { record in try feed.apply(record) }
        return feed.finish(integrity: nil)
    }

    /// A replay fed one record at a time, in log order, from a source other than a local store
    /// (a log shipped to PostgreSQL, read page by page); `voided` holds the ids voided in it.
    public func feed(voided: Set<[UInt8]>) -> Feed {
        Feed(partition: ClinicalPartition(projections: projections, voidedIds: voided), types: eventTypes, replay: identity)
    }

    /// See ``ClinicalReplay/feed(voided:)``.
    public struct Feed {
        fileprivate var partition: ClinicalPartition
        let types: EventTypeSet
        let replay: UInt64
        /// The last sequence fed.
        public private(set) var through: UInt64 = 0

        fileprivate init(partition: ClinicalPartition, types: EventTypeSet, replay: UInt64) {
            self.partition = partition
            self.types = types
            self.replay = replay
        }

        /// Applies the next record (its payload opened, or marked with why it cannot be).
        public mutating func apply(_ record: EventRecordView) throws {
            through = record.sequence
            if types.contains(record.type) { try partition.apply(record) }
        }

        /// Judges what waits for the end and returns the result; `integrity` names the first
        /// record that did not verify, when the feed stopped before it.
        public consuming func finish(integrity: ChainProblem?) -> ReplayResult {
            partition.finish()
            return ReplayResult(partitions: [partition], through: through, integrity: integrity, replay: replay)
        }
    }

    /// Replays the whole store (or up to `asOf`) in one read transaction.
    public func run(_ store: PatientRecordStore, asOf: AsOf? = nil, checkingChain chain: Bool = false, progress: ReplayProgress? = nil) throws -> ReplayResult {
        try withSpan("ClinicalReplay.run", ofKind: .internal) { span in
            let started = ContinuousClock.now
            let result = try store.events.read { reader in
                let through = try Self.lastSequence(reader, asOf: asOf)
                return try run(reader, through: through, checkingChain: chain, progress: progress)
            }
            span.attributes["patient_record_store.through"] = Int64(result.through)
            ClinicalInstruments.replayed(result.through, in: ContinuousClock.now - started)
            return result
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
                if let record = try reader.storedRecord(at: middle), record.recordedAt <= time { low = middle } else { high = middle - 1 }
            }
            return low
        }
    }

    /// The ids of every event voided by an EntryVoided in the range (as bytes), read from the
    /// clinical-references index rather than from the log (see ``References/voids(_:)``); a
    /// void's sequence is looked up only when the range is not the whole log.
    static func voidedEventIds(_ reader: borrowing LogReader, from: UInt64, through: UInt64) throws -> Set<[UInt8]> {
        let head = try reader.head()
        // A short range (a catch-up) is read itself: its voids are a few records among its
        // headers, cheaper than visiting every patient's entries in the index.
        if through >= from, through - from < max(head / 64, 4_096) {
            var ids = Set<[UInt8]>()
            try reader.forEachStoredRecord(from: from) { record in
                guard record.sequence <= through else { return false }
                if record.type == ClinicalEventType.entryVoided.rawValue, let opened = try reader.record(at: record.sequence),
                   let id = voidedEventId(in: opened) {
                    ids.insert(id)
                }
                return true
            }
            return ids
        }
        let voids = try References.voids(reader)
        guard from > 1 || through < head else { return Set(voids.keys) }
        var ids = Set<[UInt8]>()
        for (voided, void) in voids {
            if let sequence = try void.withUnsafeBytes({ try reader.sequence(ofEventIdBytes: $0) }), (from...through).contains(sequence) {
                ids.insert(voided)
            }
        }
        return ids
    }
}

extension ClinicalReplay {
    /// The id of the event an EntryVoided record voids (its bytes), read in place; `nil` for a
    /// record that is no void or cannot be read (an unreadable void voids nothing; the replay that
    /// reads it reports it; a forgotten patient's void is not read).
    @_spi(RawRecords)
    public static func voidedEventId(in record: EventRecordView) -> [UInt8]? {
        guard record.type == ClinicalEventType.entryVoided.rawValue, record.payloadState.isReadable else { return nil }
        let id = EntryVoidedView(fields: PayloadFields(record.payload)).voidedEventId
        return id.isEmpty ? nil : Array(id.bytes)
    }
}

/// What a replay produced: each projection's state per patient, and what could not be read.
public struct ReplayResult: Sendable {
    fileprivate let partitions: [ClinicalPartition]
    /// The last sequence replayed.
    public let through: UInt64
    /// The first record that did not verify, when the replay checked the chain and met one: the
    /// replay stopped before it.
    public let integrity: ChainProblem?
    private let replay: UInt64

    fileprivate init(partitions: [ClinicalPartition], through: UInt64, integrity: ChainProblem?, replay: UInt64) {
        self.partitions = partitions
        self.through = through
        self.integrity = integrity
        self.replay = replay
    }

    /// The states one projection reached, one per patient. Patient ids are distinct as bytes
    /// (two spellings of one text are two patients), so this is a list, not a dictionary.
    public func states<P: PatientProjection>(of handle: ProjectionHandle<P>) -> [(patientId: String, state: P.State)] {
        var out: [(patientId: String, state: P.State)] = []
        forEachState(of: handle) { out.append(($0, $1)) }
        return out
    }

    /// Calls `body` with each patient's state of one projection, without collecting them.
    public func forEachState<P: PatientProjection>(of handle: ProjectionHandle<P>, _ body: (String, P.State) throws -> Void) rethrows {
        precondition(handle.replay == replay, "a projection handle read from the result of another replay")
        for partition in partitions {
            for (patient, boxes) in partition.patients {
                // The handle's replay added a projection of type P at this index.
                try body(patient, unsafeDowncast(boxes[handle.index], to: StateBox<P.State>.self).state)
            }
        }
    }

    /// Events handed to projections.
    public var eventsApplied: Int { partitions.reduce(0) { $0 + $1.eventsApplied } }
    /// Events of forgotten patients left out: their data keys were destroyed.
    public var forgottenEventsSkipped: Int { partitions.reduce(0) { $0 + $1.forgottenSkipped } }
    public var patientCount: Int { partitions.reduce(0) { $0 + $1.patients.count } }
    /// Records that could not be decoded, in log order.
    public var unreadable: [UnreadableRecord] { partitions.flatMap(\.unreadable).sorted { $0.sequence < $1.sequence } }
}

/// A state in a reference box, so a projection mutates it in place (no copy on write).
final class StateBox<State>: @unchecked Sendable {
    // @unchecked: owned by one partition, mutated on its thread only.
    var state: State
    init(_ state: State) { self.state = state }
}

/// A projection with its state type erased, so one partition can hold several.
struct ErasedProjection: @unchecked Sendable {
    // @unchecked: the closures capture only the (Sendable) projection.
    let types: EventTypeSet
    let countsUnknown: Bool
    let make: (String) -> AnyObject
    let apply: (ReplayedEvent, Bool, AnyObject) -> Void
    let applyUnknown: (UnknownRecord, AnyObject) -> Void
    let finish: (AnyObject) -> Void

    init<P: PatientProjection>(_ projection: P) {
        types = EventTypeSet(projection.eventTypes.map(\.rawValue))
        countsUnknown = projection.countsUnknownTypes
        make = { StateBox(projection.makeState(patientId: $0)) }
        apply = { event, voided, box in
            projection.apply(event, voided: voided, to: &unsafeDowncast(box, to: StateBox<P.State>.self).state)
        }
        applyUnknown = { record, box in
            projection.applyUnknown(record, to: &unsafeDowncast(box, to: StateBox<P.State>.self).state)
        }
        finish = { box in projection.finish(&unsafeDowncast(box, to: StateBox<P.State>.self).state) }
    }
}

/// The patients of one partition and their projection states. Used by one thread at a time.
struct ClinicalPartition: ReplayPartition, @unchecked Sendable {
    // @unchecked: owned by one partition's thread during the replay, read after it.
    let projections: [ErasedProjection]
    /// The events voided in the replayed range, by sequence (the store) or by id (other sources).
    let voidedSequences: Set<UInt64>
    let voidedIds: Set<[UInt8]>
    /// Each patient met, in order of their first event, with one state box per projection.
    var patients: [(id: String, boxes: [AnyObject])] = []
    /// Where each patient is in `patients`, by the bytes of their id.
    var patientIndex = BytesTable<Int>()
    var eventsApplied = 0
    var unreadable: [UnreadableRecord] = []
    /// Events of forgotten patients, whose payloads no key opens any more (not damage).
    var forgottenSkipped = 0

    /// For each type code below 1024, which projections read it (bit `i`: projection `i`), and
    /// whether any counts types this version does not know: one load per event, rather than a
    /// look into each projection.
    let readers: [UInt64]
    let countsUnknown: Bool

    init(projections: [ErasedProjection], voidedSequences: Set<UInt64> = [], voidedIds: Set<[UInt8]> = []) {
        precondition(projections.count <= 64, "a replay holds at most 64 projections")
        self.projections = projections
        self.voidedSequences = voidedSequences
        self.voidedIds = voidedIds
        readers = (0..<1024).map { code in
            projections.indices.reduce(UInt64(0)) { mask, index in
                projections[index].types.contains(UInt16(code)) ? mask | (1 << UInt64(index)) : mask
            }
        }
        countsUnknown = projections.contains { $0.countsUnknown }
    }

    func finish() {
        for (_, boxes) in patients {
            for (projection, box) in zip(projections, boxes) { projection.finish(box) }
        }
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
        guard let type = ClinicalEventType(rawValue: code) else {
            guard countsUnknown else { return }
            let unknown = UnknownRecord(sequence: record.sequence, streamVersion: record.streamVersion, typeCode: code, recordedAt: record.recordedAt)
            for (projection, box) in zip(projections, boxes) where projection.countsUnknown { projection.applyUnknown(unknown, box) }
            return
        }
        switch record.payloadState {
        case .clear, .opened: break
        case .keyDestroyed:
            forgottenSkipped += 1
            return
        case .sealed, .keyMissing, .keyDamaged, .damaged:
            unreadable.append(UnreadableRecord(sequence: record.sequence, patientId: record.streamId, eventId: record.id,
                                               reason: UnreadablePayload(state: record.payloadState).description))
            return
        }
        eventsApplied += 1
        let event = ReplayedEvent(record: record, type: type)
        let isVoided = voidedSequences.contains(record.sequence) || (!voidedIds.isEmpty && voidedIds.contains(Array(record.idBytes)))
        var mask = code < 1024 ? readers[Int(code)] : 0
        while mask != 0 {
            let index = mask.trailingZeroBitCount
            mask &= mask - 1
            projections[index].apply(event, isVoided, boxes[index])
        }
    }
}
