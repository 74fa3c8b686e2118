import Foundation
import SwiftProtobuf

/// A realistic synthetic clinic history for a seed: patients registered over the period, assessed,
/// evaluated, consented and treated in every modality, with scores that mostly improve, side
/// effects that resolve, a withdrawal, corrections by voiding, disclosures, and a share of
/// sessions that break a compliance rule. The same seed always gives the same events and ids.
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

    public init(seed: UInt64 = 42, patients: Int = 40, months: Int = 6, ruleBreakingShare: Double = 0.04,
                start: Int64 = ClinicalTime.parse("2026-01-05T00:00:00Z") ?? 0) {
        self.seed = seed
        self.patients = patients
        self.months = months
        self.ruleBreakingShare = ruleBreakingShare
        self.start = start
    }

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
}

private let givenNames = ["Ana", "Ben", "Chloe", "David", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara"]
private let familyNames = ["Alvarez", "Brown", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen", "Kowalski", "Lopez", "Moreau", "Novak", "Okafor", "Petrov", "Quinlan", "Rossi", "Silva", "Tanaka"]

/// Writes one patient's history.
private struct PatientHistoryWriter {
    let generator: ClinicGenerator
    let index: Int
    let patientId: String
    var random: SeededRandom
    var events: [ClinicalEventInput] = []
    let staff: String, nurse: String, otherNurse: String, physician: String, psychiatrist: String

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

    mutating func breaks(_ share: Double = 1) -> Bool { random.chance(generator.ruleBreakingShare * share) }

    /// The one rule a rule-breaking session breaks.
    enum Violation: CaseIterable {
        case fasting, escortAbsent, highBloodPressure, noPreSessionCheck, doseOutOfRange, shortStay,
             lowAldrete, noDrivingAdvice, missingRemsForm, missingEsketamineVitals, unresolvedEffect, selfWitnessedWaste
    }

    mutating func write() {
        let minute = Self.minute
        let days = Int64(max(1, generator.months) * 30)
        // Registered in the first two thirds of the period, so that most have treatment to show.
        var now = generator.start + Int64.random(in: 0..<(days * 2 / 3), using: &random) * ClinicalTime.day + 8 * 60 * minute
        let modalities: [Ketamine_V1_Modality] = [.ketamineIv, .esketamineNasal, .ketamineIm, .ketamineNasal]
        let modality = modalities[index % modalities.count]
        var weight = Double(Int.random(in: 52...110, using: &random))

        var registration = Ketamine_V1_PatientRegistered()
        registration.givenName = givenNames[Int.random(in: 0..<givenNames.count, using: &random)]
        registration.familyName = familyNames[Int.random(in: 0..<familyNames.count, using: &random)]
        registration.birthDate = "\(Int.random(in: 1950...2004, using: &random))-\(String(Int.random(in: 1...12, using: &random)).leftPadded(2))-\(String(Int.random(in: 1...28, using: &random)).leftPadded(2))"
        registration.sex = [.female, .male, .female, .male, .other][Int.random(in: 0..<5, using: &random)]
        registration.weightKg = weight
        if random.chance(0.7) { registration.phone = "+1-555-\(String(Int.random(in: 0...9999, using: &random)).leftPadded(4))" }
        add(now, staff, .staff, registration)

        var history = Ketamine_V1_MedicalHistoryRecorded()
        history.conditions = [condition("F33.2", "Major depressive disorder, recurrent, severe")]
        if index % 5 == 3 { history.conditions.append(condition("F43.10", "Post-traumatic stress disorder")) }
        history.medications = [medication("sertraline", "100 mg", .ssri)]
        if random.chance(0.3) { history.medications.append(medication("lorazepam", "0.5 mg", .benzodiazepine)) }
        // A rule-breaking record: a contraindication on file, treated anyway.
        history.uncontrolledHypertension = breaks(0.5)
        now += 20 * minute
        add(now, psychiatrist, .psychiatrist, history)

        // Baseline assessments; PHQ-9 improves over the course for most patients.
        let responder = random.chance(0.75)
        var phq9Level = Int.random(in: 15...24, using: &random)
        now += 10 * minute
        add(now, nurse, .nurse, assessment(.phq9, total: phq9Level, items: 9, max: 3, lastItem: random.chance(0.15) ? 1 : 0))
        now += 5 * minute
        add(now, nurse, .nurse, assessment(.gad7, total: Int.random(in: 8...18, using: &random), items: 7, max: 3))
        now += 5 * minute
        add(now, nurse, .nurse, cssrs(high: false))
        if index % 5 == 3 {
            now += 5 * minute
            add(now, nurse, .nurse, assessment(.pcl5, total: Int.random(in: 35...60, using: &random), items: 20, max: 4))
        }

        var evaluation = Ketamine_V1_EvaluationCompleted()
        evaluation.evaluationID = "\(patientId)-E1"
        evaluation.diagnoses = history.conditions
        evaluation.treatmentResistant = true
        evaluation.eligible = true
        evaluation.eligibleModalities = [modality]
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
        now += 30 * minute
        consent.signedAt = stamp(now)
        if !breaks(0.5) { add(now, physician, .physician, consent) }

        if modality == .esketamineNasal {
            var rems = Ketamine_V1_RemsEnrolled()
            rems.enrollmentID = "REMS-\(patientId)"
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
        if modality == .ketamineIv || modality == .ketamineIm { plan.doseMgPerKg = 0.5 } else { plan.doseMg = modality == .esketamineNasal ? 56 : 50 }
        now += 30 * minute
        plan.startDate = String(ClinicalTime.format(now + 2 * ClinicalTime.day).prefix(10))
        add(now, psychiatrist, .psychiatrist, plan)

        let periodEnd = generator.start + days * ClinicalTime.day
        let withdraws = index == 5
        var day = (now - generator.start) / ClinicalTime.day + 2
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
            writeSession(number: session, start: sessionStart, plan: plan, modality: modality, weight: &weight)
            if session % 2 == 0 {
                phq9Level = min(24, max(1, phq9Level - (responder ? Int.random(in: 3...6, using: &random) : Int.random(in: -1...2, using: &random))))
                add(sessionStart + 200 * minute, nurse, .nurse, assessment(.phq9, total: phq9Level, items: 9, max: 3, lastItem: 0))
            }
            day += session % 2 == 1 ? 3 : 4
        }

        if generator.maintenance && !withdraws {
            var maintenance = plan
            maintenance.planID = "\(patientId)-PL2"
            maintenance.phase = .maintenance
            maintenance.sessionsPlanned = 1000
            maintenance.maxSessionsPerWeek = 1
            day += 7
            maintenance.startDate = String(ClinicalTime.format(generator.start + day * ClinicalTime.day).prefix(10))
            add(generator.start + (day - 3) * ClinicalTime.day, psychiatrist, .psychiatrist, maintenance)
            var session = 7
            while generator.start + day * ClinicalTime.day + 9 * 60 * minute < periodEnd {
                let sessionStart = generator.start + day * ClinicalTime.day + 9 * 60 * minute
                writeSession(number: session, start: sessionStart, plan: maintenance, modality: modality, weight: &weight)
                if session % 4 == 0 {
                    phq9Level = min(24, max(1, phq9Level + Int.random(in: -2...2, using: &random)))
                    add(sessionStart + 200 * minute, nurse, .nurse, assessment(.phq9, total: phq9Level, items: 9, max: 3, lastItem: 0))
                }
                session += 1
                day += Int64.random(in: 7...10, using: &random)
            }
        }

        if index % 4 == 1 {
            var access = Ketamine_V1_RecordAccessed()
            access.purpose = .disclosure
            access.disclosedTo = "Dr. \(familyNames[index % familyNames.count]), referring psychiatrist"
            access.description_p = "Treatment summary sent at the patient's request"
            add(now + 20 * ClinicalTime.day, staff, .staff, access)
        }
        events.sort { $0.time < $1.time }
    }

    mutating func writeSession(number: Int, start: Int64, plan: Ketamine_V1_TreatmentPlanned, modality: Ketamine_V1_Modality, weight: inout Double) {
        let minute = Self.minute
        let sessionId = "\(patientId)-S\(number)"
        let nasal = modality == .esketamineNasal || modality == .ketamineNasal
        let violation: Violation? = breaks() ? Violation.allCases.filter { kind in
            switch kind {
            case .missingRemsForm, .missingEsketamineVitals: modality == .esketamineNasal
            case .selfWitnessedWaste, .doseOutOfRange: modality == .ketamineIv || modality == .ketamineIm
            default: true
            }
        }.randomElement(using: &random) : nil
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
        check.escortPresent = violation != .escortAbsent
        var bp = Ketamine_V1_BloodPressure()
        bp.systolic = violation == .highBloodPressure ? 152 : Int32.random(in: 108...132, using: &random)
        bp.diastolic = Int32.random(in: 68...84, using: &random)
        check.bloodPressure = bp
        check.heartRate = Int32.random(in: 60...88, using: &random)
        check.spo2 = Int32.random(in: 96...99, using: &random)
        check.baselineMoaas = 5
        let skipsCheck = violation == .noPreSessionCheck
        if !skipsCheck { add(start - 30 * minute, nurse, .nurse, check) }

        weight += Double(Int.random(in: -1...1, using: &random))
        var dose = Ketamine_V1_DoseAdministered()
        dose.sessionID = sessionId
        dose.planID = plan.planID
        dose.weightKg = weight
        dose.lotNumber = "LOT-\(2600 + index % 7)"
        dose.startedAt = stamp(start)
        dose.setting = .clinic
        switch modality {
        case .esketamineNasal:
            dose.drug = .esketamine
            dose.route = .intranasal
            dose.doseMg = number == 1 ? 56 : 84
            dose.devices = Int32(dose.doseMg / 28)
        case .ketamineNasal:
            dose.drug = .ketamine
            dose.route = .intranasal
            dose.doseMg = 50
            dose.devices = 5
        default:
            dose.drug = .ketamine
            dose.route = modality == .ketamineIv ? .iv : .im
            dose.doseMg = (weight * (violation == .doseOutOfRange ? 1.4 : 0.5)).rounded()
            if modality == .ketamineIv { dose.infusionMinutes = 40 }
        }
        add(start, nurse, .nurse, dose)

        let stay: Int64 = (nasal ? 125 : 70) - (violation == .shortStay ? 45 : 0)
        for offset: Int64 in [15, 40, stay - 5] where !(violation == .missingEsketamineVitals && offset == 40) {
            var vitals = Ketamine_V1_VitalsRecorded()
            vitals.sessionID = sessionId
            vitals.measuredAt = stamp(start + offset * minute)
            var reading = Ketamine_V1_BloodPressure()
            reading.systolic = Int32.random(in: 112...138, using: &random)
            reading.diastolic = Int32.random(in: 70...88, using: &random)
            vitals.bloodPressure = reading
            vitals.heartRate = Int32.random(in: 62...92, using: &random)
            vitals.spo2 = Int32.random(in: 95...99, using: &random)
            vitals.moaas = offset == 15 ? 4 : 5
            add(start + offset * minute, nurse, .nurse, vitals)
            if offset == 40 && number == 2 && index % 7 == 2 {
                // A typo corrected: the reading is voided by the nurse who made it and recorded anew.
                let wrong = events[events.count - 1].id
                var void = Ketamine_V1_EntryVoided()
                void.voidedEventID = wrong
                void.reason = "Entered for the wrong minute"
                add(start + (offset + 1) * minute, nurse, .nurse, void)
                vitals.measuredAt = stamp(start + (offset + 2) * minute)
                add(start + (offset + 2) * minute, nurse, .nurse, vitals)
            }
        }

        if violation == .unresolvedEffect || random.chance(0.6) {
            var effect = Ketamine_V1_SideEffectObserved()
            effect.sideEffectID = "\(sessionId)-SE1"
            effect.sessionID = sessionId
            effect.kind = violation == .unresolvedEffect ? .sedation : [.dissociation, .dissociation, .sedation, .nausea, .dizziness][Int.random(in: 0..<5, using: &random)]
            effect.severity = random.chance(0.8) ? .mild : .moderate
            effect.onsetAt = stamp(start + 10 * minute)
            add(start + 10 * minute, nurse, .nurse, effect)
            var resolved = Ketamine_V1_SideEffectResolved()
            resolved.sideEffectID = effect.sideEffectID
            let resolvedAfter: Int64 = violation == .unresolvedEffect ? stay + 20 : 50
            resolved.resolvedAt = stamp(start + resolvedAfter * minute)
            add(start + resolvedAfter * minute, nurse, .nurse, resolved)
        }

        var discharge = Ketamine_V1_PatientDischarged()
        discharge.sessionID = sessionId
        discharge.dischargedAt = stamp(start + stay * minute)
        discharge.aldreteScore = violation == .lowAldrete ? 8 : 10
        discharge.escortConfirmed = true
        discharge.drivingAdviceGiven = violation != .noDrivingAdvice
        add(start + stay * minute, nurse, .nurse, discharge)

        if modality == .esketamineNasal && violation != .missingRemsForm {
            var form = Ketamine_V1_RemsMonitoringFormSubmitted()
            form.sessionID = sessionId
            form.submittedAt = stamp(start + ClinicalTime.day)
            add(start + ClinicalTime.day, staff, .staff, form)
        }
        if modality == .ketamineIv && (violation == .selfWitnessedWaste || random.chance(0.3)) {
            var waste = Ketamine_V1_DrugWasted()
            waste.sessionID = sessionId
            waste.drug = .ketamine
            waste.lotNumber = dose.lotNumber
            waste.amountMg = 10
            waste.witnessedBy = violation == .selfWitnessedWaste ? nurse : otherNurse
            add(start + (stay + 1) * minute, nurse, .nurse, waste)
        }
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

    mutating func cssrs(high: Bool) -> Ketamine_V1_AssessmentRecorded {
        var recorded = Ketamine_V1_AssessmentRecorded()
        recorded.assessmentID = "\(patientId)-A\(events.count)"
        recorded.instrument = .cssrsScreener
        recorded.itemScores = [random.chance(0.3) ? 1 : 0, 0, 0, high ? 1 : 0, 0, 0]
        return recorded
    }
}
