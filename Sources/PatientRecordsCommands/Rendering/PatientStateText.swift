import Foundation
import ClinicalRecord

/// A patient's state as a clinician would read it on a terminal.
enum PatientStateText {
    static func render(_ state: PatientState) -> String {
        if let forgotten = state.forgotten {
            return """
                Patient \(state.patientId) was forgotten on \(forgotten.at) by \(forgotten.by): \(forgotten.reason).
                Their data key was destroyed: none of their earlier entries can be read any more.
                """
        }
        var out: [String] = []
        let d = state.demographics
        out.append("Patient \(state.patientId): \(d.givenName) \(d.familyName), \(d.sex), born \(d.birthDate)\(d.age.map { " (age \($0))" } ?? "")\(state.weightKg.map { ", \(format($0)) kg" } ?? "")")
        out.append("As of \(state.asOf), sequence \(state.lastSequence): \(state.eventCount) events, \(state.voidedCount) voided")
        if !state.history.conditions.isEmpty || !state.history.medications.isEmpty {
            out.append("History: " + state.history.conditions.joined(separator: "; "))
            out.append("  medications: " + state.history.medications.map { "\($0.name) \($0.dose) (\($0.medicationClass), \($0.status))" }.joined(separator: ", "))
            out.append("  flags: " + (state.history.flags.isEmpty ? "none" : state.history.flags.joined(separator: ", ")))
        }
        if let e = state.eligibility {
            out.append("Evaluation \(e.evaluationId) on \(e.evaluatedAt): \(e.eligible ? "eligible" : "not eligible") for \(e.modalities.joined(separator: ", "))\(e.treatmentResistant ? ", treatment-resistant" : "")")
        }
        out.append("Consents: " + (state.consents.isEmpty ? "none" : state.consents.map { "\($0.scope) \($0.status)" }.joined(separator: ", "))
            + (state.remsEnrolledAt.map { "; REMS enrolled \($0)" } ?? ""))
        if let p = state.currentPlan {
            out.append("Plan \(p.planId): \(p.modality) \(p.phase), \(p.dosesGiven) of \(p.sessionsPlanned) doses given, \(p.dosesInLast7Days) in the last 7 days")
        }
        if !state.instruments.isEmpty {
            out.append("")
            var table = Table(headers: ["instrument", "baseline", "latest", "change", "trend", "outcome"])
            for i in state.instruments {
                let outcome = i.remission == true ? "remission" : i.response == true ? "response" : i.response == false ? "no response yet" : ""
                table.rows.append([i.instrument, "\(i.baseline.total)\(i.baseline.band.map { " \($0)" } ?? "")", "\(i.latest.total)\(i.latest.band.map { " \($0)" } ?? "")", String(format: "%+d", i.changeFromBaseline), i.trend, outcome])
            }
            out.append(table.render())
        }
        if !state.sessions.isEmpty {
            out.append("")
            var table = Table(headers: ["session", "dose", "vitals", "side effects", "discharge"])
            for s in state.sessions {
                table.rows.append([s.sessionId, s.cancelled.map { "cancelled: \($0)" } ?? s.dose ?? "not dosed", "\(s.vitals.count)", s.sideEffects.isEmpty ? "-" : s.sideEffects.joined(separator: ", "), s.discharge ?? "-"])
            }
            out.append(table.render())
        }
        out.append("")
        out.append("Open side effects: " + (state.openSideEffects.isEmpty ? "none" : state.openSideEffects.map { "\($0.severity) \($0.kind) since \($0.onsetAt)" }.joined(separator: ", ")))
        return out.joined(separator: "\n")
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// The audit trail as a table.
enum AuditText {
    static func render(_ entries: [AuditEntry]) -> String {
        var table = Table(headers: ["seq", "recorded", "actor", "role", "action", "patient", "summary"])
        for e in entries {
            table.rows.append([String(e.sequence), e.recordedAt, e.actorId, e.actorRole, e.action.rawValue + (e.voidedBy != nil ? " (voided)" : ""), e.patientId, e.summary])
        }
        return table.render()
    }
}
