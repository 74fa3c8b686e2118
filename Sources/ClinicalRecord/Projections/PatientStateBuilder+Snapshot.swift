import SwiftProtobuf

/// The builder to and from its stored snapshot (`schemas/ketamine/v1/snapshot.proto`): binary
/// protobuf, so loading a patient or catching up decodes a snapshot in microseconds.
extension PatientStateBuilder {
    typealias Snapshot = Ketamine_V1_PatientStateSnapshot

    var snapshot: Snapshot {
        var s = Snapshot()
        s.patientID = state.patientId
        let d = state.demographics
        s.givenName = d.givenName
        s.familyName = d.familyName
        s.birthDate = d.birthDate
        s.sex = d.sex
        if let phone = d.phone { s.phone = phone }
        if let email = d.email { s.email = email }
        if let weight = state.weightKg { s.weightKg = weight }
        s.weightAt = weightAt
        s.conditions = state.history.conditions
        s.historyFlags = state.history.flags
        if let at = state.history.recordedAt { s.historyRecordedAt = at }
        s.medications = medicationOrder.compactMap { medications[$0] }.map { m in
            var out = Snapshot.Medication()
            out.name = m.name
            out.dose = m.dose
            out.medicationClass = m.medicationClass
            out.status = m.status
            return out
        }
        if let e = state.eligibility {
            var out = Snapshot.Eligibility()
            out.evaluationID = e.evaluationId
            out.evaluatedAt = e.evaluatedAt
            out.eligible = e.eligible
            out.treatmentResistant = e.treatmentResistant
            out.modalities = e.modalities
            out.diagnoses = e.diagnoses
            out.contraindications = e.contraindications
            s.eligibility = out
        }
        s.evaluationTime = evaluationTime
        s.consents = consentOrder.compactMap { consents[$0] }.map { entry in
            var out = Snapshot.Consent()
            out.consentID = entry.consent.consentId
            out.scope = entry.consent.scope
            out.formVersion = entry.consent.formVersion
            out.signedAt = entry.consent.signedAt
            if let at = entry.consent.expiresAt { out.expiresAt = at }
            out.status = entry.consent.status
            if let expires = entry.expires { out.expires = expires }
            return out
        }
        if let at = state.remsEnrolledAt { s.remsEnrolledAt = at }
        for id in Set(plans.keys).union(doseTimes.keys).sorted() {
            var out = Snapshot.Plan()
            out.planID = id
            if let plan = plans[id] {
                out.defined = true
                out.modality = plan.modality
                out.phase = plan.phase
                out.sessionsPlanned = Int64(plan.sessionsPlanned)
                out.maxSessionsPerWeek = Int64(plan.maxSessionsPerWeek)
                out.startDate = plan.startDate
            }
            if let doses = doseTimes[id] {
                out.dosesGiven = Int64(doses.count)
                out.latestDoseTimes = doses.latestTimes
            }
            s.plans.append(out)
        }
        if let id = currentPlanId { s.currentPlanID = id }
        func point(_ p: Point) -> Snapshot.Point {
            var out = Snapshot.Point()
            out.time = p.time
            out.total = Int64(p.total)
            if let band = p.band { out.band = band }
            return out
        }
        s.trends = assessments.keys.sorted().compactMap { raw in
            guard let trend = assessments[raw] else { return nil }
            var out = Snapshot.Trend()
            out.instrument = Int32(raw)
            out.baseline = point(trend.baseline)
            out.points = trend.points.map(point)
            return out
        }
        s.sideEffects = sideEffectOrder.compactMap { sideEffects[$0] }.map { e in
            var out = Snapshot.SideEffect()
            out.id = e.id
            out.kind = Int32(e.kind)
            out.severity = Int32(e.severity)
            out.onset = e.onset
            if let session = e.sessionId { out.sessionID = session }
            out.serious = e.serious
            if let at = e.resolvedAt { out.resolvedAt = at }
            return out
        }
        s.sessions = sessionOrder.compactMap { id in sessions[id].map { (id, $0) } }.map { id, r in
            var out = Snapshot.Session()
            out.id = id
            out.planID = r.planId
            if let at = r.scheduledFor { out.scheduledFor = at }
            if let c = r.check {
                out.hasCheck_p = true
                out.checkSystolic = c.systolic
                out.checkDiastolic = c.diastolic
                out.checkHeartRate = c.heartRate
                out.checkSpo2 = c.spo2
                out.checkEscort = c.escort
            }
            if let dose = r.dose {
                out.hasDose_p = true
                out.doseMg = dose.mg
                out.doseDrug = Int32(dose.drug)
                out.doseRoute = Int32(dose.route)
                out.doseSetting = Int32(dose.setting)
                out.doseStartedAt = dose.startedAt
            }
            out.vitals = r.vitals.map { v in
                var vitals = Snapshot.Vitals()
                vitals.at = v.at
                vitals.systolic = v.systolic
                vitals.diastolic = v.diastolic
                vitals.heartRate = v.heartRate
                vitals.spo2 = v.spo2
                return vitals
            }
            out.effects = r.effects.map { Int32($0.severity * 256 + $0.kind) }
            if let discharge = r.discharge {
                out.hasDischarge_p = true
                out.dischargedAt = discharge.at
                out.aldrete = discharge.aldrete
                out.dischargeEscort = discharge.escort
                out.drivingAdvice = discharge.drivingAdvice
            }
            if let reason = r.cancelled { out.cancelled = reason }
            if let at = r.remsFormSubmittedAt { out.remsFormSubmittedAt = at }
            return out
        }
        s.sessionCount = Int64(state.sessionCount)
        s.sideEffectCount = Int64(state.sideEffectCount)
        s.eventCount = Int64(state.eventCount)
        s.voidedCount = Int64(state.voidedCount)
        s.unknownTypeCount = Int64(state.unknownTypeCount)
        s.lastSequence = state.lastSequence
        s.streamVersion = streamVersion
        s.lastRecordedAt = lastRecordedAt
        s.typeCounts = typeCounts.map(Int64.init)
        return s
    }

    init(snapshot s: Snapshot) {
        self.init(patientId: s.patientID)
        state.demographics.givenName = s.givenName
        state.demographics.familyName = s.familyName
        state.demographics.birthDate = s.birthDate
        state.demographics.sex = s.sex
        state.demographics.phone = s.hasPhone ? s.phone : nil
        state.demographics.email = s.hasEmail ? s.email : nil
        state.weightKg = s.hasWeightKg ? s.weightKg : nil
        weightAt = s.weightAt
        state.history.conditions = s.conditions
        state.history.flags = s.historyFlags
        state.history.recordedAt = s.hasHistoryRecordedAt ? s.historyRecordedAt : nil
        for m in s.medications {
            medicationOrder.append(m.name)
            medications[m.name] = .init(name: m.name, dose: m.dose, medicationClass: m.medicationClass, status: m.status)
        }
        if s.hasEligibility {
            let e = s.eligibility
            state.eligibility = .init(
                evaluationId: e.evaluationID, evaluatedAt: e.evaluatedAt, eligible: e.eligible, treatmentResistant: e.treatmentResistant,
                modalities: e.modalities, diagnoses: e.diagnoses, contraindications: e.contraindications)
        }
        evaluationTime = s.evaluationTime
        for c in s.consents {
            consentOrder.append(c.consentID)
            consents[c.consentID] = ConsentEntry(
                consent: .init(consentId: c.consentID, scope: c.scope, formVersion: c.formVersion, signedAt: c.signedAt,
                               expiresAt: c.hasExpiresAt ? c.expiresAt : nil, status: c.status),
                expires: c.hasExpires ? c.expires : nil)
        }
        state.remsEnrolledAt = s.hasRemsEnrolledAt ? s.remsEnrolledAt : nil
        for p in s.plans {
            if p.defined {
                plans[p.planID] = .init(
                    planId: p.planID, modality: p.modality, phase: p.phase, sessionsPlanned: Int(p.sessionsPlanned),
                    maxSessionsPerWeek: Int(p.maxSessionsPerWeek), dosesGiven: 0, dosesInLast7Days: 0, startDate: p.startDate)
            }
            if p.dosesGiven > 0 || !p.latestDoseTimes.isEmpty {
                doseTimes[p.planID] = PlanDoses(count: Int(p.dosesGiven), latestTimes: p.latestDoseTimes)
            }
        }
        currentPlanId = s.hasCurrentPlanID ? s.currentPlanID : nil
        func point(_ p: Snapshot.Point) -> Point { Point(time: p.time, total: Int(p.total), band: p.hasBand ? p.band : nil) }
        for t in s.trends {
            assessments[Int(t.instrument)] = Trend(baseline: point(t.baseline), points: t.points.map(point))
        }
        for e in s.sideEffects {
            sideEffectOrder.append(e.id)
            sideEffects[e.id] = SideEffectRecord(
                id: e.id, kind: Int(e.kind), severity: Int(e.severity), onset: e.onset,
                sessionId: e.hasSessionID ? e.sessionID : nil, serious: e.serious, resolvedAt: e.hasResolvedAt ? e.resolvedAt : nil)
        }
        for r in s.sessions {
            var session = SessionRecord()
            session.planId = r.planID
            session.scheduledFor = r.hasScheduledFor ? r.scheduledFor : nil
            if r.hasCheck_p {
                session.check = .init(systolic: r.checkSystolic, diastolic: r.checkDiastolic, heartRate: r.checkHeartRate, spo2: r.checkSpo2, escort: r.checkEscort)
            }
            if r.hasDose_p {
                session.dose = .init(mg: r.doseMg, drug: Int(r.doseDrug), route: Int(r.doseRoute), setting: Int(r.doseSetting), startedAt: r.doseStartedAt)
            }
            session.vitals = r.vitals.map { .init(at: $0.at, systolic: $0.systolic, diastolic: $0.diastolic, heartRate: $0.heartRate, spo2: $0.spo2) }
            session.effects = r.effects.map { .init(severity: Int($0) / 256, kind: Int($0) % 256) }
            if r.hasDischarge_p {
                session.discharge = .init(at: r.dischargedAt, aldrete: r.aldrete, escort: r.dischargeEscort, drivingAdvice: r.drivingAdvice)
            }
            session.cancelled = r.hasCancelled ? r.cancelled : nil
            session.remsFormSubmittedAt = r.hasRemsFormSubmittedAt ? r.remsFormSubmittedAt : nil
            sessionOrder.append(r.id)
            sessions[r.id] = session
        }
        state.sessionCount = Int(s.sessionCount)
        state.sideEffectCount = Int(s.sideEffectCount)
        state.eventCount = Int(s.eventCount)
        state.voidedCount = Int(s.voidedCount)
        state.unknownTypeCount = Int(s.unknownTypeCount)
        state.lastSequence = s.lastSequence
        streamVersion = s.streamVersion
        lastRecordedAt = s.lastRecordedAt
        for (index, count) in s.typeCounts.enumerated() where index < typeCounts.count { typeCounts[index] = Int(count) }
    }
}
