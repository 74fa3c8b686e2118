import EventStore
import Foundation

extension PatientRecordStore {
    /// The patient's state rebuilt from their events, voided events left out, optionally as of
    /// a sequence or recorded time. `nil` when the patient has no events (up to that point).
    ///
    /// - Parameter now: the time to judge expiries, ages and "the last 7 days" at; by default the
    ///   as-of time, or the current time.
    public func patientState(_ patientId: String, asOf: AsOf? = nil, now: Int64? = nil) throws -> PatientState? {
        let builder = try events.read { reader -> PatientStateBuilder? in
            let through = try ClinicalReplay.lastSequence(reader, asOf: asOf)
            // The snapshot when it is not past the as-of point, then the events since it.
            let snapshot = try PatientSnapshots.load(patientId, reader).flatMap { $0.lastSequence <= through ? $0 : nil }
            return try foldState(patientId, reader, from: snapshot, through: through)
        }
        guard let builder else { return nil }
        let judgedAt: Int64
        if let now { judgedAt = now } else if case .time(let time)? = asOf { judgedAt = time } else {
            judgedAt = ClinicalTime.now
        }
        return PatientState(record: builder.state, judgedAt: judgedAt)
    }

    /// The audit trail: one entry per event, in log order, that matches `query`. Voided entries
    /// stay in the trail, marked with the void that voided them.
    public func auditTrail(_ query: AuditQuery = AuditQuery()) throws -> [AuditEntry] {
        var entries: [AuditEntry] = []
        var voids: [String: String] = [:]
        let collect = { (event: ClinicalEvent) -> Bool in
            if let void = event.payload(as: Ketamine_V1_EntryVoided.self) { voids[void.voidedEventID] = event.id }
            let entry = AuditSummary.entry(for: event)
            if query.matches(entry) { entries.append(entry) }
            return true
        }
        if let patient = query.patientId {
            for event in try events(ofPatient: patient) { _ = collect(event) }
        } else {
            try forEachEvent(collect)
        }
        for index in entries.indices { entries[index].voidedBy = voids[entries[index].eventId] }
        if let limit = query.limit, entries.count > limit { entries.removeFirst(entries.count - limit) }
        return entries
    }

    /// The HIPAA accounting of disclosures for one patient: every disclosure in the 6 years up to
    /// `now` (date, recipient, description, purpose), oldest first; voided disclosures left out.
    public func disclosures(of patientId: String, now: Int64? = nil) throws -> [Disclosure] {
        let end = now ?? ClinicalTime.now
        let start = end - 6 * 365 * ClinicalTime.day - 2 * ClinicalTime.day // 6 years, leap days included
        return try auditTrail(AuditQuery(patientId: patientId, types: ["RecordAccessed"])).compactMap { entry in
            guard entry.voidedBy == nil, entry.purpose == "disclosure", let recipient = entry.disclosedTo,
                  let time = ClinicalTime.parse(entry.occurredAt), time >= start, time <= end else { return nil }
            return Disclosure(date: entry.occurredAt, recipient: recipient, description: entry.accessDescription ?? entry.summary, purpose: entry.purpose ?? "disclosure", actorId: entry.actorId, eventId: entry.eventId)
        }
    }
}
