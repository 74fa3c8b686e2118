import Foundation
import ClinicalRecord

/// Applies every rule of COMPLIANCE.md to one patient's facts, judged at `judgedAt`.
struct RuleBook {
    let policy: Policy
    let judgedAt: Int64

    static let minute: Int64 = 60_000_000_000
    static let hour: Int64 = 60 * minute

    private func ns(hours: Double) -> Int64 { Int64(hours * Double(Self.hour)) }
    private func ns(minutes: Double) -> Int64 { Int64(minutes * Double(Self.minute)) }
    private func ns(days: Double) -> Int64 { Int64(days * 24 * Double(Self.hour)) }

    private static func time(_ value: Int64) -> String { ClinicalTime.format(value) }

    enum DoseKind { case iv, im, esketamine, nasalKetamine }

    static func kind(of dose: Ketamine_V1_DoseAdministered) -> DoseKind {
        if dose.drug == .esketamine { return .esketamine }
        switch dose.route {
        case .iv: return .iv
        case .im: return .im
        default: return .nasalKetamine
        }
    }

    /// How far past a dose (or an assessment) the patient's record must move before it is
    /// judged: at least every window a rule waits for, and the policy's settling time.
    var settlingWindow: Int64 {
        max(ns(days: min(policy.sessionSettlingDays, 100_000)), ns(hours: policy.remsFormDeadlineHours),
            ns(hours: policy.sessionFrequencyWindowHours), ns(days: policy.suicideRiskFollowUpDays),
            ns(minutes: max(policy.esketaminePostDoseVitalsToMinutes, policy.intranasalMonitoringMinutes, policy.injectionMonitoringMinutes)))
    }
    /// How long before a first dose an evaluation counts (and a suicide risk screen waits for one).
    var evaluationWindow: Int64 { ns(days: policy.evaluationValidDays) + ns(days: policy.suicideRiskFollowUpDays) }
    /// How long before a first dose a baseline assessment counts.
    var baselineWindow: Int64 { ns(days: policy.baselineAssessmentDays) }

    func judge(waste: Fact<Ketamine_V1_DrugWasted>, patient: String) -> [Finding] {
        guard waste.message.witnessedBy == waste.actorId else { return [] }
        return [Finding(rule: .wasteWitness, patient: patient, session: waste.message.sessionID, eventId: waste.eventId, sequence: waste.sequence,
                        message: "The waste of \(Self.number(waste.message.amountMg)) mg was witnessed by \(waste.actorId), who recorded it; a second person must witness it.")]
    }

    /// Judges the suicide risk screens among the pending assessments before `cutoff`, and marks
    /// them judged (they move to the front of `facts.assessments`).
    func judge(assessmentsBefore cutoff: Int64, patient: String, facts: inout PatientFacts) -> [Finding] {
        var findings: [Finding] = []
        var pending = Array(facts.assessments[facts.judgedAssessments...])
        let due = pending.filter { $0.time < cutoff }
        guard !due.isEmpty else { return [] }
        pending.removeAll { $0.time < cutoff }
        for assessment in due {
            let a = assessment.message
            let score = a.instrument.score(a.itemScores)
            guard (a.instrument == .cssrsScreener || a.instrument == .phq9) && score.flagsSuicideRisk else { continue }
            let deadline = assessment.time + ns(days: policy.suicideRiskFollowUpDays)
            let followed = facts.evaluations.contains { $0.time >= assessment.time && $0.time <= deadline }
            if !followed && judgedAt > deadline {
                findings.append(Finding(rule: .suicideRiskFollowUp, patient: patient, session: a.hasSessionID ? a.sessionID : nil, eventId: assessment.eventId, sequence: assessment.sequence,
                                        message: "\(a.instrument == .phq9 ? "PHQ-9 item 9 was above 0" : "The C-SSRS screener showed high risk") at \(Self.time(assessment.time)), with no psychiatric evaluation within \(Int(policy.suicideRiskFollowUpDays * 24)) hours."))
            }
        }
        facts.assessments = Array(facts.assessments[..<facts.judgedAssessments]) + due + pending
        facts.judgedAssessments += due.count
        return findings
    }

    /// Judges the sessions of `due`, the earliest doses of `facts.doses` (sorted by start), with
    /// everything the patient's record holds so far.
    func judge(doses due: [Fact<Ketamine_V1_DoseAdministered>], patient: String, facts: inout PatientFacts) -> [Finding] {
        var findings: [Finding] = []
        func report(_ rule: Rule, _ session: String?, _ eventId: String, _ sequence: UInt64, _ message: String) {
            findings.append(Finding(rule: rule, patient: patient, session: session, eventId: eventId, sequence: sequence, message: message))
        }
        let doses = due
        let firstEsketamine = facts.esketamineDosed ? nil : doses.first { Self.kind(of: $0.message) == .esketamine }?.eventId
        if firstEsketamine != nil { facts.esketamineDosed = true }
        var firstDoseOfPlan: [String: String] = [:]
        for dose in doses where !facts.plansDosed.contains(dose.message.planID) && firstDoseOfPlan[dose.message.planID] == nil {
            firstDoseOfPlan[dose.message.planID] = dose.eventId
        }
        facts.plansDosed.formUnion(firstDoseOfPlan.keys)
        let facts = facts

        for dose in doses {
            let d = dose.message
            let at = d.startedAt.nanosecondsSince1970
            let session = d.sessionID
            let kind = Self.kind(of: d)
            func flag(_ rule: Rule, _ message: String) { report(rule, session, dose.eventId, dose.sequence, message) }

            // consent-before-dose
            let scope: Ketamine_V1_ConsentScope = switch kind {
            case .iv: .ketamineIv
            case .im: .ketamineIm
            case .esketamine: .esketamineNasal
            case .nasalKetamine: .ketamineNasal
            }
            let consented = facts.consents.contains { consent in
                let c = consent.message
                guard c.scope == scope, c.signedAt.nanosecondsSince1970 <= at else { return false }
                if c.hasExpiresAt && c.expiresAt.nanosecondsSince1970 <= at { return false }
                return !(facts.withdrawals[c.consentID] ?? []).contains { $0 <= at }
            }
            if !consented {
                flag(.consentBeforeDose, "The dose at \(Self.time(at)) had no \(scope.displayName) consent signed before it and still in force.")
            }

            if firstDoseOfPlan[d.planID] == dose.eventId {
                let modality = facts.plans[d.planID]?.modality
                let evaluated = facts.evaluations.contains { e in
                    e.time <= at && e.time >= at - ns(days: policy.evaluationValidDays) && e.message.eligible
                        && (modality.map { e.message.eligibleModalities.contains($0) } ?? false)
                }
                if !evaluated {
                    flag(.evaluationBeforeFirstDose, "The first dose of plan \(d.planID) at \(Self.time(at)) had no psychiatric evaluation within \(Int(policy.evaluationValidDays)) days before it finding the patient eligible for \(modality.map { "\($0)" } ?? "its modality").")
                }
                let baseline = facts.assessments.contains { a in
                    a.message.instrument.measuresDepression && a.time <= at && a.time >= at - ns(days: policy.baselineAssessmentDays)
                }
                if !baseline {
                    flag(.baselineAssessment, "The first dose of plan \(d.planID) had no PHQ-9, MADRS or QIDS-SR16 assessment in the \(Int(policy.baselineAssessmentDays)) days before it.")
                }
            }

            // contraindication: the latest medical history at or before the dose.
            if let history = facts.histories.filter({ $0.time <= at }).max(by: { ($0.time, $0.sequence) < ($1.time, $1.sequence) })?.message {
                var flags: [String] = []
                if history.psychosisHistory { flags.append("a history of psychosis") }
                if history.pregnant { flags.append("pregnancy") }
                if history.uncontrolledHypertension { flags.append("uncontrolled hypertension") }
                if kind == .esketamine {
                    if history.aneurysmalVascularDisease { flags.append("aneurysmal vascular disease") }
                    if history.arteriovenousMalformation { flags.append("an arteriovenous malformation") }
                    if history.intracerebralHemorrhageHistory { flags.append("a history of intracerebral hemorrhage") }
                }
                if !flags.isEmpty {
                    flag(.contraindication, "A dose was given while the medical history recorded \(flags.joined(separator: ", ")).")
                }
            }

            // The pre-session check: the latest for this session at or before the dose.
            if let check = (facts.checks[session] ?? []).filter({ $0.time <= at }).max(by: { ($0.time, $0.sequence) < ($1.time, $1.sequence) }) {
                let c = check.message
                let food = at - c.lastSolidFoodAt.nanosecondsSince1970
                let liquid = at - c.lastClearLiquidAt.nanosecondsSince1970
                if food < ns(hours: policy.fastingSolidFoodHours) || liquid < ns(hours: policy.fastingClearLiquidHours) {
                    flag(.fasting, "The patient last ate \(Self.duration(food)) and last drank clear liquids \(Self.duration(liquid)) before the dose; the policy asks for \(Self.hours(policy.fastingSolidFoodHours)) and \(Self.hours(policy.fastingClearLiquidHours)).")
                }
                if !c.escortPresent {
                    report(.escort, session, check.eventId, check.sequence, "No escort was present at the pre-session check.")
                }
                let bp = c.bloodPressure
                if (bp.systolic >= policy.bloodPressureSystolicLimit || bp.diastolic >= policy.bloodPressureDiastolicLimit)
                    && (!c.hasBpOverrideReason || c.bpOverrideReason.trimmingCharacters(in: .whitespaces).isEmpty) {
                    report(.bloodPressureThreshold, session, check.eventId, check.sequence, "Pre-dose blood pressure was \(bp.systolic)/\(bp.diastolic) mmHg, at or above \(policy.bloodPressureSystolicLimit)/\(policy.bloodPressureDiastolicLimit), with no override reason documented.")
                }
            } else {
                flag(.preSessionCheckMissing, "The dose at \(Self.time(at)) had no pre-session check (fasting, escort, blood pressure) recorded before it.")
            }

            let discharge = (facts.discharges[session] ?? []).min { $0.message.dischargedAt.nanosecondsSince1970 < $1.message.dischargedAt.nanosecondsSince1970 }
            if let discharge {
                let out = discharge.message.dischargedAt.nanosecondsSince1970
                func flagDischarge(_ rule: Rule, _ message: String) { report(rule, session, discharge.eventId, discharge.sequence, message) }
                if !discharge.message.escortConfirmed { flagDischarge(.escort, "The escort was not confirmed at discharge.") }
                let least = kind == .esketamine || kind == .nasalKetamine ? policy.intranasalMonitoringMinutes : policy.injectionMonitoringMinutes
                if out - at < ns(minutes: least) {
                    flagDischarge(.monitoringDuration, "The patient was discharged \(Self.duration(out - at)) after the dose started; at least \(Int(least)) minutes of monitoring are required.")
                }
                let watched: Set<Ketamine_V1_SideEffectKind> = [.sedation, .dissociation, .respiratoryDepression]
                for effect in facts.sideEffects[session] ?? [] where watched.contains(effect.kind) {
                    let resolved = (facts.resolutions[effect.sideEffectID] ?? []).contains { $0 <= out }
                    if !resolved {
                        flagDischarge(.dischargeWithUnresolvedEffect, "The patient was discharged while \(effect.kind) (\(effect.sideEffectID)) had not resolved.")
                    }
                }
                if discharge.message.aldreteScore < policy.minimumAldreteScore {
                    flagDischarge(.dischargeReadiness, "The patient was discharged with an Aldrete score of \(discharge.message.aldreteScore), below \(policy.minimumAldreteScore).")
                }
                if !discharge.message.drivingAdviceGiven {
                    flagDischarge(.drivingAdvice, "The discharge does not record the advice not to drive until the next day.")
                }
            }

            if kind == .esketamine {
                let readings = facts.vitals[session] ?? []
                let checked = (facts.checks[session] ?? []).contains { $0.time <= at }
                var missing: [String] = []
                if !checked && !readings.contains(where: { $0 <= at }) { missing.append("before dosing") }
                let from = at + ns(minutes: policy.esketaminePostDoseVitalsFromMinutes), to = at + ns(minutes: policy.esketaminePostDoseVitalsToMinutes)
                if !readings.contains(where: { $0 >= from && $0 <= to }) && (discharge != nil || judgedAt > to) {
                    missing.append("\(Int(policy.esketaminePostDoseVitalsFromMinutes)) to \(Int(policy.esketaminePostDoseVitalsToMinutes)) minutes after the dose")
                }
                if let out = discharge?.message.dischargedAt.nanosecondsSince1970,
                   !readings.contains(where: { $0 >= out - ns(minutes: policy.esketaminePreDischargeVitalsMinutes) && $0 <= out }) {
                    missing.append("in the \(Int(policy.esketaminePreDischargeVitalsMinutes)) minutes before discharge")
                }
                if !missing.isEmpty {
                    flag(.esketamineVitals, "The esketamine session lacks a blood pressure \(missing.joined(separator: ", and ")).")
                }
                if d.setting != .clinic {
                    flag(.esketamineSetting, "Esketamine was given at \(d.setting == .home ? "home" : "an unknown setting"); it may only be given in the clinic.")
                }
                if !facts.remsEnrollments.contains(where: { $0 <= at }) {
                    flag(.remsEnrollment, "Esketamine was given before the patient's REMS enrollment.")
                }
                let deadline = at + ns(hours: policy.remsFormDeadlineHours)
                let onTime = (facts.remsForms[session] ?? []).contains { $0 <= deadline }
                if !onTime && judgedAt > deadline {
                    flag(.remsFormDeadline, "No REMS patient monitoring form was submitted within \(Int(policy.remsFormDeadlineHours)) hours of the dose at \(Self.time(at)).")
                }
                if !policy.esketamineDosesMg.contains(d.doseMg) {
                    flag(.doseRange, "Esketamine \(Self.number(d.doseMg)) mg is not one of the allowed doses (\(policy.esketamineDosesMg.map(Self.number).joined(separator: ", ")) mg).")
                } else if dose.eventId == firstEsketamine && policy.esketamineFirstSessionForbiddenMg.contains(d.doseMg) {
                    flag(.doseRange, "Esketamine \(Self.number(d.doseMg)) mg was given at the patient's first esketamine session.")
                }
            } else if kind == .iv || kind == .im, d.weightKg > 0 {
                let perKg = d.doseMg / d.weightKg
                if perKg < policy.ketamineMinMgPerKg - 1e-9 || perKg > policy.ketamineMaxMgPerKg + 1e-9 {
                    flag(.doseRange, "Ketamine \(Self.number(d.doseMg)) mg for \(Self.number(d.weightKg)) kg is \(String(format: "%.2f", perKg)) mg/kg, outside \(Self.number(policy.ketamineMinMgPerKg)) to \(Self.number(policy.ketamineMaxMgPerKg)) mg/kg.")
                }
            }
        }

        // session-frequency: doses of one plan in any window [t, t + 168 h) starting at a
        // judged dose; later doses are still pending in `facts.doses` (sorted by start).
        let judged = Set(doses.map(\.eventId))
        for (planId, planDoses) in Dictionary(grouping: facts.doses, by: { $0.message.planID }) {
            guard let limit = facts.plans[planId]?.maxSessionsPerWeek, limit > 0 else { continue }
            let window = ns(hours: policy.sessionFrequencyWindowHours)
            for (index, first) in planDoses.enumerated() where judged.contains(first.eventId) {
                let start = first.message.startedAt.nanosecondsSince1970
                let inWindow = planDoses[index...].prefix { $0.message.startedAt.nanosecondsSince1970 < start + window }
                if inWindow.count > Int(limit), let extra = inWindow.dropFirst(Int(limit)).first, !facts.frequencyReported.contains(extra.eventId),
                   !findings.contains(where: { $0.rule == .sessionFrequency && $0.eventId == extra.eventId }) {
                    report(.sessionFrequency, extra.message.sessionID, extra.eventId, extra.sequence, "Plan \(planId) had \(inWindow.count) doses within \(Int(policy.sessionFrequencyWindowHours)) hours from \(Self.time(start)); it allows \(limit) a week.")
                }
            }
        }
        return findings
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    static func hours(_ value: Double) -> String { "\(number(value)) hours" }

    static func duration(_ nanoseconds: Int64) -> String {
        let minutes = nanoseconds / minute
        if abs(minutes) < 120 { return "\(minutes) minutes" }
        return "\(number((Double(minutes) / 60 * 10).rounded() / 10)) hours"
    }
}

extension Ketamine_V1_ConsentScope {
    var displayName: String {
        switch self {
        case .ketamineIv: "IV ketamine"
        case .ketamineIm: "IM ketamine"
        case .esketamineNasal: "esketamine"
        case .ketamineNasal: "nasal ketamine"
        default: "matching"
        }
    }
}
