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

    /// Whether any finding has error severity (the replay tool then exits 1).
    public var hasErrors: Bool { findings.contains { $0.severity == .error } }
}

/// Replays the record once, up to an as-of point, and applies every rule to every patient.
public enum ComplianceReplay {
    public static func run(_ store: PatientRecordStore, asOf: AsOf? = nil, policy: Policy = Policy(), progress: TerminalProgress? = nil) throws -> ComplianceReport {
        var findings: [Finding] = []
        var perPatient: [String: [ClinicalEvent]] = [:]
        var voided = Set<String>()
        var replayed = 0
        var lastRecorded: Int64?

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
        let total = try store.events.head()

        try store.events.read { reader in
            try reader.forEachRecord(from: 1) { record in
                guard record.sequence <= trustedUpTo else { return false }
                if let asOf, !asOf.includes(sequence: record.sequence, recordedAt: record.recordedAt) { return false }
                replayed += 1
                lastRecorded = record.recordedAt
                progress?.update(Int(record.sequence), detail: "\(record.sequence) of \(total) events")
                let event: ClinicalEvent?
                do {
                    event = try PatientRecordStore.decode(record)
                } catch {
                    findings.append(Finding(rule: .integrity, patient: record.streamId, session: nil, eventId: record.id, sequence: record.sequence,
                                            message: "The record at sequence \(record.sequence) cannot be read: \(error)."))
                    return true
                }
                guard let event else { return true }
                if let void = event.payload(as: Ketamine_V1_EntryVoided.self) { voided.insert(void.voidedEventID) }
                perPatient[event.patientId, default: []].append(event)
                return true
            }
        }
        progress?.finish()

        let judgedAt: Int64
        if case .time(let time)? = asOf { judgedAt = time } else {
            judgedAt = lastRecorded ?? Int64(Date().timeIntervalSince1970 * 1_000_000_000)
        }
        let rules = RuleBook(policy: policy, judgedAt: judgedAt)
        for patient in perPatient.keys.sorted() {
            var facts = PatientFacts()
            for event in perPatient[patient] ?? [] where !voided.contains(event.id) { facts.add(event) }
            findings += rules.evaluate(patient: patient, facts).sorted { ($0.sequence, $0.rule.rawValue) < ($1.sequence, $1.rule.rawValue) }
        }
        var summary: [String: Int] = [:]
        for finding in findings { summary[finding.rule.rawValue, default: 0] += 1 }
        return ComplianceReport(asOf: ClinicalTime.format(judgedAt), eventsReplayed: replayed, patients: perPatient.count, findings: findings, summary: summary)
    }
}
