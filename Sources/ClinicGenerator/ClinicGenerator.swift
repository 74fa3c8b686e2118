import ClinicalRecord
import Compliance
import Foundation
import SwiftProtobuf

/// A realistic synthetic clinic history for a seed: patients registered over the period, assessed,
/// evaluated, consented and treated in every modality and setting, with scores that mostly
/// improve, side effects that resolve, medication changes, a withdrawal, corrections by voiding,
/// disclosures, and a share of sessions that break one compliance rule. The same seed always
/// gives the same events and ids.
///
/// A history generated with `ruleBreakingShare` 0 satisfies every rule of the shipped policy
/// (docs/COMPLIANCE.md, version 2); with a share, about that share of sessions break one rule
/// each, drawn from the 33 clinical rules (those a patient's modality and place in the course
/// can break).
public struct ClinicGenerator: Sendable {
    public var seed: UInt64
    public var patients: Int
    public var months: Int
    /// The share of sessions (0...1) that break one compliance rule.
    public var ruleBreakingShare: Double
    /// The first day of the history (ns since 1970).
    public var start: Int64
    public var source = "urn:clinic:demo"
    /// Patient ids are this prefix, a dash and a number: `P-0007`.
    public var patientPrefix = "P"
    /// After the induction course, a maintenance plan with a session every week or so until the
    /// end of the period (long histories: about 500 events per patient-year).
    public var maintenance = false
    /// One rule broken at one session of every patient and no other (`ruleBreakingShare` is
    /// then ignored), for tests and demonstrations of a single rule. Patients are then treated
    /// in the clinic (no inpatients) for treatment-resistant depression (no MDSI plans). The rule
    /// must be one of ``breakableRules`` (`integrity` is broken by damaging a store, not here).
    public var forced: (violation: Violation, session: Int)? {
        didSet {
            precondition(forced.map { Self.breakableRules.contains($0.violation) } ?? true,
                         "\(forced?.violation.rawValue ?? "") is not a rule a generated history can break")
        }
    }

    public init(seed: UInt64 = 42, patients: Int = 40, months: Int = 6, ruleBreakingShare: Double = 0.04,
                start: Int64 = ClinicalTime.parse("2026-01-05T00:00:00Z") ?? 0) {
        self.seed = seed
        self.patients = patients
        self.months = months
        self.ruleBreakingShare = ruleBreakingShare
        self.start = start
    }

    /// The longest history generated, in months: 200 years (times are nanoseconds since 1970 in
    /// 64 bits, which end in 2262).
    public static let maximumMonths = 2_400

    /// The id of patient number `index` (from 0), e.g. `P-0007`.
    public static func patientId(_ index: Int, prefix: String = "P") -> String { prefix + "-" + String(index + 1).leftPadded(4) }

    /// Every patient's events, merged in clinical time order.
    public func allEvents() -> [ClinicalEventInput] {
        let perPatient = (0..<patients).flatMap { events(forPatient: $0) }
        return perPatient.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
    }

    /// One patient's events in time order.
    public func events(forPatient index: Int) -> [ClinicalEventInput] {
        var writer = PatientHistoryWriter(generator: self, index: index)
        writer.write()
        return writer.events
    }

    /// A rule the generator can break on purpose: one of the compliance rules (the same ids,
    /// so a forced break and the finding it gives are one name).
    public typealias Violation = Rule

    /// The 33 clinical rules the generator can break, in the order it draws them (the intake's
    /// first). The hash chain's integrity is not broken by a history but by damage to a store.
    public static let breakableRules: [Rule] = [
        .consentBeforeDose,
        .evaluationBeforeFirstDose,
        .baselineAssessment,
        .medicalHistoryBeforeDose,
        .contraindication,
        .substanceUseDisorder,
        .interactingMedication,
        .minimumAge,
        .remsEnrollment,
        .offLabelConsent,
        .preSessionCheckMissing,
        .fasting,
        .escort,
        .bloodPressureThreshold,
        .dosePlanMismatch,
        .doseRange,
        .infusionDuration,
        .doseBeforeRiskEvaluation,
        .esketamineVitals,
        .postDoseVitalsAlert,
        .dischargeVitals,
        .monitoringDuration,
        .dischargeWithUnresolvedEffect,
        .dischargeReadiness,
        .drivingAdvice,
        .esketamineSetting,
        .prescriberOnSite,
        .remsFormDeadline,
        .sessionFrequency,
        .measurementBasedCare,
        .suicideRiskFollowUp,
        .wasteWitness,
        .wasteReconciliation,
    ]
}

extension Rule {
    // What the generator knows of each rule it breaks.
    /// Broken at the intake, seen at the first dose (forced at session 1).
    package var atIntake: Bool {
        switch self {
        case .consentBeforeDose, .evaluationBeforeFirstDose, .baselineAssessment, .medicalHistoryBeforeDose, .contraindication,
             .substanceUseDisorder, .interactingMedication, .minimumAge, .remsEnrollment, .offLabelConsent:
            true
        default:
            false
        }
    }

    /// Whether a session of this kind can break it.
    func applies(to course: ClinicGenerator.Course, positionInPlan: Int, maintenance: Bool) -> Bool {
        let esketamine = course.modality == .esketamineNasal
        let injected = course.modality == .ketamineIv || course.modality == .ketamineIm
        switch self {
        case .remsEnrollment, .remsFormDeadline: return esketamine && !course.inpatient
        case .esketamineVitals, .dosePlanMismatch: return esketamine
        case .esketamineSetting, .prescriberOnSite: return esketamine && !course.inpatient
        case .offLabelConsent: return !esketamine
        case .infusionDuration: return course.modality == .ketamineIv
        case .wasteWitness, .wasteReconciliation, .doseRange: return injected
        // Every third dose of a plan is the one measurement-based care asks a score for; the
        // sixth of the first plan's is also the next plan's baseline, so it is left alone.
        case .measurementBasedCare: return positionInPlan % 3 == 0 && (maintenance || positionInPlan == 3)
        // A session brought forward shortens two gaps between doses, and each may make a
        // week of too many; the first session of a course has one gap after it only.
        case .sessionFrequency: return maintenance || positionInPlan == 1
        default: return true
        }
    }
}

extension ClinicGenerator {
    /// What one patient is treated with, and where.
    struct Course {
        let modality: Ketamine_V1_Modality
        let inpatient: Bool
        let indication: Ketamine_V1_Indication
    }
}

private let givenNames = ["Ana", "Ben", "Chloe", "David", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara"]
private let familyNames = ["Alvarez", "Brown", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen", "Kowalski", "Lopez", "Moreau", "Novak", "Okafor", "Petrov", "Quinlan", "Rossi", "Silva", "Tanaka"]

/// Writes one patient's history.
private struct PatientHistoryWriter {
    typealias Violation = ClinicGenerator.Violation

    let generator: ClinicGenerator
    let index: Int
    let patientId: String
    var random: SeededRandom
    var events: [ClinicalEventInput] = []
    let staff: String, nurse: String, otherNurse: String, physician: String, psychiatrist: String
    var course = ClinicGenerator.Course(modality: .ketamineIv, inpatient: false, indication: .trd)
    var phq9Level = 20
    var responder = true

    init(generator: ClinicGenerator, index: Int) {
        self.generator = generator
        self.index = index
        patientId = ClinicGenerator.patientId(index, prefix: generator.patientPrefix)
        random = SeededRandom(seed: generator.seed &* 0x100_0000_01B3 &+ UInt64(index) &* 0x9E37_79B9)
        staff = "u-staff-\(index % 3 + 1)"
        nurse = "u-nurse-\(index % 6 + 1)"
        otherNurse = "u-nurse-\((index + 1) % 6 + 1)"
        physician = "u-phys-\(index % 2 + 1)"
        psychiatrist = "u-psy-\(index % 2 + 1)"
    }

    static let minute: Int64 = 60_000_000_000

    mutating func add(_ time: Int64, _ actor: String, _ role: ActorRole, _ message: any SwiftProtobuf.Message) {
        events.append(ClinicalEventInput(
            id: random.uuid(), source: generator.source, patientId: patientId, time: time,
            actorId: actor, actorRole: role, message: message, dataContentType: "application/json"))
    }

    func stamp(_ time: Int64) -> Google_Protobuf_Timestamp { ClinicalTime.timestamp(time) }

    /// The rule session `session` breaks, if it is one of the share that break one (or the
    /// forced one).
    mutating func violation(session: Int, positionInPlan: Int, maintenance: Bool, intake: Bool) -> Violation? {
        if let forced = generator.forced {
            return forced.session == session && forced.violation.atIntake == intake
                && forced.violation.applies(to: course, positionInPlan: positionInPlan, maintenance: maintenance) ? forced.violation : nil
        }
        // An intake breaks a rule three times as often as a session: there is one intake to a
        // patient's many sessions, and ten rules to draw from.
        guard random.chance(generator.ruleBreakingShare * (intake ? 3 : 1)) else { return nil }
        let candidates = ClinicGenerator.breakableRules.filter {
            $0.atIntake == intake && $0.applies(to: course, positionInPlan: positionInPlan, maintenance: maintenance)
        }
        return candidates.randomElement(using: &random)
    }

    mutating func write() {
        let minute = Self.minute
        let days = Int64(min(max(1, generator.months), ClinicGenerator.maximumMonths) * 30)
        // Registered in the first two thirds of the period, so that most have treatment to show.
        var now = generator.start + Int64.random(in: 0..<(days * 2 / 3), using: &random) * ClinicalTime.day + 8 * 60 * minute
        let modalities: [Ketamine_V1_Modality] = [.ketamineIv, .esketamineNasal, .ketamineIm, .ketamineNasal]
        let modality = modalities[index % modalities.count]
        let ptsd = index % 5 == 3
        let mdsi = modality == .esketamineNasal && random.chance(0.1)
        let inpatient = modality == .esketamineNasal && random.chance(0.1)
        course = ClinicGenerator.Course(
            modality: modality, inpatient: inpatient && generator.forced == nil,
            indication: mdsi && generator.forced == nil ? .mdsi : ptsd ? .ptsd : .trd)
        // The first session's rule, when it breaks one that the intake decides, is drawn first.
        let intakeViolation = violation(session: 1, positionInPlan: 1, maintenance: false, intake: true)
        var weight = Double(Int.random(in: 52...110, using: &random))

        var registration = Ketamine_V1_PatientRegistered()
        registration.givenName = givenNames[Int.random(in: 0..<givenNames.count, using: &random)]
        registration.familyName = familyNames[Int.random(in: 0..<familyNames.count, using: &random)]
        let year = ClinicalTime.utcDate(now).year
        // Adults, born 22 to 76 years before.
        let birthYear = Int.random(in: (Int(year) - 76)...(Int(year) - 22), using: &random)
        registration.birthDate = "\(String(birthYear).leftPadded(4))-\(String(Int.random(in: 1...12, using: &random)).leftPadded(2))-\(String(Int.random(in: 1...28, using: &random)).leftPadded(2))"
        if intakeViolation == .minimumAge {
            // Eighteen three days after the intake: seventeen at the first dose (two days
            // after), of age from the second on.
            let birthday = ClinicalTime.utcDate(now + 3 * ClinicalTime.day)
            let born = (year: birthday.year - 18, month: birthday.month, day: min(birthday.day, 28))
            registration.birthDate = "\(String(born.year).leftPadded(4))-\(String(born.month).leftPadded(2))-\(String(born.day).leftPadded(2))"
        }
        registration.sex = [.female, .male, .female, .male, .other][Int.random(in: 0..<5, using: &random)]
        registration.weightKg = weight
        if random.chance(0.7) { registration.phone = "+1-555-\(String(Int.random(in: 0...9999, using: &random)).leftPadded(4))" }
        add(now, staff, .staff, registration)

        var history = Ketamine_V1_MedicalHistoryRecorded()
        history.conditions = [condition("F33.2", "Major depressive disorder, recurrent, severe")]
        if ptsd { history.conditions.append(condition("F43.10", "Post-traumatic stress disorder")) }
        history.medications = [medication("sertraline", "100 mg", .ssri)]
        if random.chance(0.2) { history.medications.append(medication("lamotrigine", "100 mg", .moodStabilizer)) }
        switch intakeViolation {
        case .contraindication:
            switch Int.random(in: 0..<4, using: &random) {
            case 0: history.uncontrolledHypertension = true
            case 1: history.aneurysmalVascularDisease = true
            case 2: history.ketamineHypersensitivity = true
            default: history.psychosisHistory = true
            }
        case .substanceUseDisorder: history.substanceUseDisorder = true
        case .interactingMedication: history.medications.append(medication("lorazepam", "0.5 mg", .benzodiazepine))
        default: break
        }
        now += 20 * minute
        // Recorded only after the first session when the intake breaks medical-history-before-dose.
        let lateHistory = intakeViolation == .medicalHistoryBeforeDose
        if !lateHistory { add(now, psychiatrist, .psychiatrist, history) }

        // Baseline assessments; PHQ-9 improves over the course for most patients. An item 9
        // above 0 flags suicide risk: the evaluation that follows answers it.
        responder = random.chance(0.75)
        phq9Level = Int.random(in: 15...24, using: &random)
        now += 10 * minute
        if intakeViolation != .baselineAssessment {
            add(now, nurse, .nurse, assessment(.phq9, total: phq9Level, items: 9, max: 3, lastItem: random.chance(0.15) ? 1 : 0))
        }
        now += 5 * minute
        add(now, nurse, .nurse, assessment(.gad7, total: Int.random(in: 8...18, using: &random), items: 7, max: 3))
        now += 5 * minute
        add(now, nurse, .nurse, cssrs(level: random.chance(0.3) ? .low : .none))
        if ptsd {
            now += 5 * minute
            add(now, nurse, .nurse, assessment(.pcl5, total: Int.random(in: 35...60, using: &random), items: 20, max: 4))
        }

        var evaluation = Ketamine_V1_EvaluationCompleted()
        evaluation.evaluationID = "\(patientId)-E1"
        evaluation.diagnoses = history.conditions
        evaluation.treatmentResistant = true
        evaluation.eligible = true
        // Found eligible for another modality than the one given, when the intake breaks it.
        evaluation.eligibleModalities = intakeViolation == .evaluationBeforeFirstDose ? [modality == .ketamineIv ? .ketamineIm : .ketamineIv] : [modality]
        now += 40 * minute
        add(now, psychiatrist, .psychiatrist, evaluation)

        let scope: Ketamine_V1_ConsentScope = switch modality {
        case .ketamineIv: .ketamineIv
        case .ketamineIm: .ketamineIm
        case .esketamineNasal: .esketamineNasal
        default: .ketamineNasal
        }
        var consent = Ketamine_V1_ConsentGiven()
        consent.consentID = "\(patientId)-C1"
        consent.scope = scope
        consent.formVersion = "2026-01"
        consent.obtainedBy = physician
        // Racemic ketamine is off-label for mood disorders: the patient is told.
        consent.offLabelAcknowledged = modality != .esketamineNasal && intakeViolation != .offLabelConsent
        now += 30 * minute
        consent.signedAt = stamp(now)
        let lateConsent = intakeViolation == .consentBeforeDose
        if !lateConsent { add(now, physician, .physician, consent) }

        var rems = Ketamine_V1_RemsEnrolled()
        rems.enrollmentID = "REMS-\(patientId)"
        let enrolls = modality == .esketamineNasal && !course.inpatient
        let lateEnrollment = intakeViolation == .remsEnrollment
        if enrolls && !lateEnrollment {
            now += 10 * minute
            rems.enrolledAt = stamp(now)
            add(now, physician, .physician, rems)
        }

        var plan = Ketamine_V1_TreatmentPlanned()
        plan.planID = "\(patientId)-PL1"
        plan.modality = modality
        plan.phase = .induction
        plan.sessionsPlanned = 6
        plan.maxSessionsPerWeek = 2
        plan.indication = course.indication
        if modality == .ketamineIv || modality == .ketamineIm { plan.doseMgPerKg = 0.5 } else { plan.doseMg = modality == .esketamineNasal ? 56 : 50 }
        now += 30 * minute
        plan.startDate = String(ClinicalTime.format(now + 2 * ClinicalTime.day).prefix(10))
        add(now, psychiatrist, .psychiatrist, plan)

        let periodEnd = generator.start + days * ClinicalTime.day
        let withdraws = index == 5
        var day = (now - generator.start) / ClinicalTime.day + 2
        var doses = 0
        for session in 1...6 {
            let sessionStart = generator.start + day * ClinicalTime.day + 9 * 60 * minute
            guard sessionStart < periodEnd else { break }
            if withdraws && session == 4 {
                var withdrawal = Ketamine_V1_ConsentWithdrawn()
                withdrawal.consentID = consent.consentID
                withdrawal.reason = "Patient chose to stop treatment"
                add(sessionStart - ClinicalTime.day, staff, .staff, withdrawal)
                break
            }
            let broken = session == 1 ? (intakeViolation ?? sessionViolation(session: 1, position: 1, maintenance: false))
                : sessionViolation(session: session, position: session, maintenance: false)
            doses += 1
            writeSession(id: "\(patientId)-S\(session)", number: session, start: sessionStart, plan: plan, violation: broken, weight: &weight)
            // What the intake left for later is recorded after the first session.
            if session == 1 {
                let after = sessionStart + 6 * 60 * minute
                if lateHistory { add(after, psychiatrist, .psychiatrist, history) }
                if lateConsent {
                    consent.signedAt = stamp(after)
                    add(after, physician, .physician, consent)
                }
                if enrolls && lateEnrollment {
                    rems.enrolledAt = stamp(after)
                    add(after, physician, .physician, rems)
                }
                if intakeViolation == .contraindication {
                    // The flag was entered in error: a corrected history before the next session.
                    var corrected = history
                    corrected.uncontrolledHypertension = false
                    corrected.aneurysmalVascularDisease = false
                    corrected.ketamineHypersensitivity = false
                    corrected.psychosisHistory = false
                    add(after, psychiatrist, .psychiatrist, corrected)
                }
            }
            // The next session the day after, when this one breaks session-frequency: three in a
            // week under a plan that allows two.
            day += broken == .sessionFrequency ? 1 : session % 2 == 1 ? 3 : 4
        }

        if generator.maintenance && !withdraws && doses == 6 {
            var maintenance = plan
            maintenance.planID = "\(patientId)-PL2"
            maintenance.phase = .maintenance
            maintenance.sessionsPlanned = 1000
            maintenance.maxSessionsPerWeek = 1
            day += 7
            maintenance.startDate = String(ClinicalTime.format(generator.start + day * ClinicalTime.day).prefix(10))
            add(generator.start + (day - 3) * ClinicalTime.day, psychiatrist, .psychiatrist, maintenance)
            // An interacting medication found at the intake was tapered off and stopped during induction.
            if intakeViolation == .interactingMedication {
                var stopped = Ketamine_V1_MedicationChanged()
                stopped.name = "lorazepam"
                stopped.medicationClass = .benzodiazepine
                stopped.change = .stopped
                add(generator.start + (day - 4) * ClinicalTime.day, psychiatrist, .psychiatrist, stopped)
            }
            var position = 1
            while generator.start + day * ClinicalTime.day + 9 * 60 * minute < periodEnd {
                let sessionStart = generator.start + day * ClinicalTime.day + 9 * 60 * minute
                let broken = sessionViolation(session: 6 + position, position: position, maintenance: true)
                writeSession(id: "\(patientId)-S\(6 + position)", number: 6 + position, start: sessionStart, plan: maintenance, violation: broken, weight: &weight, positionInPlan: position)
                position += 1
                // Two in a week under a plan that allows one, when this one breaks session-frequency.
                day += broken == .sessionFrequency ? 3 : Int64.random(in: 7...10, using: &random)
            }
        }

        if index % 4 == 1 {
            var access = Ketamine_V1_RecordAccessed()
            access.purpose = .disclosure
            access.disclosedTo = "Dr. \(familyNames[index % familyNames.count]), referring psychiatrist"
            access.description_p = "Treatment summary sent at the patient's request"
            add(now + 20 * ClinicalTime.day, staff, .staff, access)
        }
        if index % 6 == 4 {
            // A dose change of a regular medication, mid-course.
            var changed = Ketamine_V1_MedicationChanged()
            changed.name = "sertraline"
            changed.medicationClass = .ssri
            changed.change = .doseChanged
            changed.dose = "150 mg"
            add(now + 10 * ClinicalTime.day, psychiatrist, .psychiatrist, changed)
        }
        events.sort { $0.time < $1.time }
    }

    /// The rule a session other than the intake's breaks, if any.
    mutating func sessionViolation(session: Int, position: Int, maintenance: Bool) -> Violation? {
        violation(session: session, positionInPlan: position, maintenance: maintenance, intake: false)
    }

    mutating func writeSession(id sessionId: String, number: Int, start: Int64, plan: Ketamine_V1_TreatmentPlanned,
                               violation: Violation?, weight: inout Double, positionInPlan: Int? = nil) {
        let minute = Self.minute
        let modality = course.modality
        let position = positionInPlan ?? number
        let nasal = modality == .esketamineNasal || modality == .ketamineNasal
        var scheduled = Ketamine_V1_SessionScheduled()
        scheduled.sessionID = sessionId
        scheduled.planID = plan.planID
        scheduled.scheduledFor = stamp(start)
        add(start - ClinicalTime.day, staff, .staff, scheduled)

        var check = Ketamine_V1_PreSessionCheckRecorded()
        check.sessionID = sessionId
        check.lastSolidFoodAt = stamp(start - (violation == .fasting ? 2 : 6) * 60 * minute)
        check.lastClearLiquidAt = stamp(start - 3 * 60 * minute)
        check.escortName = "\(givenNames[(index + 3) % givenNames.count]) \(familyNames[(index + 7) % familyNames.count])"
        check.escortPresent = violation != .escort
        var bp = Ketamine_V1_BloodPressure()
        bp.systolic = violation == .bloodPressureThreshold ? 152 : Int32.random(in: 108...132, using: &random)
        bp.diastolic = Int32.random(in: 68...84, using: &random)
        check.bloodPressure = bp
        check.heartRate = Int32.random(in: 60...88, using: &random)
        check.spo2 = Int32.random(in: 96...99, using: &random)
        check.baselineMoaas = 5
        if violation != .preSessionCheckMissing {
            add(start - 30 * minute, nurse, .nurse, check)
        } else if modality == .esketamineNasal {
            // Without a check, a reading before the dose still gives esketamine its pre-dose pressure.
            add(start - 10 * minute, nurse, .nurse, vitals(sessionId, at: start - 10 * minute, moaas: 5))
        }
        if violation == .doseBeforeRiskEvaluation {
            // A high-risk screener before the dose; the psychiatrist sees the patient only the
            // next day (so the risk is followed up, but after the dose).
            add(start - 20 * minute, nurse, .nurse, cssrs(level: .high))
            var evaluation = Ketamine_V1_EvaluationCompleted()
            evaluation.evaluationID = "\(sessionId)-E"
            evaluation.eligible = true
            evaluation.eligibleModalities = [modality]
            evaluation.treatmentResistant = true
            add(start + ClinicalTime.day, psychiatrist, .psychiatrist, evaluation)
        }

        weight += Double(Int.random(in: -1...1, using: &random))
        var dose = Ketamine_V1_DoseAdministered()
        dose.sessionID = sessionId
        dose.planID = plan.planID
        dose.weightKg = weight
        dose.lotNumber = "LOT-\(2600 + index % 7)"
        dose.startedAt = stamp(start)
        dose.setting = course.inpatient ? .inpatient : .clinic
        switch modality {
        case .esketamineNasal:
            dose.drug = .esketamine
            dose.route = .intranasal
            // 84 mg from the first session is the labelled dose for suicidal ideation (MDSI).
            dose.doseMg = number == 1 && course.indication != .mdsi ? 56 : 84
            dose.devices = Int32(dose.doseMg / 28) + (violation == .dosePlanMismatch ? 1 : 0)
            if violation == .esketamineSetting { dose.setting = .home }
            if dose.setting == .clinic && violation != .prescriberOnSite { dose.prescriberOnSiteID = physician }
        case .ketamineNasal:
            dose.drug = .ketamine
            dose.route = .intranasal
            dose.doseMg = 50
            dose.devices = 5
        default:
            dose.drug = .ketamine
            dose.route = modality == .ketamineIv ? .iv : .im
            let perKg = violation == .doseRange ? 1.4 : Double(Int.random(in: 50...80, using: &random)) / 100
            // Rounded up to a whole mg, so that the dose never falls below the plan's mg/kg.
            dose.doseMg = (weight * perKg).rounded(.up)
            if modality == .ketamineIv { dose.infusionMinutes = violation == .infusionDuration ? 25 : 40 }
        }
        add(start, nurse, .nurse, dose)

        // Monitoring: two hours after intranasal doses, an hour after IM, an hour after an IV
        // infusion ends.
        let infusion = modality == .ketamineIv ? Int64(dose.infusionMinutes) : 0
        let stay: Int64 = (nasal ? 125 : 70 + infusion) - (violation == .monitoringDuration ? 45 : 0)
        var offsets: [Int64] = [15]
        if stay > 50 && violation != .esketamineVitals { offsets.append(40) }
        offsets.append(stay - 5)
        for offset in offsets {
            var reading = vitals(sessionId, at: start + offset * minute, moaas: offset == 15 ? 4 : 5)
            if offset == 15 && violation == .postDoseVitalsAlert {
                // Oxygen saturation falls, and no respiratory depression is recorded.
                reading.spo2 = 86
            }
            if offset == stay - 5 && violation == .dischargeVitals {
                reading.bloodPressure.systolic = 166
                reading.bloodPressure.diastolic = 104
            }
            add(start + offset * minute, nurse, .nurse, reading)
            if offset == 40 && number == 2 && index % 7 == 2 {
                // A typo corrected: the reading is voided by the nurse who made it and recorded anew.
                let wrong = events[events.count - 1].id
                var void = Ketamine_V1_EntryVoided()
                void.voidedEventID = wrong
                void.reason = "Entered for the wrong minute"
                add(start + (offset + 1) * minute, nurse, .nurse, void)
                reading.measuredAt = stamp(start + (offset + 2) * minute)
                add(start + (offset + 2) * minute, nurse, .nurse, reading)
            }
        }

        if violation == .dischargeWithUnresolvedEffect || random.chance(0.6) {
            var effect = Ketamine_V1_SideEffectObserved()
            effect.sideEffectID = "\(sessionId)-SE1"
            effect.sessionID = sessionId
            effect.kind = violation == .dischargeWithUnresolvedEffect ? .sedation
                : [.dissociation, .dissociation, .sedation, .nausea, .dizziness, .headache][Int.random(in: 0..<6, using: &random)]
            effect.severity = random.chance(0.8) ? .mild : .moderate
            effect.onsetAt = stamp(start + 10 * minute)
            add(start + 10 * minute, nurse, .nurse, effect)
            var resolved = Ketamine_V1_SideEffectResolved()
            resolved.sideEffectID = effect.sideEffectID
            let resolvedAfter: Int64 = violation == .dischargeWithUnresolvedEffect ? stay + 20 : min(50, stay - 2)
            resolved.resolvedAt = stamp(start + resolvedAfter * minute)
            add(start + resolvedAfter * minute, nurse, .nurse, resolved)
        }

        var discharge = Ketamine_V1_PatientDischarged()
        discharge.sessionID = sessionId
        discharge.dischargedAt = stamp(start + stay * minute)
        discharge.aldreteScore = violation == .dischargeReadiness ? 8 : 10
        discharge.escortConfirmed = true
        discharge.drivingAdviceGiven = violation != .drivingAdvice
        add(start + stay * minute, nurse, .nurse, discharge)

        if modality == .esketamineNasal && !course.inpatient && violation != .remsFormDeadline {
            var form = Ketamine_V1_RemsMonitoringFormSubmitted()
            form.sessionID = sessionId
            form.submittedAt = stamp(start + ClinicalTime.day)
            add(start + ClinicalTime.day, staff, .staff, form)
        }
        if (modality == .ketamineIv || modality == .ketamineIm)
            && (violation == .wasteWitness || violation == .wasteReconciliation || random.chance(0.3)) {
            var waste = Ketamine_V1_DrugWasted()
            waste.sessionID = sessionId
            waste.drug = .ketamine
            waste.lotNumber = violation == .wasteReconciliation ? "LOT-9999" : dose.lotNumber
            waste.amountMg = 10
            waste.witnessedBy = violation == .wasteWitness ? nurse : otherNurse
            add(start + (stay + 1) * minute, nurse, .nurse, waste)
        }

        // A score every third dose of a plan (measurement-based care), after the session.
        if position % 3 == 0 && violation != .measurementBasedCare {
            let change = responder ? Int.random(in: 3...6, using: &random) : Int.random(in: -1...2, using: &random)
            phq9Level = min(24, max(1, phq9Level - (position <= 6 && plan.phase == .induction ? change : Int.random(in: -2...2, using: &random))))
            add(start + 200 * minute, nurse, .nurse, assessment(.phq9, total: phq9Level, items: 9, max: 3, lastItem: 0))
        }
        if violation == .suicideRiskFollowUp {
            // Item 9 answered above 0 after the session, and no psychiatrist sees the patient.
            add(start + 210 * minute, nurse, .nurse, assessment(.phq9, total: max(phq9Level, 3), items: 9, max: 3, lastItem: 1))
        }
    }

    func vitals(_ sessionId: String, at time: Int64, moaas: Int32) -> Ketamine_V1_VitalsRecorded {
        var vitals = Ketamine_V1_VitalsRecorded()
        vitals.sessionID = sessionId
        vitals.measuredAt = stamp(time)
        var reading = Ketamine_V1_BloodPressure()
        // Readings drawn from the time, so that they need no draw from the history's generator.
        let noise = Int32(truncatingIfNeeded: (time / 60_000_000_000) % 17)
        reading.systolic = 114 + noise
        reading.diastolic = 70 + noise / 2
        vitals.bloodPressure = reading
        vitals.heartRate = 64 + noise
        vitals.spo2 = 95 + noise % 5
        vitals.respiratoryRate = 12 + noise % 6
        vitals.moaas = moaas
        return vitals
    }

    func condition(_ code: String, _ display: String) -> Ketamine_V1_Condition {
        var condition = Ketamine_V1_Condition()
        condition.code = code
        condition.display = display
        return condition
    }

    func medication(_ name: String, _ dose: String, _ kind: Ketamine_V1_MedicationClass) -> Ketamine_V1_Medication {
        var medication = Ketamine_V1_Medication()
        medication.name = name
        medication.dose = dose
        medication.medicationClass = kind
        return medication
    }

    /// Item scores that add up to `total` (capped by the items' range).
    mutating func assessment(_ instrument: Ketamine_V1_Instrument, total: Int, items: Int, max: Int, lastItem: Int? = nil) -> Ketamine_V1_AssessmentRecorded {
        var scores = [Int32](repeating: 0, count: items)
        var left = total
        if let lastItem {
            scores[items - 1] = Int32(lastItem)
            left -= lastItem
        }
        let fillable = lastItem == nil ? items : items - 1
        left = Swift.min(Swift.max(0, left), fillable * max)
        while left > 0 {
            let item = Int.random(in: 0..<fillable, using: &random)
            if scores[item] < max {
                scores[item] += 1
                left -= 1
            }
        }
        var recorded = Ketamine_V1_AssessmentRecorded()
        recorded.assessmentID = "\(patientId)-A\(events.count)"
        recorded.instrument = instrument
        recorded.itemScores = scores
        return recorded
    }

    enum RiskLevel { case none, low, high }

    mutating func cssrs(level: RiskLevel) -> Ketamine_V1_AssessmentRecorded {
        var recorded = Ketamine_V1_AssessmentRecorded()
        recorded.assessmentID = "\(patientId)-A\(events.count)"
        recorded.instrument = .cssrsScreener
        recorded.itemScores = switch level {
        case .none: [0, 0, 0, 0, 0, 0]
        case .low: [1, 0, 0, 0, 0, 0]
        case .high: [1, 1, 0, 1, 0, 0]
        }
        return recorded
    }
}
