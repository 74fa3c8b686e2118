import ClinicalRecord
import Compliance
import Foundation

/// One self-contained HTML page for a patient, for a clinician to read at a glance: each
/// instrument's scores on its own scale with its severity bands shaded, the doses marked on the
/// time axis and the response line at half the baseline; outcomes, medications, consents,
/// sessions, side effects and this patient's compliance findings. No scripts, no network.
enum PatientPage {
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters have no business in a page; show them as escapes.
                if TerminalText.isControl(scalar) { out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }

    /// Shades of the severity bands, lightest (least severe) first.
    static let bandShades = ["#eef7ee", "#f7f7e6", "#fbefe0", "#fbe4dc", "#f6d6d6"]
    static let line = "#1f5fa8"

    /// The doses known to the state: of the sessions kept and the latest of each plan.
    static func doseTimes(_ state: PatientState) -> [Int64] {
        let sessions = state.sessions.filter(\.hasDose).map { $0.dose.startedAt.nanosecondsSince1970 }
        let plans = state.record.plans.flatMap(\.recentDoseTimes)
        return Array(Set(sessions + plans)).sorted()
    }

    /// One instrument's chart: its own scale, bands shaded, doses on the time axis, the baseline
    /// and the response line (half the baseline) for instruments with outcomes.
    static func chart(_ outcome: InstrumentOutcome, doses: [Int64], range: (Int64, Int64), display: Display) -> String {
        let instrument = outcome.instrument
        let maximum = max(instrument.maximumTotal, Int(outcome.recent.map(\.total).max() ?? 0), 1)
        let width = 720.0, height = 150.0, left = 44.0, right = 12.0, top = 10.0, bottom = 30.0
        let (first, last) = range
        let span = Double(max(last - first, 1))
        func x(_ t: Int64) -> Double { left + (width - left - right) * Double(t - first) / span }
        func y(_ value: Double) -> Double { top + (height - top - bottom) * (1 - value / Double(maximum)) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(instrument.displayName)) over time\">"
        for (index, band) in instrument.bands.enumerated() {
            let low = Double(band.range.lowerBound), high = Double(band.range.upperBound) + (band.range.upperBound == maximum ? 0 : 1)
            let shade = bandShades[min(index * bandShades.count / max(instrument.bands.count, 1), bandShades.count - 1)]
            let lowest = instrument.higherIsBetter ? bandShades[bandShades.count - 1 - min(index, bandShades.count - 1)] : shade
            svg += "<rect x=\"\(left)\" y=\"\(y(high))\" width=\"\(width - left - right)\" height=\"\(y(low) - y(high))\" fill=\"\(lowest)\"><title>\(escape(band.label)): \(band.range.lowerBound)-\(band.range.upperBound)</title></rect>"
            svg += "<text x=\"\(width - right - 4)\" y=\"\(y(high) + 11)\" font-size=\"10\" fill=\"#777\" text-anchor=\"end\">\(escape(band.label))</text>"
        }
        for tick in [0, maximum / 2, maximum] {
            svg += "<text x=\"\(left - 6)\" y=\"\(y(Double(tick)) + 4)\" font-size=\"10\" text-anchor=\"end\">\(tick)</text>"
        }
        svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(y(0))\" y2=\"\(y(0))\" stroke=\"#999\"/>"
        for dose in doses where dose >= first && dose <= last {
            svg += "<line x1=\"\(x(dose))\" x2=\"\(x(dose))\" y1=\"\(y(0))\" y2=\"\(y(0) + 7)\" stroke=\"#6a3d9a\" stroke-width=\"2\"><title>dose \(escape(display.time(dose)))</title></line>"
        }
        if let baseline = outcome.baseline {
            let value = Double(baseline.total)
            svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(y(value))\" y2=\"\(y(value))\" stroke=\"#555\" stroke-dasharray=\"2 3\"><title>baseline \(baseline.total)</title></line>"
            if outcome.response != nil {
                svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(y(value / 2))\" y2=\"\(y(value / 2))\" stroke=\"#2a8a2a\" stroke-dasharray=\"6 4\"><title>response: half the baseline (\(half(baseline.total)))</title></line>"
            }
        }
        let points = outcome.recent.map { "\(x($0.at)),\(y(Double($0.total)))" }.joined(separator: " ")
        svg += "<polyline fill=\"none\" stroke=\"\(line)\" stroke-width=\"2\" points=\"\(points)\"/>"
        for score in outcome.recent {
            svg += "<circle cx=\"\(x(score.at))\" cy=\"\(y(Double(score.total)))\" r=\"3.5\" fill=\"\(score.flagsSuicideRisk ? "#c0392b" : line)\"><title>\(escape(instrument.displayName)) \(score.total) on \(escape(display.time(score.at)))\(score.flagsSuicideRisk ? ", suicide risk flag" : "")</title></circle>"
        }
        svg += "<text x=\"\(left)\" y=\"\(height - 6)\" font-size=\"10\">\(escape(display.date(first)))</text>"
        svg += "<text x=\"\(width - right)\" y=\"\(height - 6)\" font-size=\"10\" text-anchor=\"end\">\(escape(display.date(last)))</text>"
        return svg + "</svg>"
    }

    static func html(_ state: PatientState, findings: [Finding], display: Display = Display()) -> String {
        func row(_ cells: [String]) -> String { "<tr>" + cells.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }
        func table(_ headers: [String], _ rows: [[String]]) -> String {
            "<table><tr>" + headers.map { "<th>\(escape($0))</th>" }.joined() + "</tr>" + rows.map(row).joined() + "</table>"
        }
        var body: String
        if let forgotten = state.forgotten {
            body = "<h1>Patient \(escape(state.patientId))</h1><p class=\"notice\">This patient was forgotten on \(escape(display.time(forgotten.at))) by \(escape(forgotten.by)) (\(escape(forgotten.reason))). Their data key was destroyed: none of their earlier entries can be read any more, so this page shows nothing else.</p>"
            return page(title: state.patientId, body: body)
        }
        let r = state.registration
        body = "<h1>\(escape(r.map { "\($0.givenName) \($0.familyName)" } ?? "Patient")) <small>\(escape(state.patientId))</small></h1>"
        body += "<p>" + [r.map { display.label($0.sex) }, r.map { "born \($0.birthDate)" }, state.age.map { "age \($0)" }, state.weightKg.map { "\(display.number($0)) kg" }]
            .compactMap { $0 }.map(escape).joined(separator: ", ") + ". As of \(escape(display.time(state.judgedAt))).</p>"
        if let plan = state.currentPlan {
            body += "<p>Current plan \(escape(plan.plan.planID)): \(escape(display.label(plan.plan.modality))) \(escape(display.label(plan.plan.phase)))"
                + (plan.plan.hasIndication ? " for \(escape(display.label(plan.plan.indication)))" : "")
                + ", \(plan.dosesGiven) of \(plan.plan.sessionsPlanned) doses given, \(plan.dosesInLast7Days) in the last 7 days.</p>"
        }

        body += "<h2>Scores and outcomes</h2>"
        let outcomes = state.instruments
        if outcomes.isEmpty {
            body += "<p>No assessments recorded.</p>"
        } else {
            let doses = doseTimes(state)
            let times = outcomes.flatMap { $0.recent.map(\.at) } + doses
            let range = (times.min() ?? 0, times.max() ?? 1)
            body += "<p class=\"legend\"><span class=\"key line\"></span> scores (red: a suicide risk flag) <span class=\"key base\"></span> baseline <span class=\"key half\"></span> response line (half the baseline) <span class=\"key dose\"></span> doses; shaded: severity bands.</p>"
            for outcome in outcomes {
                let verdicts = outcome.response.map { ", response: \($0.rawValue), remission: \(outcome.remission?.rawValue ?? "-")" } ?? ""
                body += "<h3>\(escape(outcome.instrument.displayName)) <small>baseline \(escape(outcome.baseline.map { $0.text(outcome.instrument) } ?? "none")), latest \(escape(outcome.latest.text(outcome.instrument))), \(outcome.trend.rawValue)\(escape(verdicts))</small></h3>"
                body += chart(outcome, doses: doses, range: range, display: display)
            }
        }

        body += "<h2>Compliance findings</h2>"
        body += findings.isEmpty ? "<p>No rule broken.</p>"
            : table(["rule", "severity", "session", "finding"], findings.map { [$0.rule.rawValue, $0.severity.rawValue, $0.session ?? "", $0.message] })

        body += "<h2>Medications</h2>"
        body += state.medications.isEmpty ? "<p>None recorded.</p>"
            : table(["medication", "dose", "class", "status", "since"], state.medications.map { [$0.name, $0.dose, display.label($0.medicationClass), display.label($0.status), display.time($0.changedAt)] })
        if let history = state.history {
            let flags = PatientStateJSON.flags(history)
            body += "<p>History of \(escape(display.time(state.record.historyAt))): \(escape(history.conditions.map { "\($0.code) \($0.display)" }.joined(separator: "; ")))"
                + (flags.isEmpty ? "" : "; <strong>\(escape(flags.joined(separator: ", ")))</strong>") + ".</p>"
        }

        body += "<h2>Consents</h2>"
        body += state.consents.isEmpty ? "<p>None recorded.</p>"
            : table(["consent", "scope", "form", "signed", "expires", "status", "off-label acknowledged"], state.consents.map { c in
                [c.consent.consentID, display.label(c.consent.scope), c.consent.formVersion, display.time(c.consent.signedAt.nanosecondsSince1970),
                 c.consent.hasExpiresAt ? display.time(c.consent.expiresAt.nanosecondsSince1970) : "-", c.status.rawValue, c.consent.offLabelAcknowledged ? "yes" : "no"]
            })

        body += "<h2>Sessions</h2>"
        if state.showsLatestSessionsOnly {
            body += "<p class=\"notice\">Only the latest \(state.sessions.count) of \(state.record.sessionCount) sessions are shown; the rest are in the record (export, audit).</p>"
        }
        body += table(["session", "dose", "vitals", "side effects", "discharge"], state.sessions.map { s in
            [s.sessionID,
             s.hasCancelledReason ? "cancelled: \(s.cancelledReason)" : s.hasDose ? PatientStateJSON.doseText(s.dose, display) : "not dosed",
             s.vitals.map { PatientStateJSON.vitalsText($0, display) }.joined(separator: "; "),
             s.sideEffects.map { "\(display.label($0.severity)) \(display.label($0.kind))" }.joined(separator: ", "),
             s.hasDischarge ? "\(display.time(s.discharge.dischargedAt.nanosecondsSince1970)), Aldrete \(s.discharge.aldreteScore)" : "-"]
        })

        body += "<h2>Side effects</h2>"
        body += state.sideEffects.isEmpty ? "<p>None recorded.</p>"
            : table(["side effect", "kind", "severity", "onset", "resolved"], state.sideEffects.map { e in
                [e.observed.sideEffectID, display.label(e.observed.kind), display.label(e.observed.severity),
                 display.time(e.observed.onsetAt.nanosecondsSince1970), e.resolvedAt == 0 ? "open" : display.time(e.resolvedAt)]
            })
        return page(title: state.patientId, body: body)
    }

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body{font-family:system-ui,sans-serif;margin:2em;max-width:62em;color:#222}table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;font-size:.9em;vertical-align:top}small{color:#666;font-weight:normal}svg{max-width:100%;height:auto;display:block;margin-bottom:.8em}h3{margin:.8em 0 .2em;font-size:1em}.notice{background:#fff6d6;padding:.5em .8em}.legend{font-size:.85em;color:#444}.key{display:inline-block;width:1.6em;height:0;vertical-align:middle;margin:0 .3em 0 .8em}.key.line{border-top:2px solid #1f5fa8}.key.base{border-top:1px dashed #555}.key.half{border-top:2px dashed #2a8a2a}.key.dose{border-top:3px solid #6a3d9a;width:.3em}</style>
        </head><body>\(body)</body></html>
        """
    }
}

extension PatientPage {
    /// Half a score, as the response line reads it.
    static func half(_ total: Int32) -> String { (Double(total) / 2).plainText }
}
