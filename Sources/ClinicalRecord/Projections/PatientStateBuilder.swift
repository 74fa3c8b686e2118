import SwiftProtobuf
import Synchronization

/// Folds one patient's events, in stream order, into a ``PatientState``.
///
/// Voided events must be left out by the caller (``PatientRecordStore/patientState(_:asOf:)``
/// collects the voids first); everything else is applied as it comes.
public struct PatientStateBuilder: Sendable {
    /// How many sessions, side effects and points per instrument the state keeps: the latest.
    /// Older ones stay in the log; the state (and its snapshot) stays the same size however long
    /// the patient's history grows.
    static let recentLimit = PatientState.recentKept
    static let pointsKept = PatientState.pointsKept
    /// Dose times kept per plan, for the doses in the last 7 days (more than any weekly limit).
    static let doseTimesKept = 16

    struct ConsentEntry {
        var consent: PatientState.Consent
        var expires: Int64?
    }

    struct PlanDoses {
        var count = 0
        var latestTimes: [Int64] = []
    }

    /// Raw values, formatted only by ``finish(now:)``: replay applies many events and shows few.
    struct Point {
        var time: Int64, total: Int, band: String?
        var rendered: PatientState.InstrumentTrend.Point { .init(at: ClinicalTime.format(time), total: total, band: band, time: time) }
    }

    struct Trend {
        var baseline: Point
        var points: [Point]
    }

    struct SessionRecord {
        struct Check { var systolic, diastolic, heartRate, spo2: Int32; var escort: Bool }
        struct Dose { var mg: Double; var drug, route, setting: Int; var startedAt: Int64 }
        struct Vitals { var at: Int64; var systolic, diastolic, heartRate, spo2: Int32 }
        struct Effect { var severity, kind: Int }
        struct Discharge { var at: Int64; var aldrete: Int32; var escort, drivingAdvice: Bool }
        var planId = ""
        var scheduledFor: Int64?
        var check: Check?
        var dose: Dose?
        var vitals: [Vitals] = []
        var effects: [Effect] = []
        var discharge: Discharge?
        var cancelled: String?
        var remsFormSubmittedAt: Int64?

        func rendered(id: String) -> PatientState.Session {
            var session = PatientState.Session(sessionId: id, planId: planId)
            session.scheduledFor = scheduledFor.map(ClinicalTime.format)
            if let c = check {
                session.check = "BP \(c.systolic)/\(c.diastolic), HR \(c.heartRate), SpO2 \(c.spo2)%, escort \(c.escort ? "present" : "absent")"
            }
            if let d = dose {
                let drug = Ketamine_V1_Drug(rawValue: d.drug) ?? .unspecified
                let route = Ketamine_V1_Route(rawValue: d.route) ?? .unspecified
                let setting = Ketamine_V1_Setting(rawValue: d.setting) ?? .unspecified
                session.dose = "\(d.mg.formatted) mg \(drug.label) \(route.label) (\(setting.label))"
                session.doseStartedAt = ClinicalTime.format(d.startedAt)
            }
            session.vitals = vitals.map { "\(ClinicalTime.format($0.at)) BP \($0.systolic)/\($0.diastolic), HR \($0.heartRate), SpO2 \($0.spo2)%" }
            session.sideEffects = effects.map {
                "\((Ketamine_V1_Severity(rawValue: $0.severity) ?? .unspecified).label) \((Ketamine_V1_SideEffectKind(rawValue: $0.kind) ?? .unspecified).label)"
            }
            if let d = discharge {
                session.discharge = "\(ClinicalTime.format(d.at)) Aldrete \(d.aldrete), escort \(d.escort ? "confirmed" : "not confirmed"), driving advice \(d.drivingAdvice ? "given" : "not given")"
            }
            session.cancelled = cancelled
            session.remsFormSubmittedAt = remsFormSubmittedAt.map(ClinicalTime.format)
            return session
        }
    }

    struct SideEffectRecord {
        var id: String, kind: Int, severity: Int, onset: Int64, sessionId: String?, serious: Bool
        var resolvedAt: Int64?

        var rendered: PatientState.SideEffect {
            .init(sideEffectId: id, kind: (Ketamine_V1_SideEffectKind(rawValue: kind) ?? .unspecified).label,
                  severity: (Ketamine_V1_Severity(rawValue: severity) ?? .unspecified).label,
                  onsetAt: ClinicalTime.format(onset), sessionId: sessionId, serious: serious, resolvedAt: resolvedAt.map(ClinicalTime.format))
        }
    }

    var state: PatientState
    var weightAt: Int64 = .min
    var medications: [String: PatientState.Medication] = [:]
    var medicationOrder: [String] = []
    var evaluationTime: Int64 = .min
    var consents: [String: ConsentEntry] = [:]
    var consentOrder: [String] = []
    var plans: [String: PatientState.Plan] = [:]
    var currentPlanId: String?
    var doseTimes: [String: PlanDoses] = [:]
    /// By instrument raw value.
    var assessments: [Int: Trend] = [:]
    var sideEffects: [String: SideEffectRecord] = [:]
    var sideEffectOrder: [String] = []
    var sessions: [String: SessionRecord] = [:]
    /// Events by type code.
    var typeCounts = [Int](repeating: 0, count: ClinicalEventType.allCases.count + 1)
    var sessionOrder: [String] = []
    /// The stream version and recorded time of the last event applied (for snapshots).
    var streamVersion: UInt64 = 0
    var lastRecordedAt: Int64 = .min

    public var patientId: String { state.patientId }
    /// The sequence of the last event applied.
    public var lastSequence: UInt64 { state.lastSequence }

    init(patientId: String) {
        state = PatientState(patientId: patientId)
    }

    mutating func count(_ event: ClinicalEvent, voided: Bool) {
        state.eventCount += 1
        state.lastSequence = event.sequence
        streamVersion = event.streamVersion
        lastRecordedAt = event.recordedAt
        typeCounts[Int(event.type.rawValue)] += 1
        if voided { state.voidedCount += 1 }
    }

    mutating func countUnknown(sequence: UInt64, streamVersion: UInt64, recordedAt: Int64) {
        state.unknownTypeCount += 1
        state.lastSequence = sequence
        self.streamVersion = streamVersion
        lastRecordedAt = recordedAt
    }

    private mutating func session(_ id: String) -> SessionRecord {
        if let existing = sessions[id] { return existing }
        sessionOrder.append(id)
        state.sessionCount += 1
        if sessionOrder.count > Self.recentLimit {
            sessions[sessionOrder.removeFirst()] = nil
        }
        return SessionRecord()
    }

    private mutating func update(session id: String, _ change: (inout SessionRecord) -> Void) {
        var value = session(id)
        change(&value)
        sessions[id] = value
    }

    private mutating func setWeight(_ kg: Double, at time: Int64) {
        if time >= weightAt {
            weightAt = time
            state.weightKg = kg
        }
    }

    mutating func apply(_ event: ClinicalEvent) {
        var at: String { ClinicalTime.format(event.time) }
        switch event.type {
        case .patientRegistered:
            guard let m = event.message as? Ketamine_V1_PatientRegistered else { break }
            state.demographics.givenName = m.givenName
            state.demographics.familyName = m.familyName
            state.demographics.birthDate = m.birthDate
            state.demographics.sex = m.sex.label
            state.demographics.phone = m.hasPhone ? m.phone : nil
            state.demographics.email = m.hasEmail ? m.email : nil
            setWeight(m.weightKg, at: event.time)
        case .patientDetailsUpdated:
            guard let m = event.message as? Ketamine_V1_PatientDetailsUpdated else { break }
            if m.hasGivenName { state.demographics.givenName = m.givenName }
            if m.hasFamilyName { state.demographics.familyName = m.familyName }
            if m.hasPhone { state.demographics.phone = m.phone }
            if m.hasEmail { state.demographics.email = m.email }
            if m.hasWeightKg { setWeight(m.weightKg, at: event.time) }
        case .medicalHistoryRecorded:
            guard let m = event.message as? Ketamine_V1_MedicalHistoryRecorded else { break }
            state.history.conditions = m.conditions.map { "\($0.code) \($0.display)" }
            medications = [:]
            medicationOrder = []
            for medication in m.medications {
                medicationOrder.append(medication.name)
                medications[medication.name] = .init(name: medication.name, dose: medication.dose, medicationClass: medication.medicationClass.label, status: "current")
            }
            state.history.flags = [
                ("psychosis history", m.psychosisHistory), ("substance use disorder", m.substanceUseDisorder),
                ("pregnant", m.pregnant), ("uncontrolled hypertension", m.uncontrolledHypertension),
                ("aneurysmal vascular disease", m.aneurysmalVascularDisease),
                ("arteriovenous malformation", m.arteriovenousMalformation),
                ("intracerebral hemorrhage history", m.intracerebralHemorrhageHistory),
            ].filter(\.1).map(\.0)
            state.history.recordedAt = at
        case .medicationChanged:
            guard let m = event.message as? Ketamine_V1_MedicationChanged else { break }
            if medications[m.name] == nil { medicationOrder.append(m.name) }
            let previous = medications[m.name]
            medications[m.name] = .init(
                name: m.name, dose: m.hasDose ? m.dose : previous?.dose ?? "",
                medicationClass: m.medicationClass.label,
                status: m.change == .stopped ? "stopped" : m.change == .tapering ? "tapering" : "current")
        case .assessmentRecorded:
            guard let m = event.message as? Ketamine_V1_AssessmentRecorded else { break }
            let score = m.instrument.score(m.itemScores)
            let point = Point(time: event.time, total: score.total, band: score.band)
            var trend = assessments[m.instrument.rawValue] ?? Trend(baseline: point, points: [])
            if point.time < trend.baseline.time { trend.baseline = point }
            // Kept in time order; entries usually arrive in order, so this is an append.
            let index = trend.points.lastIndex { $0.time <= point.time }.map { $0 + 1 } ?? 0
            trend.points.insert(point, at: index)
            if trend.points.count > Self.pointsKept { trend.points.removeFirst() }
            assessments[m.instrument.rawValue] = trend
        case .evaluationCompleted:
            guard let m = event.message as? Ketamine_V1_EvaluationCompleted else { break }
            if event.time >= evaluationTime {
                evaluationTime = event.time
                state.eligibility = .init(
                    evaluationId: m.evaluationID, evaluatedAt: at, eligible: m.eligible, treatmentResistant: m.treatmentResistant,
                    modalities: m.eligibleModalities.map(\.label), diagnoses: m.diagnoses.map { "\($0.code) \($0.display)" },
                    contraindications: m.contraindications)
            }
        case .consentGiven:
            guard let m = event.message as? Ketamine_V1_ConsentGiven else { break }
            if consents[m.consentID] == nil { consentOrder.append(m.consentID) }
            consents[m.consentID] = ConsentEntry(
                consent: .init(consentId: m.consentID, scope: m.scope.label, formVersion: m.formVersion,
                      signedAt: ClinicalTime.format(m.signedAt.nanosecondsSince1970),
                      expiresAt: m.hasExpiresAt ? ClinicalTime.format(m.expiresAt.nanosecondsSince1970) : nil, status: "active"),
                expires: m.hasExpiresAt ? m.expiresAt.nanosecondsSince1970 : nil)
        case .consentWithdrawn:
            guard let m = event.message as? Ketamine_V1_ConsentWithdrawn else { break }
            consents[m.consentID]?.consent.status = "withdrawn"
        case .remsEnrolled:
            guard let m = event.message as? Ketamine_V1_RemsEnrolled else { break }
            state.remsEnrolledAt = ClinicalTime.format(m.enrolledAt.nanosecondsSince1970)
        case .treatmentPlanned:
            guard let m = event.message as? Ketamine_V1_TreatmentPlanned else { break }
            plans[m.planID] = .init(
                planId: m.planID, modality: m.modality.label, phase: m.phase.label, sessionsPlanned: Int(m.sessionsPlanned),
                maxSessionsPerWeek: Int(m.maxSessionsPerWeek), dosesGiven: 0, dosesInLast7Days: 0, startDate: m.startDate)
            currentPlanId = m.planID
        case .sessionScheduled:
            guard let m = event.message as? Ketamine_V1_SessionScheduled else { break }
            update(session: m.sessionID) {
                $0.planId = m.planID
                $0.scheduledFor = m.scheduledFor.nanosecondsSince1970
            }
        case .preSessionCheckRecorded:
            guard let m = event.message as? Ketamine_V1_PreSessionCheckRecorded else { break }
            update(session: m.sessionID) {
                $0.check = .init(systolic: m.bloodPressure.systolic, diastolic: m.bloodPressure.diastolic, heartRate: m.heartRate, spo2: m.spo2, escort: m.escortPresent)
            }
        case .doseAdministered:
            guard let m = event.message as? Ketamine_V1_DoseAdministered else { break }
            doseTimes[m.planID, default: PlanDoses()].count += 1
            doseTimes[m.planID]?.latestTimes.append(m.startedAt.nanosecondsSince1970)
            if let kept = doseTimes[m.planID]?.latestTimes, kept.count > Self.doseTimesKept {
                doseTimes[m.planID]?.latestTimes = Array(kept.sorted().suffix(Self.doseTimesKept))
            }
            setWeight(m.weightKg, at: m.startedAt.nanosecondsSince1970)
            update(session: m.sessionID) {
                $0.planId = m.planID
                $0.dose = .init(mg: m.doseMg, drug: m.drug.rawValue, route: m.route.rawValue, setting: m.setting.rawValue, startedAt: m.startedAt.nanosecondsSince1970)
            }
        case .vitalsRecorded:
            guard let m = event.message as? Ketamine_V1_VitalsRecorded else { break }
            update(session: m.sessionID) {
                $0.vitals.append(.init(at: m.measuredAt.nanosecondsSince1970, systolic: m.bloodPressure.systolic, diastolic: m.bloodPressure.diastolic, heartRate: m.heartRate, spo2: m.spo2))
            }
        case .sideEffectObserved:
            guard let m = event.message as? Ketamine_V1_SideEffectObserved else { break }
            if sideEffects[m.sideEffectID] == nil {
                sideEffectOrder.append(m.sideEffectID)
                state.sideEffectCount += 1
                // Keep the latest, and every one still open.
                if sideEffectOrder.count > Self.recentLimit,
                   let oldest = sideEffectOrder.firstIndex(where: { sideEffects[$0]?.resolvedAt != nil }) {
                    sideEffects[sideEffectOrder.remove(at: oldest)] = nil
                }
            }
            sideEffects[m.sideEffectID] = .init(
                id: m.sideEffectID, kind: m.kind.rawValue, severity: m.severity.rawValue,
                onset: m.onsetAt.nanosecondsSince1970, sessionId: m.hasSessionID ? m.sessionID : nil, serious: m.serious)
            if m.hasSessionID {
                update(session: m.sessionID) { $0.effects.append(.init(severity: m.severity.rawValue, kind: m.kind.rawValue)) }
            }
        case .sideEffectResolved:
            guard let m = event.message as? Ketamine_V1_SideEffectResolved else { break }
            sideEffects[m.sideEffectID]?.resolvedAt = m.resolvedAt.nanosecondsSince1970
        case .patientDischarged:
            guard let m = event.message as? Ketamine_V1_PatientDischarged else { break }
            update(session: m.sessionID) {
                $0.discharge = .init(at: m.dischargedAt.nanosecondsSince1970, aldrete: m.aldreteScore, escort: m.escortConfirmed, drivingAdvice: m.drivingAdviceGiven)
            }
        case .sessionCancelled:
            guard let m = event.message as? Ketamine_V1_SessionCancelled else { break }
            update(session: m.sessionID) { $0.cancelled = m.reason }
        case .remsMonitoringFormSubmitted:
            guard let m = event.message as? Ketamine_V1_RemsMonitoringFormSubmitted else { break }
            update(session: m.sessionID) { $0.remsFormSubmittedAt = m.submittedAt.nanosecondsSince1970 }
        case .patientForgotten:
            guard let m = event.message as? Ketamine_V1_PatientForgotten else { break }
            state.forgotten = PatientState.Forgotten(at: at, by: event.actorId, reason: m.reason)
        default:
            break
        }
    }

    /// The state as judged at `now` (ns since 1970): ages, expiries, the last 7 days.
    public func finish(now: Int64) -> PatientState {
        var result = state
        result.asOf = ClinicalTime.format(now)
        result.demographics.age = age(birthDate: state.demographics.birthDate, at: now)
        result.history.medications = medicationOrder.compactMap { medications[$0] }
        result.consents = consentOrder.compactMap { id in
            guard var entry = consents[id] else { return nil }
            if entry.consent.status == "active", let expires = entry.expires, expires <= now { entry.consent.status = "expired" }
            return entry.consent
        }
        for consent in result.consents where consent.status == "active" {
            result.activeConsentsByScope[consent.scope] = consent.consentId
        }
        if let id = currentPlanId, var plan = plans[id] {
            let doses = doseTimes[id] ?? PlanDoses()
            plan.dosesGiven = doses.count
            plan.dosesInLast7Days = doses.latestTimes.filter { $0 <= now && $0 > now - 7 * ClinicalTime.day }.count
            result.currentPlan = plan
        }
        result.instruments = assessments.keys.sorted().compactMap { raw in
            guard let kept = assessments[raw], let last = kept.points.last else { return nil }
            let instrument = Ketamine_V1_Instrument(rawValue: raw) ?? .unspecified
            let points = kept.points.map(\.rendered), baseline = kept.baseline.rendered, latest = last.rendered
            let previous = points.count > 1 ? points[points.count - 2].total : latest.total
            let trend = latest.total < previous ? "improving" : latest.total > previous ? "worsening" : "stable"
            let isPHQ9 = instrument == .phq9
            return .init(
                instrument: instrument.displayName, baseline: baseline, latest: latest, points: points,
                changeFromBaseline: latest.total - baseline.total, trend: trend,
                response: isPHQ9 ? (baseline.total > 0 && Double(latest.total) <= Double(baseline.total) * 0.5) : nil,
                remission: isPHQ9 ? latest.total < 5 : nil)
        }
        result.sideEffects = sideEffectOrder.compactMap { sideEffects[$0]?.rendered }
        result.openSideEffects = result.sideEffects.filter { $0.resolvedAt == nil }
        result.sessions = sessionOrder.compactMap { id in sessions[id]?.rendered(id: id) }
        for type in ClinicalEventType.allCases where typeCounts[Int(type.rawValue)] > 0 {
            result.countsByType[type.name] = typeCounts[Int(type.rawValue)]
        }
        return result
    }

    private func age(birthDate: String, at now: Int64) -> Int? {
        guard ClinicalTime.isDate(birthDate), let born = ClinicalTime.parse(birthDate + "T00:00:00Z") else { return nil }
        let today = ClinicalTime.format(now)
        guard let year = Int(today.prefix(4)), let bornYear = Int(birthDate.prefix(4)) else { return nil }
        let hadBirthday = today.dropFirst(5).prefix(5) >= birthDate.dropFirst(5).prefix(5)
        return born <= now ? year - bornYear - (hadBirthday ? 0 : 1) : nil
    }
}

extension SwiftProtobuf.Enum {
    /// The value as written in EVENTS.md: `SIDE_EFFECT_KIND_SEDATION` reads `sedation`.
    /// Worked out once per case (reflection is slow) and then read from a table.
    var label: String {
        let key = EnumLabelKey(type: ObjectIdentifier(Self.self), rawValue: rawValue)
        if let known = enumLabels.withLock({ $0[key] }) { return known }
        let text = String(describing: self)
        var out = ""
        for character in text {
            if character.isUppercase {
                out += "_" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        enumLabels.withLock { $0[key] = out }
        return out
    }
}

private struct EnumLabelKey: Hashable {
    let type: ObjectIdentifier
    let rawValue: Int
}

private let enumLabels = Mutex<[EnumLabelKey: String]>([:])

extension Double {
    var formatted: String {
        self == rounded() ? String(Int(self)) : String(self)
    }
}
