import ClinicalRecord
import EventStore
import Foundation

/// The result of a compliance replay, shaped as COMPLIANCE.md's JSON report.
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

    /// Whether any finding has error severity (the replay tool then exits 1).
    public var hasErrors: Bool { findings.contains { $0.severity == .error } }
}

/// The compliance rules as a per-patient projection: facts folded as events come, sessions
/// judged as each patient's record moves past them, the rest at the end.
public struct ComplianceProjection: PatientProjection {
    let rules: RuleBook

    /// - Parameter judgedAt: the time pending windows are judged at (ns since 1970 UTC).
    public init(policy: Policy = Policy(), judgedAt: Int64) {
        rules = RuleBook(policy: policy, judgedAt: judgedAt)
    }

    public var readsEnvelope: Bool { false }
    public var eventTypes: Set<ClinicalEventType> { PatientFacts.types.union([.patientRegistered, .patientForgotten]) }

    public func makeState(patientId: String) -> PatientCompliance { PatientCompliance() }

    public func apply(_ event: ClinicalEvent, voided: Bool, to state: inout PatientCompliance) {
        guard !voided else { return }
        if event.type == .patientForgotten {
            state.forgotten = true
            state.facts = PatientFacts()
            return
        }
        state.facts.add(event, patient: event.patientId, rules: rules)
    }

    /// Judges what is still open and returns every finding of the patient, in log order.
    public func findings(patient: String, _ state: PatientCompliance) -> [Finding] {
        var facts = state.facts
        facts.settleAll(patient: patient, rules: rules)
        return facts.findings.sorted { ($0.sequence, $0.rule.rawValue) < ($1.sequence, $1.rule.rawValue) }
    }
}

/// One patient's compliance facts during a replay.
public struct PatientCompliance: Sendable {
    var facts = PatientFacts()
    /// The patient was forgotten: nothing of theirs is judged.
    public internal(set) var forgotten = false
}

/// Replays the record once, up to an as-of point, and applies every rule to every patient.
public enum ComplianceReplay {
    public static func run(_ store: PatientRecordStore, asOf: AsOf? = nil, policy: Policy = Policy(), progress: TerminalProgress? = nil) throws -> ComplianceReport {
        var findings: [Finding] = []

        // integrity: the chain must verify and every record must decode.
        let verification = try store.events.verify()
        if let bad = verification.firstBadSequence {
            findings.append(Finding(rule: .integrity, patient: "", session: nil, eventId: "", sequence: bad,
                                    message: "The record at sequence \(bad) does not verify: \(verification.problem ?? "unknown damage"). Events from there on are not trusted."))
        } else if let problem = verification.problem {
            findings.append(Finding(rule: .integrity, patient: "", session: nil, eventId: "", sequence: verification.eventsVerified,
                                    message: "The log does not verify: \(problem)."))
        }
        let trustedUpTo = verification.firstBadSequence.map { $0 - 1 } ?? .max

        var forgotten: [String] = []
        let (judgedAt, through, perPatient): (Int64, UInt64, [(String, [Finding])]) = try store.events.read { reader in
            let through = min(try ClinicalReplay.lastSequence(reader, asOf: asOf), trustedUpTo)
            let judgedAt: Int64
            if case .time(let time)? = asOf {
                judgedAt = time
            } else if through > 0, let last = try reader.record(at: through) {
                judgedAt = last.recordedAt
            } else {
                judgedAt = ClinicalTime.now
            }
            let projection = ComplianceProjection(policy: policy, judgedAt: judgedAt)
            var replay = ClinicalReplay()
            let handle = replay.add(projection)
            let result = try replay.run(reader, through: through, progress: progress)
            var perPatient: [(String, [Finding])] = []
            result.forEachState(of: handle) { patient, state in
                if state.forgotten { forgotten.append(patient) } else { perPatient.append((patient, projection.findings(patient: patient, state))) }
            }
            for record in result.unreadable {
                perPatient.append((record.patientId, [Finding(rule: .integrity, patient: record.patientId, session: nil, eventId: record.eventId, sequence: record.sequence,
                                                              message: "The record at sequence \(record.sequence) cannot be read: \(record.reason).")]))
            }
            return (judgedAt, result.through, perPatient)
        }
        let patients = Set(perPatient.map(\.0)).union(forgotten)
        for (_, patientFindings) in perPatient.sorted(by: { $0.0 < $1.0 }) { findings += patientFindings }
        var summary: [String: Int] = [:]
        for finding in findings { summary[finding.rule.rawValue, default: 0] += 1 }
        return ComplianceReport(asOf: ClinicalTime.format(judgedAt), eventsReplayed: Int(through), patients: patients.count, findings: findings, summary: summary,
                                forgottenPatients: forgotten.isEmpty ? nil : forgotten.sorted())
    }
}
