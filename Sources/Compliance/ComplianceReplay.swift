import ClinicalRecord
import EventStore
import Foundation

/// The result of a compliance replay, shaped as docs/COMPLIANCE.md's JSON report.
public struct ComplianceReport: Sendable, Encodable {
    /// The time the record was judged at (RFC 3339).
    public var asOf: String
    public var eventsReplayed: Int
    public var patients: Int
    public var findings: [Finding]
    /// Findings per rule.
    public var summary: [String: Int]
    /// Patients who were forgotten (crypto-shredded): their entries can no longer be read, so
    /// they are not judged. Absent when there are none.
    public var forgottenPatients: [String]?
    /// The stores judged, when the replay judged several (a network's shipped logs).
    public var stores: [String]?

    public init(asOf: String, eventsReplayed: Int, patients: Int, findings: [Finding], summary: [String: Int],
                forgottenPatients: [String]? = nil, stores: [String]? = nil) {
        self.asOf = asOf
        self.eventsReplayed = eventsReplayed
        self.patients = patients
        self.findings = findings
        self.summary = summary
        self.forgottenPatients = forgottenPatients
        self.stores = stores
    }

    /// One report of several stores' reports: findings in store order, each naming its store.
    public static func merging(_ reports: [(store: String, report: ComplianceReport)]) -> ComplianceReport {
        var findings: [Finding] = []
        var summary: [String: Int] = [:]
        var forgotten: [String] = []
        for (store, report) in reports {
            findings += report.findings.map { finding in
                var named = finding
                named.store = store
                return named
            }
            for (rule, count) in report.summary { summary[rule, default: 0] += count }
            forgotten += report.forgottenPatients ?? []
        }
        return ComplianceReport(asOf: reports.map(\.report.asOf).max() ?? "", eventsReplayed: reports.reduce(0) { $0 + $1.report.eventsReplayed },
                                patients: reports.reduce(0) { $0 + $1.report.patients }, findings: findings, summary: summary,
                                forgottenPatients: forgotten.isEmpty ? nil : forgotten, stores: reports.map(\.store))
    }

    /// Whether any finding has error severity (the replay tool then exits 1).
    public var hasErrors: Bool { findings.contains { $0.severity == .error } }
}

/// The compliance rules as a per-patient projection: facts folded as events come (read in
/// place), sessions judged as each patient's record moves past them, the rest at the end.
public struct ComplianceProjection: PatientProjection {
    let book: RuleBook

    /// - Parameter judgedAt: the time pending windows are judged at (ns since 1970 UTC).
    public init(policy: Policy = Policy(), judgedAt: Int64) {
        book = RuleBook(policy: policy, judgedAt: judgedAt)
    }

    public var eventTypes: Set<ClinicalEventType> { PatientFacts.types.union([.patientForgotten]) }

    public func makeState(patientId: String) -> PatientCompliance { PatientCompliance() }

    public func apply(_ event: ReplayedEvent, voided: Bool, to state: inout PatientCompliance) {
        guard !voided else { return }
        if event.type == .patientForgotten {
            state.forgotten = true
            state.facts = PatientFacts()
            return
        }
        state.facts.add(event, book: book)
    }

    /// Judges what is still open, once the replay is over (on the partition's thread).
    public func finish(_ state: inout PatientCompliance) {
        guard !state.forgotten, state.judged == nil else { return }
        state.judged = findings(state)
        state.facts = PatientFacts()
    }

    /// Judges what is still open and returns every finding of the patient (event ids left to
    /// ``ComplianceReplay`` to look up by sequence), in log order.
    func findings(_ state: PatientCompliance) -> [PendingFinding] {
        if let judged = state.judged { return judged }
        var facts = state.facts
        facts.settleAll(book: book)
        // Findings judged from several subjects (a consent several doses rely on): the first.
        var seen = Set<String>()
        return facts.findings
            .filter { finding in finding.onceKey.map { seen.insert(finding.rule.rawValue + "\u{0}" + $0).inserted } ?? true }
            .sorted { ($0.sequence, $0.rule.rawValue) < ($1.sequence, $1.rule.rawValue) }
    }
}

/// One patient's compliance facts during a replay.
public struct PatientCompliance: Sendable {
    var facts = PatientFacts()
    /// Every finding, once the replay is over (``ComplianceProjection/finish(_:)``).
    var judged: [PendingFinding]?
    /// The patient was forgotten: nothing of theirs is judged.
    public internal(set) var forgotten = false
}

/// Replays the record once, up to an as-of point, and applies every rule to every patient. The
/// hash chain is checked in the same pass: the replay judges the log up to the record before the
/// first one that does not verify, and reports that one as `integrity`.
public enum ComplianceReplay {
    public static func run(_ store: PatientRecordStore, asOf: AsOf? = nil, policy: Policy = Policy(), progress: ReplayProgress? = nil) throws -> ComplianceReport {
        try store.read { reader in
            try run(reader, asOf: asOf, policy: policy, progress: progress)
        }
    }

    /// The compliance replay of a store for async callers: on a thread of its own,
    /// cancellable (the replay looks at cancellation every 16,384 records and throws `CancellationError`).
    public static func run(_ store: PatientRecordStore, asOf: AsOf? = nil, policy: Policy = Policy(), progress: ReplayProgress? = nil) async throws -> ComplianceReport {
        try await LongWork.run("patient-records.compliance") { try run(store, asOf: asOf, policy: policy, progress: progress) }
    }

    public static func run(_ reader: borrowing LogReader, asOf: AsOf? = nil, policy: Policy = Policy(), progress: ReplayProgress? = nil) throws -> ComplianceReport {
        let through = try ClinicalReplay.lastSequence(reader, asOf: asOf)
        let judgedAt: Int64
        if case .time(let time)? = asOf {
            judgedAt = time
        } else if through > 0, let last = try reader.storedRecord(at: through) {
            judgedAt = last.recordedAt
        } else {
            judgedAt = ClinicalTime.now
        }
        let projection = ComplianceProjection(policy: policy, judgedAt: judgedAt)
        var replay = ClinicalReplay()
        let handle = replay.add(projection)
        let result = try replay.run(reader, through: through, checkingChain: true, progress: progress)
        return try report(result, of: handle, projection: projection, judgedAt: judgedAt) { sequence in
            try reader.storedRecord(at: sequence)?.id ?? ""
        }
    }

    /// A replay judged against `policy` at `judgedAt`, for records fed from elsewhere (a log
    /// shipped to PostgreSQL): add the returned projection to a replay, feed it, then make the
    /// report with ``report(_:of:projection:judgedAt:eventId:)``.
    public static func projection(policy: Policy, judgedAt: Int64) -> ComplianceProjection {
        ComplianceProjection(policy: policy, judgedAt: judgedAt)
    }

    /// The report of a finished replay: findings in patient order (the event ids of their
    /// sequences looked up with `eventId`), the integrity problem first when there was one.
    public static func report(_ result: ReplayResult, of handle: ProjectionHandle<ComplianceProjection>, projection: ComplianceProjection,
                              judgedAt: Int64, eventId: (UInt64) throws -> String) throws -> ComplianceReport {
        var findings: [Finding] = []
        if let problem = result.integrity {
            findings.append(Finding(rule: .integrity, patient: "", session: nil, eventId: "", sequence: problem.sequence,
                                    message: "The record at sequence \(problem.sequence) does not verify: \(problem.reason). Events from there on are not trusted and were not judged."))
        }
        var forgotten: [String] = []
        var perPatient: [(String, [Finding])] = []
        try result.forEachState(of: handle) { patient, state in
            if state.forgotten {
                forgotten.append(patient)
                return
            }
            let judged = try projection.findings(state).map { pending in
                Finding(rule: pending.rule, patient: patient, session: pending.session,
                        eventId: try eventId(pending.sequence), sequence: pending.sequence, message: pending.message)
            }
            perPatient.append((patient, judged))
        }
        for record in result.unreadable {
            perPatient.append((record.patientId, [Finding(rule: .integrity, patient: record.patientId, session: nil, eventId: record.eventId, sequence: record.sequence,
                                                          message: "The record at sequence \(record.sequence) cannot be read: \(record.reason).")]))
        }
        let patients = Set(perPatient.map { Array($0.0.utf8) }).union(forgotten.map { Array($0.utf8) })
        for (_, patientFindings) in perPatient.sorted(by: { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }) { findings += patientFindings }
        var summary: [String: Int] = [:]
        for finding in findings { summary[finding.rule.rawValue, default: 0] += 1 }
        return ComplianceReport(asOf: ClinicalTime.format(judgedAt), eventsReplayed: Int(result.through), patients: patients.count,
                                findings: findings, summary: summary, forgottenPatients: forgotten.isEmpty ? nil : forgotten.sorted())
    }

    /// One patient's findings: their events (up to `asOf`) folded through the rules alone, in
    /// stream order, judged at the time the whole replay would judge them.
    public static func findings(ofPatient patient: String, in store: PatientRecordStore, asOf: AsOf? = nil, policy: Policy = Policy()) throws -> [Finding] {
        try store.read { reader in
            let through = try ClinicalReplay.lastSequence(reader, asOf: asOf)
            let judgedAt: Int64
            if case .time(let time)? = asOf {
                judgedAt = time
            } else if through > 0, let last = try reader.storedRecord(at: through) {
                judgedAt = last.recordedAt
            } else {
                judgedAt = ClinicalTime.now
            }
            let projection = ComplianceProjection(policy: policy, judgedAt: judgedAt)
            var voided = Set<[UInt8]>()
            try reader.forEachRecord(inStream: patient) { record in
                guard record.sequence <= through else { return false }
                if record.type == ClinicalEventType.entryVoided.rawValue, record.payloadState.isReadable {
                    voided.insert(Array(EntryVoidedView(fields: PayloadFields(record.payload)).voidedEventId.bytes))
                }
                return true
            }
            var state = projection.makeState(patientId: patient)
            try reader.forEachRecord(inStream: patient) { record in
                guard record.sequence <= through else { return false }
                guard let type = ClinicalEventType(rawValue: record.type), record.payloadState.isReadable,
                      projection.eventTypes.contains(type) else { return true }
                projection.apply(ReplayedEvent(record: record, type: type), voided: voided.contains(Array(record.idBytes)), to: &state)
                return true
            }
            guard !state.forgotten else { return [] }
            return try projection.findings(state).map { pending in
                Finding(rule: pending.rule, patient: patient, session: pending.session,
                        eventId: try reader.storedRecord(at: pending.sequence)?.id ?? "", sequence: pending.sequence, message: pending.message)
            }
        }
    }
}
