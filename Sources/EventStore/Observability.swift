import Logging
import Metrics

/// Where a store reports what it does, through the ecosystem's hooks: a swift-log `Logger`, and
/// swift-metrics instruments under ``metricsPrefix``. Both are no-ops until the host wires
/// them (gives a logger with a handler, calls `MetricsSystem.bootstrap`); the library prints
/// nothing itself. Spans (swift-distributed-tracing) go to the host's `InstrumentationSystem`.
///
/// Metrics (names below with the default prefix):
///
/// | name | kind | what |
/// | --- | --- | --- |
/// | `patient_record_store_appended_events_total` | counter | events committed (not those already stored) |
/// | `patient_record_store_commits_total` | counter | write transactions of appends (one per group) |
/// | `patient_record_store_commit_group_size` | recorder | appends answered by one commit |
/// | `patient_record_store_commit_duration` | timer | one group's write transaction with its flush (fsync) |
/// | `patient_record_store_refusals_total{reason}` | counter | appends refused, by error code (`version-conflict`, …) |
/// | `patient_record_store_commit_failures_total{reason}` | counter | groups whose commit failed (full disk, damage, …) |
/// | `patient_record_store_map_size_bytes` | gauge | the memory map, set when this process grows it |
///
/// ClinicalRecord adds `patient_record_store_refused_events_total{field}` and the replay's
/// events per second (see `ClinicalObservability` there).
public struct Observability: Sendable {
    public var logger: Logger
    public var metricsPrefix: String
    /// Where the store's metrics go: `nil` for the process's `MetricsSystem` (bootstrap it
    /// before opening stores: instruments are made when a store opens).
    public var metricsFactory: (any MetricsFactory)?

    /// A logger that discards everything: the library says nothing unless asked.
    public static let silentLogger = Logger(label: "patient-record-store", factory: { _ in SwiftLogNoOpLogHandler() })

    public init(logger: Logger = Observability.silentLogger, metricsPrefix: String = "patient_record_store", metricsFactory: (any MetricsFactory)? = nil) {
        self.logger = logger
        self.metricsPrefix = metricsPrefix
        self.metricsFactory = metricsFactory
    }

    var factory: any MetricsFactory { metricsFactory ?? MetricsSystem.factory }

    func mapGrown(to bytes: Int, path: String) {
        Gauge(label: metricsPrefix + "_map_size_bytes", factory: factory).record(bytes)
        logger.notice("memory map grown", metadata: ["bytes": "\(bytes)", "store": "\(path)"])
    }
}

/// The instruments of one open store, made once (a metrics factory lookup per commit would cost
/// more than the commit's bookkeeping).
final class StoreInstruments: Sendable {
    let observability: Observability
    let appendedEvents: Counter
    let commits: Counter
    let groupSize: Recorder
    let commitDuration: Metrics.Timer

    init(_ observability: Observability) {
        self.observability = observability
        let prefix = observability.metricsPrefix
        let factory = observability.factory
        appendedEvents = Counter(label: prefix + "_appended_events_total", factory: factory)
        commits = Counter(label: prefix + "_commits_total", factory: factory)
        groupSize = Recorder(label: prefix + "_commit_group_size", factory: factory)
        commitDuration = Metrics.Timer(label: prefix + "_commit_duration", factory: factory)
    }

    /// One group's commit: its size, its duration, what it stored and what it refused.
    func committed(_ requests: [[StreamAppend]], _ outcome: Result<[Result<[AppendResult], EventStoreError>], any Error>, after duration: Duration) {
        commits.increment()
        groupSize.record(requests.count)
        commitDuration.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        switch outcome {
        case .success(let results):
            var stored = 0
            for result in results {
                switch result {
                case .success(let appended):
                    for append in appended { stored += append.positions.reduce(0) { $0 + ($1.wasAlreadyStored ? 0 : 1) } }
                case .failure(let error):
                    Counter(label: observability.metricsPrefix + "_refusals_total", dimensions: [("reason", error.code.rawValue)],
                            factory: observability.factory).increment()
                    observability.logger.debug("append refused", metadata: ["reason": "\(error.code)"])
                }
            }
            if stored > 0 { appendedEvents.increment(by: stored) }
        case .failure(let error):
            let reason = (error as? EventStoreError)?.code.rawValue ?? EventStoreError.Code.storage.rawValue
            Counter(label: observability.metricsPrefix + "_commit_failures_total", dimensions: [("reason", reason)], factory: observability.factory).increment()
            observability.logger.error("commit failed", metadata: ["reason": "\(reason)", "error": "\(error)"])
        }
    }
}
