import Foundation

/// One patient's current state, rebuilt from their events (voided events left out), judged at a
/// time: the folded record (``record``, typed: times in ns since 1970, enums as enums) and what
/// it means at ``judgedAt`` (age, consents in force, the current plan's progress, outcomes).
///
/// Nothing here is text to show: the command line renders it (as a table, JSON or a page).
public struct PatientState: Sendable, Hashable {
    /// Everything the patient's events say, as folded (also what a snapshot stores).
    public let record: Ketamine_V1_PatientState
    /// The time the state is judged at, ns since 1970 UTC.
    public let judgedAt: Int64

    /// The state of a folded record, judged at `judgedAt` (ns since 1970 UTC).
    public init(record: Ketamine_V1_PatientState, judgedAt: Int64) {
        self.record = record
        self.judgedAt = judgedAt
    }

    public var patientId: String { record.patientID }
    /// Set when the patient was forgotten (their data key destroyed): their earlier events can no
    /// longer be read, so everything else is empty.
    public var forgotten: Ketamine_V1_Forgotten? { record.hasForgotten ? record.forgotten : nil }
    public var registration: Ketamine_V1_PatientRegistered? { record.hasRegistration ? record.registration : nil }
    /// The latest weight (registration, updates, doses).
    public var weightKg: Double? { record.hasWeightKg ? record.weightKg : nil }
    public var history: Ketamine_V1_MedicalHistoryRecorded? { record.hasHistory ? record.history : nil }
    public var evaluation: Ketamine_V1_EvaluationCompleted? { record.hasEvaluation ? record.evaluation : nil }

    /// Age in whole years on the UTC date of ``judgedAt`` (a 29 February birthday counts from
    /// 1 March in other years), or `nil` without a valid birth date.
    public var age: Int? {
        guard let registration else { return nil }
        return Self.age(birthDate: registration.birthDate, at: judgedAt)
    }

    /// Whole years from `birthDate` (YYYY-MM-DD) to the UTC date of `time`.
    public static func age(birthDate: String, at time: Int64) -> Int? {
        ClinicalTime.date(birthDate).flatMap { age(born: $0, at: time) }
    }

    /// Whole years from the date `born` to the UTC date of `time`.
    public static func age(born: (year: Int64, month: Int64, day: Int64), at time: Int64) -> Int? {
        let today = ClinicalTime.utcDate(time)
        var years = today.year - born.year
        if (today.month, today.day) < (born.month, born.day) { years -= 1 }
        return years >= 0 ? Int(years) : nil
    }

    /// A consent and whether it is in force at ``judgedAt``.
    public struct ConsentStatus: Sendable, Hashable {
        public enum Status: String, Sendable { case active, withdrawn, expired }
        public let consent: Ketamine_V1_ConsentGiven
        public let status: Status
        public let withdrawnAt: Int64?
    }

    public var consents: [ConsentStatus] {
        record.consents.map { entry in
            let status: ConsentStatus.Status = entry.withdrawnAt != 0 && entry.withdrawnAt <= judgedAt ? .withdrawn
                : entry.consent.hasExpiresAt && entry.consent.expiresAt.nanosecondsSince1970 <= judgedAt ? .expired : .active
            return ConsentStatus(consent: entry.consent, status: status, withdrawnAt: entry.withdrawnAt == 0 ? nil : entry.withdrawnAt)
        }
    }

    /// The current plan (the latest by start date) and its progress at ``judgedAt``.
    public struct PlanProgress: Sendable, Hashable {
        public let plan: Ketamine_V1_TreatmentPlanned
        public let dosesGiven: Int
        public let dosesInLast7Days: Int
        public let firstDoseAt: Int64?
    }

    public var currentPlan: PlanProgress? {
        guard let entry = record.plans.first(where: { $0.plan.planID == record.currentPlanID }) else { return nil }
        let week = 7 * ClinicalTime.day
        return PlanProgress(plan: entry.plan, dosesGiven: Int(entry.dosesGiven),
                            dosesInLast7Days: entry.recentDoseTimes.filter { $0 <= judgedAt && $0 > judgedAt - week }.count,
                            firstDoseAt: entry.firstDoseAt == 0 ? nil : entry.firstDoseAt)
    }

    public var medications: [Ketamine_V1_CurrentMedication] { record.medications }
    public var sessions: [Ketamine_V1_SessionEntry] { record.sessions }
    /// Whether older sessions exist than the ``sessions`` kept.
    public var showsLatestSessionsOnly: Bool { record.sessionCount > UInt64(record.sessions.count) }
    public var sideEffects: [Ketamine_V1_SideEffectEntry] { record.sideEffects }
    public var openSideEffects: [Ketamine_V1_SideEffectEntry] { record.sideEffects.filter { $0.resolvedAt == 0 || $0.resolvedAt > judgedAt } }

    /// Each instrument's scores and what they mean (docs/EVENTS.md, outcomes), by instrument.
    public var instruments: [InstrumentOutcome] {
        record.instruments.sorted { $0.instrument.rawValue < $1.instrument.rawValue }.compactMap { InstrumentOutcome($0, plan: currentPlan) }
    }

    /// Events in the stream (voided ones and voids included), by type.
    public var countsByType: [ClinicalEventType: Int] {
        var out: [ClinicalEventType: Int] = [:]
        for type in ClinicalEventType.allCases where Int(type.rawValue) < record.countsByType.count {
            let count = record.countsByType[Int(type.rawValue)]
            if count > 0 { out[type] = Int(count) }
        }
        return out
    }
}

/// One instrument's scores: baseline, latest, trend, and the outcomes docs/EVENTS.md defines.
public struct InstrumentOutcome: Sendable, Hashable {
    /// Whether an outcome holds, or why it cannot be said.
    public enum Verdict: String, Sendable, Hashable {
        case yes, no
        /// The baseline is below the instrument's moderate band: the outcome means nothing.
        case notApplicable = "not applicable"
        /// No score at or before the current plan's first dose.
        case noBaseline = "no baseline"
    }

    public enum Trend: String, Sendable, Hashable { case improving, worsening, stable }

    public let instrument: Ketamine_V1_Instrument
    /// The latest score at or before the current plan's first dose (before any plan or dose: the
    /// earliest score); `nil` when there is none before that dose.
    public let baseline: Ketamine_V1_Score?
    public let latest: Ketamine_V1_Score
    /// The latest scores, in time order.
    public let recent: [Ketamine_V1_Score]
    /// The latest against the one before it, read in the instrument's direction (MOAA/S: up is better).
    public let trend: Trend
    /// Latest at least 50% below the baseline; `nil` for instruments without outcomes.
    public let response: Verdict?
    /// Latest at or below the instrument's remission cut-off; `nil` for instruments without outcomes.
    public let remission: Verdict?

    public var changeFromBaseline: Int? { baseline.map { Int(latest.total) - Int($0.total) } }

    init?(_ scores: Ketamine_V1_InstrumentScores, plan: PatientState.PlanProgress?) {
        guard let latest = scores.recent.last else { return nil }
        instrument = scores.instrument
        self.latest = latest
        recent = scores.recent
        let baseline: Ketamine_V1_Score?
        if let plan, let firstDose = plan.firstDoseAt {
            let sameDose = scores.baselinePlanID == plan.plan.planID && scores.baselineDoseAt == firstDose
            baseline = sameDose && scores.hasBaseline ? scores.baseline : scores.recent.last { $0.at <= firstDose }
        } else if plan != nil {
            // A plan with no dose yet: its baseline is whatever comes last before its first dose.
            baseline = latest
        } else {
            baseline = scores.hasEarliest ? scores.earliest : nil
        }
        self.baseline = baseline
        let previous = scores.recent.count > 1 ? scores.recent[scores.recent.count - 2].total : latest.total
        let better = scores.instrument.higherIsBetter ? latest.total > previous : latest.total < previous
        trend = latest.total == previous ? .stable : better ? .improving : .worsening
        guard let rule = scores.instrument.outcomeRule else {
            response = nil
            remission = nil
            return
        }
        guard let baseline else {
            response = .noBaseline
            remission = .noBaseline
            return
        }
        if baseline.total < rule.minimumBaseline {
            response = .notApplicable
            remission = .notApplicable
        } else {
            response = 2 * latest.total <= baseline.total ? .yes : .no
            remission = latest.total <= rule.remissionAtMost ? .yes : .no
        }
    }
}
