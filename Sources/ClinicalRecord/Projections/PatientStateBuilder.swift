import Foundation
import SwiftProtobuf

/// Folds one patient's events, in stream order, into their typed state
/// (`Ketamine_V1_PatientState`, schemas/ketamine/v1/snapshot.proto).
///
/// The state is the snapshot: what is folded here is what a snapshot stores, through the
/// generated protobuf mapping, with no hand-written mirror. Times stay integers and enums stay
/// enums; text is made only where the state is shown (the command line). Voided events are
/// counted but not applied (``PatientStateProjection``).
public struct PatientStateBuilder: Sendable {
    /// How many sessions and side effects the state keeps (the latest), and scores per instrument:
    /// about three months of weekly maintenance. The rest stay in the log; the state (and its
    /// snapshot) stays the same size however long the history grows.
    public static let recentKept = 12
    public static let scoresKept = 26
    /// Dose times kept per plan, for the doses in the last 7 days (more than any weekly limit).
    static let doseTimesKept = 16

    /// The state as folded so far.
    public internal(set) var state: Ketamine_V1_PatientState

    public var patientId: String { state.patientID }
    /// The sequence of the last event applied.
    public var lastSequence: UInt64 { state.lastSequence }
    public var streamVersion: UInt64 { state.streamVersion }

    init(patientId: String) {
        state = Ketamine_V1_PatientState()
        state.patientID = patientId
        state.countsByType = [UInt64](repeating: 0, count: ClinicalEventType.allCases.count + 1)
    }

    init(state: Ketamine_V1_PatientState) {
        self.state = state
        let types = ClinicalEventType.allCases.count + 1
        if self.state.countsByType.count < types {
            self.state.countsByType += [UInt64](repeating: 0, count: types - self.state.countsByType.count)
        }
    }

    /// Counts an event (voided ones too) and moves the state's position to it.
    mutating func count(_ event: ReplayedEvent, voided: Bool) {
        state.eventCount += 1
        state.lastSequence = event.sequence
        state.streamVersion = event.streamVersion
        state.lastRecordedAt = event.recordedAt
        state.countsByType[Int(event.type.rawValue)] += 1
        if voided { state.voidedCount += 1 }
    }

    mutating func countUnknown(_ record: UnknownRecord) {
        state.unknownTypeCount += 1
        state.lastSequence = record.sequence
        state.streamVersion = record.streamVersion
        state.lastRecordedAt = record.recordedAt
    }

    /// Applies one event that is not voided.
    mutating func apply(_ event: ReplayedEvent) {
        let time = event.time
        switch event.payload {
        case .patientRegistered(let v):
            state.registration = v.message
            setWeight(v.weightKg, at: time)
        case .patientDetailsUpdated(let v):
            let m = v.message
            if m.hasGivenName { state.registration.givenName = m.givenName }
            if m.hasFamilyName { state.registration.familyName = m.familyName }
            if m.hasPhone { state.registration.phone = m.phone }
            if m.hasEmail { state.registration.email = m.email }
            if let weight = v.weightKg { setWeight(weight, at: time) }
        case .medicalHistoryRecorded(let v):
            let m = v.message
            state.history = m
            state.historyAt = time
            state.medications = m.medications.map { medication in
                var current = Ketamine_V1_CurrentMedication()
                current.name = medication.name
                current.dose = medication.dose
                current.medicationClass = medication.medicationClass
                current.status = .current
                current.changedAt = time
                return current
            }
        case .medicationChanged(let v):
            changeMedication(v, at: time)
        case .assessmentRecorded(let v):
            let score = v.instrument.score(v.itemScores)
            addScore(instrument: v.instrument, at: time, total: Int32(score.total), flags: score.flagsSuicideRisk,
                     level: v.instrument.bands.isEmpty ? score.band : nil)
        case .evaluationCompleted(let v):
            if !state.hasEvaluation || time >= state.evaluationAt {
                state.evaluation = v.message
                state.evaluationAt = time
            }
        case .consentGiven(let v):
            var entry = Ketamine_V1_ConsentEntry()
            entry.consent = v.message
            if let index = state.consents.firstIndex(where: { v.consentId.equals($0.consent.consentID) }) {
                entry.withdrawnAt = state.consents[index].withdrawnAt
                entry.withdrawalReason = state.consents[index].withdrawalReason
                state.consents[index] = entry
            } else {
                state.consents.append(entry)
            }
        case .consentWithdrawn(let v):
            if let index = state.consents.firstIndex(where: { v.consentId.equals($0.consent.consentID) }), state.consents[index].withdrawnAt == 0 {
                state.consents[index].withdrawnAt = time
                state.consents[index].withdrawalReason = v.reason.string
            }
        case .remsEnrolled(let v):
            if state.remsEnrolledAt == 0 || v.enrolledAt < state.remsEnrolledAt { state.remsEnrolledAt = v.enrolledAt }
        case .treatmentPlanned(let v):
            addPlan(v, sequence: event.sequence)
        case .sessionScheduled(let v):
            updateSession(v.sessionId) { session in
                session.planID = v.planId.string
                session.scheduledFor = v.scheduledFor
            }
        case .preSessionCheckRecorded(let v):
            updateSession(v.sessionId) { $0.check = v.message }
        case .doseAdministered(let v):
            addDose(v)
        case .vitalsRecorded(let v):
            updateSession(v.sessionId) { session in
                let reading = v.message
                let index = session.vitals.lastIndex { $0.measuredAt.nanosecondsSince1970 <= v.measuredAt }.map { $0 + 1 } ?? 0
                session.vitals.insert(reading, at: index)
            }
        case .sideEffectObserved(let v):
            addSideEffect(v)
        case .sideEffectResolved(let v):
            if let index = state.sideEffects.firstIndex(where: { v.sideEffectId.equals($0.observed.sideEffectID) }),
               state.sideEffects[index].resolvedAt == 0 {
                state.sideEffects[index].resolvedAt = v.resolvedAt
            }
        case .patientDischarged(let v):
            updateSession(v.sessionId) { session in
                // Discharged twice: the first discharge stands (as for the rules).
                if !session.hasDischarge || v.dischargedAt < session.discharge.dischargedAt.nanosecondsSince1970 {
                    session.discharge = v.message
                }
            }
        case .sessionCancelled(let v):
            updateSession(v.sessionId) { $0.cancelledReason = v.reason.string }
        case .remsMonitoringFormSubmitted(let v):
            updateSession(v.sessionId) { session in
                if session.remsFormSubmittedAt == 0 || v.submittedAt < session.remsFormSubmittedAt { session.remsFormSubmittedAt = v.submittedAt }
            }
        case .patientForgotten(let v):
            var forgotten = Ketamine_V1_Forgotten()
            forgotten.at = time
            forgotten.by = event.actorId
            forgotten.reason = v.reason.string
            state.forgotten = forgotten
        case .drugWasted, .entryVoided, .recordAccessed:
            break // counted only: the state shows what was given, and who read what is the audit trail's
        }
    }

    private mutating func setWeight(_ kg: Double, at time: Int64) {
        if !state.hasWeightKg || time >= state.weightAt {
            state.weightAt = time
            state.weightKg = kg
        }
    }

    // MARK: Medications

    /// Matched by name, trimmed and ignoring case (as the rules match them); `started` and
    /// `dose_changed` add or keep one, `tapering` and `stopped` mark one the list holds.
    private mutating func changeMedication(_ v: MedicationChangedView, at time: Int64) {
        let name = v.name.string
        let key = Self.medicationKey(name)
        let index = state.medications.firstIndex { Self.medicationKey($0.name) == key }
        let status: Ketamine_V1_MedicationStatus
        switch v.change {
        case .started, .doseChanged: status = .current
        case .tapering: status = .tapering
        case .stopped: status = .stopped
        case .unspecified, .UNRECOGNIZED: return
        }
        guard let index else {
            guard status == .current else { return }
            var current = Ketamine_V1_CurrentMedication()
            current.name = name
            current.dose = v.dose?.string ?? ""
            current.medicationClass = v.medicationClass
            current.status = .current
            current.changedAt = time
            state.medications.append(current)
            return
        }
        state.medications[index].status = status
        state.medications[index].medicationClass = v.medicationClass
        state.medications[index].changedAt = time
        if let dose = v.dose { state.medications[index].dose = dose.string }
    }

    static func medicationKey(_ name: String) -> String {
        name.trimmingCharacters(in: .whitespaces).lowercased()
    }

    // MARK: Plans and doses

    private mutating func addPlan(_ v: TreatmentPlannedView, sequence: UInt64) {
        // A plan id recorded twice: the first plan counts.
        guard !state.plans.contains(where: { v.planId.equals($0.plan.planID) }) else { return }
        var entry = Ketamine_V1_PlanEntry()
        entry.plan = v.message
        entry.recordedSequence = sequence
        state.plans.append(entry)
        state.currentPlanID = Self.latestPlan(state.plans)?.plan.planID ?? ""
        rebaseline()
    }

    /// The patient's latest plan: by start date, then by the order recorded.
    static func latestPlan(_ plans: [Ketamine_V1_PlanEntry]) -> Ketamine_V1_PlanEntry? {
        plans.max { ($0.plan.startDate, $0.recordedSequence) < ($1.plan.startDate, $1.recordedSequence) }
    }

    private mutating func addDose(_ v: DoseAdministeredView) {
        let startedAt = v.startedAt
        setWeight(v.weightKg, at: startedAt)
        var earlierFirstDose = false
        if let index = state.plans.firstIndex(where: { v.planId.equals($0.plan.planID) }) {
            state.plans[index].dosesGiven += 1
            if state.plans[index].firstDoseAt == 0 || startedAt < state.plans[index].firstDoseAt {
                state.plans[index].firstDoseAt = startedAt
                earlierFirstDose = state.plans[index].plan.planID == state.currentPlanID
            }
            var times = state.plans[index].recentDoseTimes
            let at = times.lastIndex { $0 <= startedAt }.map { $0 + 1 } ?? 0
            times.insert(startedAt, at: at)
            if times.count > Self.doseTimesKept { times.removeFirst(times.count - Self.doseTimesKept) }
            state.plans[index].recentDoseTimes = times
        }
        updateSession(v.sessionId) { session in
            session.planID = v.planId.string
            session.dose = v.message
        }
        if earlierFirstDose { rebaseline() }
    }

    // MARK: Sessions

    private mutating func updateSession(_ id: Text, _ change: (inout Ketamine_V1_SessionEntry) -> Void) {
        if let index = state.sessions.lastIndex(where: { id.equals($0.sessionID) }) {
            change(&state.sessions[index])
            return
        }
        var session = Ketamine_V1_SessionEntry()
        session.sessionID = id.string
        change(&session)
        state.sessions.append(session)
        state.sessionCount += 1
        if state.sessions.count > Self.recentKept { state.sessions.removeFirst(state.sessions.count - Self.recentKept) }
    }

    private mutating func addSideEffect(_ v: SideEffectObservedView) {
        let observed = v.message
        if let index = state.sideEffects.firstIndex(where: { v.sideEffectId.equals($0.observed.sideEffectID) }) {
            state.sideEffects[index].observed = observed
        } else {
            var entry = Ketamine_V1_SideEffectEntry()
            entry.observed = observed
            state.sideEffects.append(entry)
            state.sideEffectCount += 1
            // Keep the latest, and every one still open.
            if state.sideEffects.count > Self.recentKept, let oldest = state.sideEffects.firstIndex(where: { $0.resolvedAt != 0 }) {
                state.sideEffects.remove(at: oldest)
            }
        }
        if let session = v.sessionId {
            updateSession(session) { $0.sideEffects.append(observed) }
        }
    }

    // MARK: Scores and baselines

    private mutating func addScore(instrument: Ketamine_V1_Instrument, at time: Int64, total: Int32, flags: Bool, level: String?) {
        var score = Ketamine_V1_Score()
        score.at = time
        score.total = total
        score.flagsSuicideRisk = flags
        if let level { score.level = level }
        let index: Int
        if let existing = state.instruments.firstIndex(where: { $0.instrument == instrument }) {
            index = existing
        } else {
            var scores = Ketamine_V1_InstrumentScores()
            scores.instrument = instrument
            state.instruments.append(scores)
            index = state.instruments.count - 1
        }
        var scores = state.instruments[index]
        if !scores.hasEarliest || time < scores.earliest.at { scores.earliest = score }
        let at = scores.recent.lastIndex { $0.at <= time }.map { $0 + 1 } ?? 0
        scores.recent.insert(score, at: at)
        if scores.recent.count > Self.scoresKept {
            // A score leaving the window may still be the baseline of the current plan.
            let leaving = scores.recent.removeFirst()
            Self.offerBaseline(leaving, to: &scores, plan: currentPlan)
        }
        Self.offerBaseline(score, to: &scores, plan: currentPlan)
        state.instruments[index] = scores
    }

    private var currentPlan: Ketamine_V1_PlanEntry? {
        state.plans.first { $0.plan.planID == state.currentPlanID }
    }

    /// Keeps the latest score at or before the current plan's first dose as the baseline.
    private static func offerBaseline(_ score: Ketamine_V1_Score, to scores: inout Ketamine_V1_InstrumentScores, plan: Ketamine_V1_PlanEntry?) {
        guard let plan, plan.firstDoseAt != 0, score.at <= plan.firstDoseAt else { return }
        let same = scores.baselinePlanID == plan.plan.planID && scores.baselineDoseAt == plan.firstDoseAt
        if !same || !scores.hasBaseline || score.at >= scores.baseline.at {
            scores.baseline = score
            scores.baselinePlanID = plan.plan.planID
            scores.baselineDoseAt = plan.firstDoseAt
        }
    }

    /// The current plan or its first dose changed: each baseline is found again among the scores kept.
    private mutating func rebaseline() {
        let plan = currentPlan
        for index in state.instruments.indices {
            var scores = state.instruments[index]
            let previous = scores.hasBaseline ? scores.baseline : nil
            scores.clearBaseline()
            scores.baselinePlanID = ""
            scores.baselineDoseAt = 0
            for score in (previous.map { [$0] } ?? []) + scores.recent { Self.offerBaseline(score, to: &scores, plan: plan) }
            state.instruments[index] = scores
        }
    }
}

/// The header of an event whose type this version does not know.
public struct UnknownRecord: Sendable {
    public let sequence: UInt64
    public let streamVersion: UInt64
    public let typeCode: UInt16
    public let recordedAt: Int64
}
