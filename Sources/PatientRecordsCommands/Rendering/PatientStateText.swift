import ClinicalRecord
import Foundation

/// A patient's state as a clinician reads it on a terminal. Every stored text is made
/// terminal-safe (``TerminalText``).
enum PatientStateText {
    static func render(_ state: PatientState, display: Display = Display()) -> String {
        let t = TerminalText.safe
        if let forgotten = state.forgotten {
            return """
                Patient \(t(state.patientId)) was forgotten on \(display.time(forgotten.at)) by \(t(forgotten.by)): \(t(forgotten.reason)).
                Their data key was destroyed: none of their earlier entries can be read any more.
                """
        }
        var out: [String] = []
        let record = state.record
        if let r = state.registration {
            out.append("Patient \(t(state.patientId)): \(t(r.givenName)) \(t(r.familyName)), \(display.label(r.sex)), born \(t(r.birthDate))"
                + (state.age.map { " (age \($0))" } ?? "") + (state.weightKg.map { ", \(display.number($0)) kg" } ?? ""))
        } else {
            out.append("Patient \(t(state.patientId))")
        }
        out.append("As of \(display.time(state.judgedAt)), sequence \(record.lastSequence): \(record.eventCount) events, \(record.voidedCount) voided")
        if let history = state.history {
            out.append("History (\(display.time(record.historyAt))): " + (history.conditions.isEmpty ? "no conditions" : history.conditions.map { t("\($0.code) \($0.display)") }.joined(separator: "; ")))
            let flags = PatientStateJSON.flags(history)
            out.append("  flags: " + (flags.isEmpty ? "none" : flags.joined(separator: ", ")))
        }
        if !state.medications.isEmpty {
            out.append("Medications: " + state.medications.map { m in
                t("\(m.name) \(m.dose)") + " (\(display.label(m.medicationClass)), \(display.label(m.status)))"
            }.joined(separator: ", "))
        }
        if let e = state.evaluation {
            out.append("Evaluation \(t(e.evaluationID)) on \(display.time(record.evaluationAt)): \(e.eligible ? "eligible" : "not eligible")"
                + (e.eligibleModalities.isEmpty ? "" : " for " + e.eligibleModalities.map { display.label($0) }.joined(separator: ", "))
                + (e.treatmentResistant ? ", treatment-resistant" : ""))
        }
        out.append("Consents: " + (state.consents.isEmpty ? "none" : state.consents.map { c in
            "\(display.label(c.consent.scope)) \(c.status.rawValue)" + (c.consent.offLabelAcknowledged ? " (off-label acknowledged)" : "")
        }.joined(separator: ", ")) + (record.remsEnrolledAt != 0 ? "; REMS enrolled \(display.time(record.remsEnrolledAt))" : ""))
        if let p = state.currentPlan {
            out.append("Plan \(t(p.plan.planID)): \(display.label(p.plan.modality)) \(display.label(p.plan.phase))"
                + (p.plan.hasIndication ? " for \(display.label(p.plan.indication))" : "")
                + ", \(p.dosesGiven) of \(p.plan.sessionsPlanned) doses given, \(p.dosesInLast7Days) in the last 7 days")
        }
        let instruments = state.instruments
        if !instruments.isEmpty {
            out.append("")
            var table = Table(headers: ["instrument", "baseline", "latest", "change", "trend", "response", "remission"])
            for i in instruments {
                table.rows.append([
                    i.instrument.displayName, i.baseline.map { $0.text(i.instrument) } ?? "-", i.latest.text(i.instrument),
                    i.changeFromBaseline.map { String(format: "%+d", $0) } ?? "-", i.trend.rawValue,
                    i.response?.rawValue ?? "-", i.remission?.rawValue ?? "-",
                ])
            }
            out.append(table.render())
        }
        if !state.sessions.isEmpty {
            out.append("")
            if state.showsLatestSessionsOnly { out.append("The latest \(state.sessions.count) of \(record.sessionCount) sessions:") }
            var table = Table(headers: ["session", "dose", "vitals (last)", "side effects", "discharge"])
            for s in state.sessions {
                let dose = s.hasCancelledReason ? "cancelled: \(s.cancelledReason)" : s.hasDose ? PatientStateJSON.doseText(s.dose, display) : "not dosed"
                let vitals = s.vitals.last.map { "\(s.vitals.count): " + PatientStateJSON.vitalsText($0, display) } ?? "-"
                let effects = s.sideEffects.isEmpty ? "-" : s.sideEffects.map { "\(display.label($0.severity)) \(display.label($0.kind))" }.joined(separator: ", ")
                let discharge = s.hasDischarge ? "\(display.time(s.discharge.dischargedAt.nanosecondsSince1970)), Aldrete \(s.discharge.aldreteScore)" : "-"
                table.rows.append([s.sessionID, dose, vitals, effects, discharge])
            }
            out.append(table.render())
        }
        out.append("")
        let open = state.openSideEffects
        out.append("Open side effects: " + (open.isEmpty ? "none" : open.map {
            "\(display.label($0.observed.severity)) \(display.label($0.observed.kind)) since \(display.time($0.observed.onsetAt.nanosecondsSince1970))"
        }.joined(separator: ", ")))
        return out.joined(separator: "\n")
    }
}

/// A patient's state as JSON for scripts: typed values written plainly (RFC 3339 times, enum
/// labels), every field named.
struct PatientStateJSON: Encodable {
    struct Score: Encodable { var at: String, total: Int32, band: String? }
    struct Outcome: Encodable {
        var instrument: String, baseline: Score?, latest: Score, changeFromBaseline: Int?, trend: String
        var response: String?, remission: String?, recent: [Score]
    }
    struct Medication: Encodable { var name: String, dose: String, medicationClass: String, status: String, changedAt: String }
    struct Consent: Encodable { var consentId: String, scope: String, formVersion: String, signedAt: String, expiresAt: String?, status: String, offLabelAcknowledged: Bool }
    struct Plan: Encodable {
        var planId: String, modality: String, phase: String, indication: String?, sessionsPlanned: Int32, maxSessionsPerWeek: Int32
        var startDate: String, dosesGiven: Int, dosesInLast7Days: Int, firstDoseAt: String?
    }
    struct Vitals: Encodable { var measuredAt: String, systolic: Int32, diastolic: Int32, heartRate: Int32, spo2: Int32, respiratoryRate: Int32?, moaas: Int32? }
    struct SideEffect: Encodable { var sideEffectId: String, sessionId: String?, kind: String, severity: String, onsetAt: String, serious: Bool, resolvedAt: String? }
    struct Session: Encodable {
        var sessionId: String, planId: String, scheduledFor: String?, check: String?, dose: String?, doseStartedAt: String?
        var vitals: [Vitals], sideEffects: [String], discharge: String?, cancelledReason: String?, remsFormSubmittedAt: String?
    }
    struct Forgotten: Encodable { var at: String, by: String, reason: String }

    var patientId: String
    var asOf: String
    var lastSequence: UInt64
    var forgotten: Forgotten?
    var givenName: String?, familyName: String?, sex: String?, birthDate: String?, age: Int?, weightKg: Double?, phone: String?, email: String?
    var conditions: [String], historyFlags: [String], historyRecordedAt: String?
    var medications: [Medication]
    var evaluation: String?
    var consents: [Consent]
    var remsEnrolledAt: String?
    var currentPlan: Plan?
    var instruments: [Outcome]
    var sessions: [Session], sessionCount: UInt64
    var sideEffects: [SideEffect], openSideEffects: [String], sideEffectCount: UInt64
    var eventCount: UInt64, voidedCount: UInt64, unknownTypeCount: UInt64, countsByType: [String: Int]

    init(_ state: PatientState) {
        let r = state.record
        func time(_ ns: Int64) -> String? { ns == 0 ? nil : ClinicalTime.format(ns) }
        func score(_ s: Ketamine_V1_Score, _ i: Ketamine_V1_Instrument) -> Score { Score(at: ClinicalTime.format(s.at), total: s.total, band: s.band(of: i)) }
        patientId = state.patientId
        asOf = ClinicalTime.format(state.judgedAt)
        lastSequence = r.lastSequence
        forgotten = state.forgotten.map { Forgotten(at: ClinicalTime.format($0.at), by: $0.by, reason: $0.reason) }
        let reg = state.registration
        givenName = reg?.givenName
        familyName = reg?.familyName
        sex = reg.map { $0.sex.label }
        birthDate = reg?.birthDate
        age = state.age
        weightKg = state.weightKg
        phone = reg.flatMap { $0.hasPhone ? $0.phone : nil }
        email = reg.flatMap { $0.hasEmail ? $0.email : nil }
        conditions = state.history?.conditions.map { "\($0.code) \($0.display)" } ?? []
        historyFlags = state.history.map(Self.flags) ?? []
        historyRecordedAt = time(r.historyAt)
        medications = state.medications.map { Medication(name: $0.name, dose: $0.dose, medicationClass: $0.medicationClass.label, status: $0.status.label, changedAt: ClinicalTime.format($0.changedAt)) }
        evaluation = state.evaluation.map { e in "\(e.evaluationID): \(e.eligible ? "eligible" : "not eligible") for \(e.eligibleModalities.map(\.label).joined(separator: ", "))" }
        consents = state.consents.map { c in
            Consent(consentId: c.consent.consentID, scope: c.consent.scope.label, formVersion: c.consent.formVersion,
                    signedAt: ClinicalTime.format(c.consent.signedAt.nanosecondsSince1970),
                    expiresAt: c.consent.hasExpiresAt ? ClinicalTime.format(c.consent.expiresAt.nanosecondsSince1970) : nil,
                    status: c.status.rawValue, offLabelAcknowledged: c.consent.offLabelAcknowledged)
        }
        remsEnrolledAt = time(r.remsEnrolledAt)
        currentPlan = state.currentPlan.map { p in
            Plan(planId: p.plan.planID, modality: p.plan.modality.label, phase: p.plan.phase.label, indication: p.plan.hasIndication ? p.plan.indication.label : nil,
                 sessionsPlanned: p.plan.sessionsPlanned, maxSessionsPerWeek: p.plan.maxSessionsPerWeek, startDate: p.plan.startDate,
                 dosesGiven: p.dosesGiven, dosesInLast7Days: p.dosesInLast7Days, firstDoseAt: p.firstDoseAt.map(ClinicalTime.format))
        }
        instruments = state.instruments.map { o in
            Outcome(instrument: o.instrument.displayName, baseline: o.baseline.map { score($0, o.instrument) }, latest: score(o.latest, o.instrument),
                    changeFromBaseline: o.changeFromBaseline, trend: o.trend.rawValue, response: o.response?.rawValue, remission: o.remission?.rawValue,
                    recent: o.recent.map { score($0, o.instrument) })
        }
        sessions = state.sessions.map { s in
            Session(sessionId: s.sessionID, planId: s.planID, scheduledFor: time(s.scheduledFor),
                    check: s.hasCheck ? Self.checkText(s.check) : nil, dose: s.hasDose ? Self.doseText(s.dose, Display()) : nil,
                    doseStartedAt: s.hasDose ? ClinicalTime.format(s.dose.startedAt.nanosecondsSince1970) : nil,
                    vitals: s.vitals.map { v in
                        Vitals(measuredAt: ClinicalTime.format(v.measuredAt.nanosecondsSince1970), systolic: v.bloodPressure.systolic, diastolic: v.bloodPressure.diastolic,
                               heartRate: v.heartRate, spo2: v.spo2, respiratoryRate: v.hasRespiratoryRate ? v.respiratoryRate : nil, moaas: v.hasMoaas ? v.moaas : nil)
                    },
                    sideEffects: s.sideEffects.map { "\($0.severity.label) \($0.kind.label)" },
                    discharge: s.hasDischarge ? "\(ClinicalTime.format(s.discharge.dischargedAt.nanosecondsSince1970)) Aldrete \(s.discharge.aldreteScore), escort \(s.discharge.escortConfirmed ? "confirmed" : "not confirmed"), driving advice \(s.discharge.drivingAdviceGiven ? "given" : "not given")" : nil,
                    cancelledReason: s.hasCancelledReason ? s.cancelledReason : nil, remsFormSubmittedAt: time(s.remsFormSubmittedAt))
        }
        sessionCount = r.sessionCount
        sideEffects = state.sideEffects.map { e in
            SideEffect(sideEffectId: e.observed.sideEffectID, sessionId: e.observed.hasSessionID ? e.observed.sessionID : nil, kind: e.observed.kind.label,
                       severity: e.observed.severity.label, onsetAt: ClinicalTime.format(e.observed.onsetAt.nanosecondsSince1970), serious: e.observed.serious,
                       resolvedAt: time(e.resolvedAt))
        }
        openSideEffects = state.openSideEffects.map(\.observed.sideEffectID)
        sideEffectCount = r.sideEffectCount
        eventCount = r.eventCount
        voidedCount = r.voidedCount
        unknownTypeCount = r.unknownTypeCount
        countsByType = Dictionary(uniqueKeysWithValues: state.countsByType.map { ($0.key.name, $0.value) })
    }

    /// The flags a history sets, in words.
    static func flags(_ h: Ketamine_V1_MedicalHistoryRecorded) -> [String] {
        [("psychosis history", h.psychosisHistory), ("substance use disorder", h.substanceUseDisorder), ("pregnant", h.pregnant),
         ("uncontrolled hypertension", h.uncontrolledHypertension), ("aneurysmal vascular disease", h.aneurysmalVascularDisease),
         ("arteriovenous malformation", h.arteriovenousMalformation), ("intracerebral hemorrhage history", h.intracerebralHemorrhageHistory),
         ("ketamine hypersensitivity", h.ketamineHypersensitivity)].filter(\.1).map(\.0)
    }

    static func checkText(_ c: Ketamine_V1_PreSessionCheckRecorded) -> String {
        "BP \(c.bloodPressure.systolic)/\(c.bloodPressure.diastolic), HR \(c.heartRate), SpO2 \(c.spo2)%, escort \(c.escortPresent ? "present" : "absent")"
            + (c.hasBaselineMoaas ? ", MOAA/S \(c.baselineMoaas)" : "")
    }

    static func doseText(_ d: Ketamine_V1_DoseAdministered, _ display: Display) -> String {
        "\(d.doseMg.plainText) mg \(d.drug.label) \(d.route.label) (\(d.setting.label)) at \(display.time(d.startedAt.nanosecondsSince1970))"
            + (d.hasInfusionMinutes ? " over \(d.infusionMinutes) min" : "")
    }

    static func vitalsText(_ v: Ketamine_V1_VitalsRecorded, _ display: Display) -> String {
        "\(display.time(v.measuredAt.nanosecondsSince1970)) BP \(v.bloodPressure.systolic)/\(v.bloodPressure.diastolic), HR \(v.heartRate), SpO2 \(v.spo2)%"
            + (v.hasRespiratoryRate ? ", RR \(v.respiratoryRate)" : "") + (v.hasMoaas ? ", MOAA/S \(v.moaas)" : "")
    }
}

/// The audit trail as a table (terminal-safe).
enum AuditText {
    static let headers = ["seq", "recorded", "actor", "role", "action", "patient", "summary"]

    static func render(_ entries: [AuditEntry]) -> String {
        Table(headers: headers, rows: entries.map(row)).render()
    }

    @Sendable static func row(_ e: AuditEntry) -> [String] {
        [String(e.sequence), e.recordedAt, e.actorId, e.actorRole, e.action.rawValue + (e.voidedBy != nil ? " (voided)" : ""), e.patientId, e.summary]
    }

    /// One entry as a JSON object, keys sorted (absent optional members left out).
    @Sendable static func json(_ e: AuditEntry) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        var first = true
        func member(_ name: String, _ value: String?) {
            guard let value else { return }
            out += Array((first ? "{\"" : ",\"").utf8) + Array(name.utf8) + Array("\":".utf8)
            JSONText.appendString(value, to: &out)
            first = false
        }
        member("accessDescription", e.accessDescription)
        member("action", e.action.rawValue)
        member("actorId", e.actorId)
        member("actorRole", e.actorRole)
        member("disclosedTo", e.disclosedTo)
        member("eventId", e.eventId)
        member("occurredAt", e.occurredAt)
        member("patientId", e.patientId)
        member("purpose", e.purpose)
        member("recordedAt", e.recordedAt)
        out += Array(",\"sequence\":\(e.sequence)".utf8)
        member("summary", e.summary)
        member("type", e.type)
        member("voidedBy", e.voidedBy)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
