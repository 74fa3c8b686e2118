import ClinicalRecord
import EventStore
import Foundation

// After the dose: vital signs, how long the patient stayed, and whether they were fit to leave.

/// `esketamine-vitals`: blood pressure before dosing, 30 to 50 minutes after, and in the 15
/// minutes up to discharge.
struct EsketamineVitals: DoseRule {
    var rule: Rule { .esketamineVitals }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.dose.drug == .esketamine else { return }
        let policy = d.policy, readings = d.session.vitals.map(\.measuredAt), at = d.startedAt
        var missing: [String] = []
        // Without a pre-session check, a reading at or before the dose counts.
        if !d.session.checks.contains(where: { $0.time <= at }) && !readings.contains(where: { $0 <= at }) { missing.append("before dosing") }
        let from = at + RuleBook.nanoseconds(minutes: policy.esketaminePostDoseVitalsFromMinutes)
        let to = at + RuleBook.nanoseconds(minutes: policy.esketaminePostDoseVitalsToMinutes)
        let discharge = d.firstDischarge
        if !readings.contains(where: { $0 >= from && $0 <= to }) && (discharge != nil || d.judgedAt > to) {
            missing.append("\(Wording.number(policy.esketaminePostDoseVitalsFromMinutes)) to \(Wording.number(policy.esketaminePostDoseVitalsToMinutes)) minutes after the dose")
        }
        if let out = discharge?.dischargedAt,
           !readings.contains(where: { $0 >= out - RuleBook.nanoseconds(minutes: policy.esketaminePreDischargeVitalsMinutes) && $0 <= out }) {
            missing.append("in the \(Wording.number(policy.esketaminePreDischargeVitalsMinutes)) minutes before discharge")
        }
        guard !missing.isEmpty else { return }
        findings.report("The esketamine session lacks a blood pressure \(missing.joined(separator: ", and ")).")
    }
}

/// `post-dose-vitals-alert`: an alarming reading after the dose has its side effect on record
/// (one finding per session and kind).
struct PostDoseVitalsAlert: DoseRule {
    var rule: Rule { .postDoseVitalsAlert }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.isFirstDoseOfSession else { return }
        let policy = d.policy
        let after = d.session.vitals.filter { $0.measuredAt >= d.startedAt }.sorted { ($0.measuredAt, $0.sequence) < ($1.measuredAt, $1.sequence) }
        let recorded = Set(d.session.sideEffects.map(\.kind))
        func alert(_ kind: Ketamine_V1_SideEffectKind, _ what: String, _ matches: (VitalsFact) -> String?) {
            guard !recorded.contains(kind), let reading = after.first(where: { matches($0) != nil }), let value = matches(reading) else { return }
            findings.report("A reading at \(Wording.clock(reading.measuredAt)) after the dose showed \(value), and no \(what) is recorded as a side effect of the session.", at: reading.sequence)
        }
        alert(.hypertension, "hypertension") { r in
            r.systolic >= policy.postDoseAlertSystolic || r.diastolic >= policy.postDoseAlertDiastolic
                ? "\(r.systolic)/\(r.diastolic) mmHg (the alert is at \(policy.postDoseAlertSystolic)/\(policy.postDoseAlertDiastolic))" : nil
        }
        alert(.respiratoryDepression, "respiratory depression") { r in
            if r.spo2 < policy.postDoseAlertSpo2Below { return "SpO2 \(r.spo2)% (the alert is below \(policy.postDoseAlertSpo2Below)%)" }
            if let rate = r.respiratoryRate, rate < policy.postDoseAlertRespiratoryRateBelow {
                return "a respiratory rate of \(rate) (the alert is below \(policy.postDoseAlertRespiratoryRateBelow))"
            }
            return nil
        }
        alert(.sedation, "sedation") { r in
            guard let moaas = r.moaas, moaas <= policy.postDoseAlertMoaasAtMost else { return nil }
            return "MOAA/S \(moaas) (the alert is at \(policy.postDoseAlertMoaasAtMost) or below)"
        }
    }
}

/// `discharge-vitals`: a reading in the 30 minutes before every discharge, and the last one safe.
struct DischargeVitals: DoseRule {
    var rule: Rule { .dischargeVitals }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.isFirstDoseOfSession else { return }
        let policy = d.policy
        for discharge in d.session.discharges {
            let out = discharge.dischargedAt
            let before = d.session.vitals.filter { $0.measuredAt <= out }
            var problems: [String] = []
            if !before.contains(where: { $0.measuredAt >= out - RuleBook.nanoseconds(minutes: policy.dischargeVitalsWithinMinutes) }) {
                problems.append("no vital signs were taken in the \(Wording.number(policy.dischargeVitalsWithinMinutes)) minutes before it")
            }
            if let last = before.max(by: { ($0.measuredAt, $0.sequence) < ($1.measuredAt, $1.sequence) }) {
                var unsafe: [String] = []
                if last.systolic >= policy.dischargeSystolicLimit || last.diastolic >= policy.dischargeDiastolicLimit {
                    unsafe.append("\(last.systolic)/\(last.diastolic) mmHg (the policy asks for under \(policy.dischargeSystolicLimit)/\(policy.dischargeDiastolicLimit))")
                }
                if last.spo2 < policy.dischargeSpo2Below { unsafe.append("SpO2 \(last.spo2)% (the policy asks for \(policy.dischargeSpo2Below)% or more)") }
                if let moaas = last.moaas, moaas < policy.dischargeMoaasBelow { unsafe.append("MOAA/S \(moaas) (the policy asks for \(policy.dischargeMoaasBelow))") }
                if !unsafe.isEmpty { problems.append("the last reading before it, at \(Wording.clock(last.measuredAt)), was \(Wording.list(unsafe))") }
            }
            guard !problems.isEmpty else { continue }
            let sentence = "At the discharge at \(Wording.time(out)), " + Wording.list(problems) + "."
            findings.report(sentence, at: discharge.sequence)
        }
    }
}

/// `monitoring-duration`: two hours after a nasal dose, one after an IM dose or the end of an
/// IV infusion, before the first discharge.
struct MonitoringDuration: DoseRule {
    var rule: Rule { .monitoringDuration }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.isFirstDoseOfSession, let discharge = d.firstDischarge else { return }
        let dose = d.dose, policy = d.policy, out = discharge.dischargedAt
        let (from, least, what): (Int64, Double, String) = switch dose.route {
        case .iv:
            (dose.startedAt + Int64(dose.infusionMinutes ?? 0) * Wording.minute, policy.infusionMonitoringMinutes,
             dose.infusionMinutes == nil ? "the infusion started" : "the infusion ended")
        case .im: (dose.startedAt, policy.injectionMonitoringMinutes, "the injection")
        default: (dose.startedAt, policy.intranasalMonitoringMinutes, "the nasal dose started")
        }
        guard out - from < RuleBook.nanoseconds(minutes: least) else { return }
        findings.report("The patient was discharged \(Wording.duration(out - from)) after \(what); at least \(Wording.number(least)) minutes of monitoring are required.", at: discharge.sequence)
    }
}

/// `discharge-with-unresolved-effect`: side effects that block discharge are resolved first.
struct DischargeWithUnresolvedEffect: DoseRule {
    var rule: Rule { .dischargeWithUnresolvedEffect }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.isFirstDoseOfSession else { return }
        let blocking = Set(d.policy.dischargeBlockingSideEffects)
        for discharge in d.session.discharges {
            let out = discharge.dischargedAt
            // Side effects that began after the discharge do not block it.
            for effect in d.session.sideEffects where blocking.contains(effect.kind.label) && effect.onsetAt <= out {
                let resolved = effect.id.withUnsafeBytes { d.facts.resolutions[$0] }?.contains { $0 <= out } ?? false
                if !resolved {
                    findings.report("The patient was discharged at \(Wording.time(out)) while \(effect.kind.label.replacingOccurrences(of: "_", with: " ")) (\(effect.name)) had not resolved.", at: discharge.sequence)
                }
            }
        }
    }
}

/// `discharge-readiness`: an Aldrete score of 9 or more at every discharge.
struct DischargeReadiness: DoseRule {
    var rule: Rule { .dischargeReadiness }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.isFirstDoseOfSession else { return }
        for discharge in d.session.discharges where discharge.aldreteScore < d.policy.minimumAldreteScore {
            findings.report("The patient was discharged at \(Wording.time(discharge.dischargedAt)) with an Aldrete score of \(discharge.aldreteScore), below \(d.policy.minimumAldreteScore).", at: discharge.sequence)
        }
    }
}

/// `driving-advice`: every discharge records the advice not to drive until the next day.
struct DrivingAdvice: DoseRule {
    var rule: Rule { .drivingAdvice }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.isFirstDoseOfSession else { return }
        for discharge in d.session.discharges where !discharge.drivingAdviceGiven {
            findings.report("The discharge at \(Wording.time(discharge.dischargedAt)) does not record the advice not to drive until the next day.", at: discharge.sequence)
        }
    }
}
