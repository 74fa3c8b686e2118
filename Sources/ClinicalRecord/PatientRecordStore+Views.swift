import EventStore
import Foundation

extension PatientRecordStore {
    /// The patient's state rebuilt from their events, voided events left out, optionally as of
    /// a sequence or recorded time. `nil` when the patient has no events (up to that point).
    ///
    /// - Parameters:
    ///   - patientId: the patient (their stream id, compared as bytes).
    ///   - asOf: a sequence or recorded time to stop at; the head by default.
    ///   - now: the time to judge expiries, ages and "the last 7 days" at; by default the as-of
    ///     time, or the current time.
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
    /// stay in the trail, marked with the void that voided them. Holds the whole trail in memory:
    /// for a large store, use ``forEachAuditEntry(_:rendering:_:)``.
    public func auditTrail(_ query: AuditQuery = AuditQuery()) throws -> [AuditEntry] {
        var entries: [AuditEntry] = []
        try forEachAuditEntry(query, rendering: { $0 }) { entries.append($0) }
        return entries
    }

    /// Streams the audit trail: each entry that matches `query`, in log order, turned into `T` by
    /// `rendering` and handed to `body` on the calling thread. Memory does not grow with the
    /// store (with `query.limit`, it holds that many rendered entries).
    ///
    /// For the whole store, events are decoded, summarised and rendered on several threads at
    /// once (`rendering` must be safe to call concurrently); one patient's trail is read from
    /// their stream alone. Whether an entry was voided comes from the clinical-references index
    /// (a void's entry is written with it), so the trail is one pass over the log.
    public func forEachAuditEntry<T: Sendable>(
        _ query: AuditQuery = AuditQuery(), rendering: @escaping @Sendable (AuditEntry) throws -> T, _ body: (T) throws -> Void
    ) throws {
        var kept: [T] = []
        var keptStart = 0
        func consume(_ value: T?) throws -> Bool {
            guard let value else { return true }
            guard let limit = query.limit else {
                try body(value)
                return true
            }
            // The last `limit` entries: a ring of that many.
            guard limit > 0 else { return true }
            if kept.count < limit {
                kept.append(value)
            } else {
                kept[keptStart] = value
                keptStart = (keptStart + 1) % limit
            }
            return true
        }
        try events.read { reader in
            var voids = BytesTable<String>()
            for (voided, void) in try References.voids(reader, patient: query.patientId) {
                voided.withUnsafeBytes { voids.set($0, String(decoding: void, as: UTF8.self)) }
            }
            let voidedBy = voids
            let entry = { @Sendable (record: EventRecordView) throws -> T? in
                guard let event = try EventCodec.decode(record, forgotten: true) else { return nil }
                var entry = AuditSummary.entry(for: event)
                guard query.matches(entry) else { return nil }
                entry.voidedBy = voidedBy.count == 0 ? nil : voidedBy[record.idBytes]
                return try rendering(entry)
            }
            if let patient = query.patientId {
                try reader.forEachRecord(inStream: patient) { record in try consume(entry(record)) }
            } else {
                try reader.forEachRecordTransformed(entry, consume: consume)
            }
        }
        for index in kept.indices { try body(kept[(keptStart + index) % kept.count]) }
    }

    /// The HIPAA accounting of disclosures for one patient: every disclosure in the 6 years up to
    /// `now` (date, recipient, description, purpose), oldest first. A disclosure voided later
    /// stays (it was made), marked with the void.
    public func disclosures(of patientId: String, now: Int64? = nil) throws -> [Disclosure] {
        let end = now ?? ClinicalTime.now
        let start = end - 6 * 365 * ClinicalTime.day - 2 * ClinicalTime.day // 6 years, leap days included
        return try auditTrail(AuditQuery(patientId: patientId, types: ["RecordAccessed"])).compactMap { entry in
            guard entry.purpose == "disclosure", let recipient = entry.disclosedTo,
                  let time = ClinicalTime.parse(entry.occurredAt), time >= start, time <= end else { return nil }
            return Disclosure(date: entry.occurredAt, recipient: recipient, description: entry.accessDescription ?? entry.summary,
                              purpose: entry.purpose ?? "disclosure", actorId: entry.actorId, eventId: entry.eventId, voidedBy: entry.voidedBy)
        }
    }
}
