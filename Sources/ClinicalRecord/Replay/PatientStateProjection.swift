/// Each patient's current state (``PatientState``): reads every event, voided ones counted only.
public struct PatientStateProjection: PatientProjection {
    /// States to continue from, by patient (snapshots when catching up); others start empty.
    let seeds: [String: PatientStateBuilder]

    public init() { seeds = [:] }

    init(seeds: [String: PatientStateBuilder]) { self.seeds = seeds }

    public var readsEnvelope: Bool { false }
    public var eventTypes: Set<ClinicalEventType> { Set(ClinicalEventType.allCases) }
    public var countsUnknownTypes: Bool { true }

    public func makeState(patientId: String) -> PatientStateBuilder {
        seeds[patientId] ?? PatientStateBuilder(patientId: patientId)
    }

    public func apply(_ event: ClinicalEvent, voided: Bool, to state: inout PatientStateBuilder) {
        state.count(event, voided: voided)
        if !voided { state.apply(event) }
    }

    public func applyUnknown(_ record: UnknownRecord, to state: inout PatientStateBuilder) {
        state.countUnknown(sequence: record.sequence, streamVersion: record.streamVersion, recordedAt: record.recordedAt)
    }
}
