import Metrics

/// What the clinic record reports through swift-metrics (no-op until the host bootstraps a
/// backend), beside the event store's own instruments (`Observability` in EventStore):
///
/// | name | kind | what |
/// | --- | --- | --- |
/// | `patient_record_store_imported_events_total` | counter | events an import wrote |
/// | `patient_record_store_import_refusals_total{field}` | counter | imports refused, by the field named |
/// | `patient_record_store_replay_events_per_second` | recorder | each whole replay's rate |
/// | `patient_record_store_replay_duration` | timer | each whole replay |
enum ClinicalInstruments {
    static let importedEvents = Counter(label: "patient_record_store_imported_events_total")
    static let replayRate = Recorder(label: "patient_record_store_replay_events_per_second")
    static let replayDuration = Metrics.Timer(label: "patient_record_store_replay_duration")

    static func imported(_ summary: ImportSummary) {
        if summary.imported > 0 { importedEvents.increment(by: summary.imported) }
    }

    static func refused(_ error: EventValidationError) {
        Counter(label: "patient_record_store_import_refusals_total", dimensions: [("field", error.field)]).increment()
    }

    static func replayed(_ through: UInt64, in duration: Duration) {
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        replayDuration.recordNanoseconds(nanoseconds)
        if nanoseconds > 0 { replayRate.record(Double(through) * 1e9 / Double(nanoseconds)) }
    }
}
