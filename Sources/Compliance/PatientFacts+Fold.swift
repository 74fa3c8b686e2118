import ClinicalRecord
import EventStore
import Foundation

extension PatientFacts {
    /// The types whose facts the rules read.
    static let types: Set<ClinicalEventType> = [
        .patientRegistered, .doseAdministered, .preSessionCheckRecorded, .consentGiven, .consentWithdrawn,
        .evaluationCompleted, .assessmentRecorded, .medicalHistoryRecorded, .medicationChanged, .remsEnrolled,
        .treatmentPlanned, .sessionScheduled, .vitalsRecorded, .sideEffectObserved, .sideEffectResolved,
        .patientDischarged, .remsMonitoringFormSubmitted, .drugWasted,
    ]

    /// Adds one event that is not voided, then judges what has settled.
    mutating func add(_ event: ReplayedEvent, book: RuleBook) {
        let time = event.time
        clock = max(clock, time)
        switch event.payload {
        case .patientRegistered(let v):
            born = ClinicalTime.date(v.birthDate.string)
        case .doseAdministered(let v):
            let dose = DoseFact(
                sequence: event.sequence, time: time, session: sessions[v.sessionId.bytes]?.id ?? v.sessionId.string, plan: v.planId.string,
                drug: v.drug, route: v.route, setting: v.setting, doseMg: v.doseMg, weightKg: v.weightKg,
                lot: Array(v.lotNumber.bytes), startedAt: v.startedAt, infusionMinutes: v.infusionMinutes,
                devices: v.devices, hasPrescriberOnSite: !(v.prescriberOnSiteId?.isEmpty ?? true))
            doses.append(dose)
            update(session: v.sessionId, at: time) { session in
                session.pendingDoses += 1
                session.doses.append((dose.drug, dose.lot))
            }
            clock = max(clock, dose.startedAt)
            pendingSince = min(pendingSince, dose.startedAt)
        case .preSessionCheckRecorded(let v):
            let check = CheckFact(
                sequence: event.sequence, time: time, lastSolidFoodAt: v.lastSolidFoodAt, lastClearLiquidAt: v.lastClearLiquidAt,
                escortPresent: v.escortPresent, systolic: v.systolic, diastolic: v.diastolic,
                hasOverrideReason: v.bpOverrideReason.map { !$0.string.allSatisfy(\.isWhitespace) } ?? false)
            update(session: v.sessionId, at: time) { $0.checks.append(check) }
        case .consentGiven(let v):
            consents.append(ConsentFact(id: Array(v.consentId.bytes), sequence: event.sequence, scope: v.scope, signedAt: v.signedAt,
                                        expiresAt: v.expiresAt, offLabelAcknowledged: v.offLabelAcknowledged))
        case .consentWithdrawn(let v):
            for index in consents.indices where consents[index].id.elementsEqual(v.consentId.bytes) {
                consents[index].withdrawals.append(time)
            }
        case .evaluationCompleted(let v):
            evaluations.append(EvaluationFact(time: time, eligible: v.eligible, modalities: v.eligibleModalities))
        case .assessmentRecorded(let v):
            let items = v.itemScores
            let instrument = v.instrument
            let suicideItem: Int = switch instrument {
            case .phq9: items.count == 9 ? Int(items[8]) : 0
            case .madrs: items.count == 10 ? Int(items[9]) : 0
            case .qidsSr16: items.count == 16 ? Int(items[11]) : 0
            default: 0
            }
            let score = instrument.score(items)
            assessments.append(AssessmentFact(
                sequence: event.sequence, time: time, instrument: instrument, session: v.sessionId?.string, total: score.total,
                suicideItem: suicideItem, riskLevel: instrument == .cssrsScreener ? score.band : nil))
            pendingSince = min(pendingSince, time)
        case .medicalHistoryRecorded(let v):
            histories.append(HistoryFact(
                time: time, sequence: event.sequence, psychosis: v.psychosisHistory, substanceUse: v.substanceUseDisorder,
                pregnant: v.pregnant, uncontrolledHypertension: v.uncontrolledHypertension, aneurysmal: v.aneurysmalVascularDisease,
                arteriovenous: v.arteriovenousMalformation, intracerebralHemorrhage: v.intracerebralHemorrhageHistory,
                hypersensitivity: v.ketamineHypersensitivity,
                medications: v.medications.map { (Self.medicationKey($0.name.string), $0.name.string, $0.medicationClass) }))
        case .medicationChanged(let v):
            medicationChanges.append(MedicationChangeFact(
                time: time, sequence: event.sequence, key: Self.medicationKey(v.name.string), name: v.name.string,
                medicationClass: v.medicationClass, change: v.change))
        case .remsEnrolled(let v):
            remsEnrollments.append(v.enrolledAt)
        case .treatmentPlanned(let v):
            // A plan id recorded twice: the first plan counts.
            guard planIndex[v.planId.bytes] == nil else { break }
            planIndex.set(v.planId.bytes, plans.count)
            plans.append(PlanFact(id: v.planId.string, sequence: event.sequence, modality: v.modality,
                                  maxSessionsPerWeek: v.maxSessionsPerWeek, doseMg: v.doseMg, indication: v.indication))
        case .sessionScheduled(let v):
            let plan = v.planId.string
            update(session: v.sessionId, at: time) { session in
                // A session scheduled twice: the latest scheduling decides its plan.
                if (time, event.sequence) >= session.scheduledAt {
                    session.scheduledAt = (time, event.sequence)
                    session.scheduledPlan = plan
                }
            }
        case .vitalsRecorded(let v):
            let reading = VitalsFact(sequence: event.sequence, measuredAt: v.measuredAt, systolic: v.systolic, diastolic: v.diastolic,
                                     spo2: v.spo2, respiratoryRate: v.respiratoryRate, moaas: v.moaas)
            update(session: v.sessionId, at: time) { $0.vitals.append(reading) }
        case .sideEffectObserved(let v):
            // A side effect with no session is judged by no rule.
            guard let session = v.sessionId else { break }
            let effect = SideEffectFact(id: Array(v.sideEffectId.bytes), name: v.sideEffectId.string, kind: v.kind, onsetAt: v.onsetAt)
            update(session: session, at: time) { $0.sideEffects.append(effect) }
        case .sideEffectResolved(let v):
            let resolved = v.resolvedAt
            resolutions.modify(v.sideEffectId.bytes, default: []) { $0.append(resolved) }
        case .patientDischarged(let v):
            let discharge = DischargeFact(sequence: event.sequence, dischargedAt: v.dischargedAt, aldreteScore: v.aldreteScore,
                                          escortConfirmed: v.escortConfirmed, drivingAdviceGiven: v.drivingAdviceGiven)
            update(session: v.sessionId, at: time) { $0.discharges.append(discharge) }
        case .remsMonitoringFormSubmitted(let v):
            let submitted = v.submittedAt
            update(session: v.sessionId, at: time) { $0.remsForms.append(submitted) }
        case .drugWasted(let v):
            let waste = WasteFact(sequence: event.sequence, time: time, drug: v.drug, lot: Array(v.lotNumber.bytes), amountMg: v.amountMg,
                                  witnessedByRecorder: v.witnessedBy.bytes.elementsEqual(event.record.actorBytes), recorder: event.actorId)
            update(session: v.sessionId, at: time) { $0.wastes.append(waste) }
            pendingSince = min(pendingSince, time)
        case .patientDetailsUpdated, .sessionCancelled, .entryVoided, .recordAccessed, .patientForgotten:
            break // no rule reads them
        }
        // Settled in batches (half a window's worth of sessions at a time), not one by one. A
        // window too long to subtract (a policy that never settles early) waits for the end.
        let (cutoff, past) = clock.subtractingReportingOverflow(book.settlingWindow)
        let (trigger, beyond) = cutoff.subtractingReportingOverflow(book.settlingWindow / 2)
        if !past && !beyond && pendingSince < trigger {
            settle(before: cutoff, book: book)
        }
    }

    /// How medications are matched: by name, trimmed and ignoring case.
    static func medicationKey(_ name: String) -> String {
        name.trimmingCharacters(in: .whitespaces).lowercased()
    }
}
