import EventStore

/// Each patient's current state (``PatientStateBuilder``): reads every event, voided ones counted only.
public struct PatientStateProjection: PatientProjection {
    /// States to continue from, by patient (snapshots when catching up); others start empty.
    let seeds: BytesTable<PatientStateBuilder>

    public init() { seeds = BytesTable() }

    init(seeds: BytesTable<PatientStateBuilder>) { self.seeds = seeds }

    public var eventTypes: Set<ClinicalEventType> { Set(ClinicalEventType.allCases) }
    public var countsUnknownTypes: Bool { true }

    public func makeState(patientId: String) -> PatientStateBuilder {
        Array(patientId.utf8).withUnsafeBytes { seeds[$0] } ?? PatientStateBuilder(patientId: patientId)
    }

    public func apply(_ event: ReplayedEvent, voided: Bool, to state: inout PatientStateBuilder) {
        state.count(event, voided: voided)
        if !voided { state.apply(event) }
    }

    public func applyUnknown(_ record: UnknownRecord, to state: inout PatientStateBuilder) {
        state.countUnknown(record)
    }
}
