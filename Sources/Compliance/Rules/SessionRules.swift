import ClinicalRecord
import EventStore
import Foundation

// The session: the pre-session check, the dose itself, and what esketamine's REMS asks.

/// `pre-session-check-missing`: a check (fasting, escort, blood pressure) before the dose.
struct PreSessionCheckMissing: DoseRule {
    var rule: Rule { .preSessionCheckMissing }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.check == nil else { return }
        findings.report("The dose at \(Wording.time(d.startedAt)) had no pre-session check (fasting, escort, blood pressure) recorded before it.")
    }
}

/// `fasting`: no solid food for 4 hours and no clear liquids for 2 hours before the dose.
struct Fasting: DoseRule {
    var rule: Rule { .fasting }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard let check = d.check else { return }
        let food = d.startedAt - check.lastSolidFoodAt, liquid = d.startedAt - check.lastClearLiquidAt
        let policy = d.policy
        guard food < RuleBook.nanoseconds(hours: policy.fastingSolidFoodHours) || liquid < RuleBook.nanoseconds(hours: policy.fastingClearLiquidHours) else { return }
        findings.report("The patient last ate \(Wording.duration(food)) and last drank clear liquids \(Wording.duration(liquid)) before the dose; the policy asks for \(Wording.hours(policy.fastingSolidFoodHours)) and \(Wording.hours(policy.fastingClearLiquidHours)).")
    }
}

/// `escort`: present at the pre-session check, and confirmed at every discharge.
struct Escort: DoseRule {
    var rule: Rule { .escort }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        if let check = d.check, !check.escortPresent {
            findings.report("No escort was present at the pre-session check at \(Wording.time(check.time)).", at: check.sequence)
        }
        guard d.isFirstDoseOfSession else { return }
        for discharge in d.session.discharges where !discharge.escortConfirmed {
            findings.report("The escort was not confirmed at the discharge at \(Wording.time(discharge.dischargedAt)).", at: discharge.sequence)
        }
    }
}

/// `blood-pressure-threshold`: pre-dose pressure at or above 140/90 needs an override reason.
struct BloodPressureThreshold: DoseRule {
    var rule: Rule { .bloodPressureThreshold }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard let check = d.check, !check.hasOverrideReason,
              check.systolic >= d.policy.bloodPressureSystolicLimit || check.diastolic >= d.policy.bloodPressureDiastolicLimit else { return }
        findings.report("Pre-dose blood pressure was \(check.systolic)/\(check.diastolic) mmHg, at or above \(d.policy.bloodPressureSystolicLimit)/\(d.policy.bloodPressureDiastolicLimit), with no override reason documented.", at: check.sequence)
    }
}

/// `dose-plan-mismatch`: the dose is what its plan and its session say.
struct DosePlanMismatch: DoseRule {
    var rule: Rule { .dosePlanMismatch }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        let dose = d.dose
        guard let plan = d.plan else {
            findings.report("The dose at \(Wording.time(d.startedAt)) names plan \(dose.plan), which is not on record for the patient.")
            return
        }
        if dose.modality != plan.modality {
            findings.report("The dose at \(Wording.time(d.startedAt)) was \(dose.drug.label) by \(dose.route.label) route, but plan \(plan.id) is for \(Wording.scope(plan.modality)).")
        }
        if let scheduled = d.session.scheduledPlan, scheduled != dose.plan {
            findings.report("The dose names plan \(dose.plan), but session \(dose.session) was scheduled under plan \(scheduled).")
        }
        if dose.drug == .esketamine, let devices = dose.devices, abs(Double(devices) * d.policy.esketamineDeviceMg - dose.doseMg) > 1e-9 {
            findings.report("Esketamine \(Wording.number(dose.doseMg)) mg was recorded with \(devices) device\(devices == 1 ? "" : "s"), which hold \(Wording.number(Double(devices) * d.policy.esketamineDeviceMg)) mg.")
        }
    }
}

/// `dose-range`: the amount given is within the policy's range for the drug and route.
struct DoseRange: DoseRule {
    var rule: Rule { .doseRange }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        let dose = d.dose, policy = d.policy
        switch dose.modality {
        case .esketamineNasal:
            if !policy.esketamineDosesMg.contains(dose.doseMg) {
                findings.report("Esketamine \(Wording.number(dose.doseMg)) mg is not one of the allowed doses (\(policy.esketamineDosesMg.map(Wording.number).joined(separator: ", ")) mg).")
            } else if d.isFirstEsketamine && policy.esketamineFirstSessionForbiddenMg.contains(dose.doseMg) && d.plan?.indication != .mdsi {
                findings.report("Esketamine \(Wording.number(dose.doseMg)) mg was given at the patient's first esketamine session; it is the first dose only for depressive symptoms with acute suicidal ideation (a plan for mdsi).")
            }
        case .ketamineIv, .ketamineIm:
            guard dose.weightKg > 0 else { return }
            let perKg = dose.doseMg / dose.weightKg
            if perKg < policy.ketamineMinMgPerKg - 1e-9 || perKg > policy.ketamineMaxMgPerKg + 1e-9 {
                findings.report("Ketamine \(Wording.number(dose.doseMg)) mg for \(Wording.number(dose.weightKg)) kg is \(Wording.number((perKg * 100).rounded() / 100)) mg/kg, outside \(Wording.number(policy.ketamineMinMgPerKg)) to \(Wording.number(policy.ketamineMaxMgPerKg)) mg/kg.")
            }
        case .ketamineNasal:
            guard let planned = d.plan?.doseMg, planned > 0 else { return }
            if abs(dose.doseMg - planned) > planned * policy.nasalKetamineDoseTolerance + 1e-9 {
                findings.report("Nasal ketamine \(Wording.number(dose.doseMg)) mg is more than \(Wording.number(policy.nasalKetamineDoseTolerance * 100))% away from the \(Wording.number(planned)) mg of plan \(dose.plan).")
            }
        case .unspecified, .UNRECOGNIZED:
            break
        }
    }
}

/// `infusion-duration`: an IV infusion of at least 40 minutes, with its length recorded.
struct InfusionDuration: DoseRule {
    var rule: Rule { .infusionDuration }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.dose.modality == .ketamineIv else { return }
        let least = d.policy.minimumInfusionMinutes
        guard let minutes = d.dose.infusionMinutes else {
            findings.report("The IV infusion at \(Wording.time(d.startedAt)) does not record how long it ran; the policy asks for at least \(Wording.number(least)) minutes.")
            return
        }
        guard Double(minutes) < least else { return }
        findings.report("The IV infusion at \(Wording.time(d.startedAt)) ran \(minutes) minutes; the policy asks for at least \(Wording.number(least)).")
    }
}

/// `esketamine-setting`: esketamine only in the clinic or an inpatient setting, never at home.
struct EsketamineSetting: DoseRule {
    var rule: Rule { .esketamineSetting }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.dose.drug == .esketamine, d.dose.setting != .clinic, d.dose.setting != .inpatient else { return }
        findings.report("Esketamine was given at \(d.dose.setting == .home ? "home" : "an unknown setting"); it may only be given in the clinic or an inpatient setting.")
    }
}

/// `prescriber-on-site`: an outpatient esketamine dose names the prescriber present.
struct PrescriberOnSite: DoseRule {
    var rule: Rule { .prescriberOnSite }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.dose.drug == .esketamine, d.dose.setting == .clinic, !d.dose.hasPrescriberOnSite else { return }
        findings.report("The esketamine dose at \(Wording.time(d.startedAt)) in the clinic names no prescriber on site, as the REMS asks of outpatient settings.")
    }
}

/// `rems-enrollment`: outpatient esketamine only after REMS enrollment.
struct RemsEnrollment: DoseRule {
    var rule: Rule { .remsEnrollment }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.dose.drug == .esketamine, d.dose.setting != .inpatient, !d.facts.remsEnrollments.contains(where: { $0 <= d.startedAt }) else { return }
        findings.report("Esketamine was given at \(Wording.time(d.startedAt)) before the patient's REMS enrollment.")
    }
}

/// `rems-form-deadline`: a REMS monitoring form within 7 days of an outpatient esketamine dose.
struct RemsFormDeadline: DoseRule {
    var rule: Rule { .remsFormDeadline }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard d.dose.drug == .esketamine, d.dose.setting != .inpatient else { return }
        let deadline = d.startedAt + RuleBook.nanoseconds(hours: d.policy.remsFormDeadlineHours)
        // A form submitted before the dose's start counts; a session younger than the deadline is pending.
        guard !d.session.remsForms.contains(where: { $0 <= deadline }), d.judgedAt > deadline else { return }
        findings.report("No REMS patient monitoring form was submitted within \(Wording.hours(d.policy.remsFormDeadlineHours)) of the dose at \(Wording.time(d.startedAt)).")
    }
}

/// `session-frequency`: no more doses of a plan in any week than it allows.
struct SessionFrequency: DoseRule {
    var rule: Rule { .sessionFrequency }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        guard let plan = d.plan, plan.maxSessionsPerWeek > 0 else { return }
        let inWindow = d.planDosesFromHere
        guard inWindow.count > Int(plan.maxSessionsPerWeek) else { return }
        let extra = inWindow[Int(plan.maxSessionsPerWeek)]
        findings.report("Plan \(plan.id) had \(inWindow.count) doses within \(Wording.hours(d.policy.sessionFrequencyWindowHours)) from \(Wording.time(d.startedAt)); it allows \(plan.maxSessionsPerWeek) a week.",
                        at: extra.sequence, session: extra.session, once: String(extra.sequence))
    }
}

/// `measurement-based-care`: a depression score near every 3rd dose of a plan.
struct MeasurementBasedCare: DoseRule {
    var rule: Rule { .measurementBasedCare }
    func judge(_ d: DoseContext, _ findings: inout Findings) {
        let every = d.policy.measurementBasedCareEvery
        guard d.plan != nil, every > 0, d.positionInPlan > 0, d.positionInPlan % every == 0 else { return }
        let window = RuleBook.nanoseconds(days: d.policy.measurementBasedCareWindowDays)
        // Pending until the window after the dose has passed.
        guard d.judgedAt > d.startedAt + window else { return }
        let assessed = d.facts.assessments.contains { $0.measuresDepression && $0.time >= d.startedAt - window && $0.time <= d.startedAt + window }
        guard !assessed else { return }
        findings.report("Dose \(d.positionInPlan) of plan \(d.dose.plan), at \(Wording.time(d.startedAt)), had no PHQ-9, MADRS or QIDS-SR16 assessment from \(Wording.number(d.policy.measurementBasedCareWindowDays)) days before to \(Wording.number(d.policy.measurementBasedCareWindowDays)) days after it.")
    }
}
