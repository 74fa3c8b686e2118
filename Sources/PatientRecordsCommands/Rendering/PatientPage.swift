import ClinicalRecord
import Foundation

/// One self-contained HTML page for a patient: scores over time as an SVG chart, sessions and
/// side effects. No scripts, no network.
enum PatientPage {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    static let maxima = ["PHQ-9": 27, "GAD-7": 21, "PCL-5": 80, "C-SSRS screener": 6, "MADRS": 60, "QIDS-SR16": 27, "CADSS": 92, "MOAA/S": 5]

    /// The scores chart: each instrument as a share of its maximum, over time.
    static func chart(_ state: PatientState) -> String {
        let points = state.instruments.flatMap(\.points)
        guard let first = points.map(\.time).min(), let last = points.map(\.time).max() else {
            return "<p>No assessments recorded.</p>"
        }
        let width = 720.0, height = 280.0, left = 48.0, bottom = 36.0, top = 12.0, right = 150.0
        let span = Double(max(last - first, 1))
        func x(_ t: Int64) -> Double { left + (width - left - right) * Double(t - first) / span }
        func y(_ value: Int, max: Int) -> Double { top + (height - top - bottom) * (1 - Double(value) / Double(Swift.max(max, 1))) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"Scores over time\">"
        for tick in [0, 25, 50, 75, 100] {
            let ty = y(tick, max: 100)
            svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(ty)\" y2=\"\(ty)\" stroke=\"#ddd\"/><text x=\"\(left - 6)\" y=\"\(ty + 4)\" font-size=\"11\" text-anchor=\"end\">\(tick)%</text>"
        }
        svg += "<text x=\"\(left)\" y=\"\(height - 8)\" font-size=\"11\">\(escape(String(ClinicalTime.format(first).prefix(10))))</text>"
        svg += "<text x=\"\(width - right)\" y=\"\(height - 8)\" font-size=\"11\" text-anchor=\"end\">\(escape(String(ClinicalTime.format(last).prefix(10))))</text>"
        for (index, instrument) in state.instruments.enumerated() {
            let color = colors[index % colors.count]
            let maximum = maxima[instrument.instrument] ?? max(1, instrument.points.map(\.total).max() ?? 1)
            let path = instrument.points.map { "\(x($0.time)),\(y($0.total, max: maximum))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(path)\"/>"
            for point in instrument.points {
                svg += "<circle cx=\"\(x(point.time))\" cy=\"\(y(point.total, max: maximum))\" r=\"3\" fill=\"\(color)\"><title>\(escape(instrument.instrument)) \(point.total) on \(escape(point.at))</title></circle>"
            }
            let ly = top + 16 + Double(index) * 18
            svg += "<rect x=\"\(width - right + 12)\" y=\"\(ly - 9)\" width=\"10\" height=\"10\" fill=\"\(color)\"/><text x=\"\(width - right + 28)\" y=\"\(ly)\" font-size=\"12\">\(escape(instrument.instrument)) (max \(maximum))</text>"
        }
        return svg + "</svg>"
    }

    static func html(_ state: PatientState) -> String {
        let d = state.demographics
        func row(_ cells: [String]) -> String { "<tr>" + cells.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }
        var body = "<h1>\(escape(d.givenName)) \(escape(d.familyName)) <small>\(escape(state.patientId))</small></h1>"
        body += "<p>\(escape(d.sex)), born \(escape(d.birthDate))\(d.age.map { " (age \($0))" } ?? "")\(state.weightKg.map { ", \(PatientStateText.format($0)) kg" } ?? ""). As of \(escape(state.asOf)).</p>"
        if let plan = state.currentPlan {
            body += "<p>Plan \(escape(plan.planId)): \(escape(plan.modality)) \(escape(plan.phase)), \(plan.dosesGiven) of \(plan.sessionsPlanned) doses given.</p>"
        }
        body += "<h2>Scores over time</h2>" + chart(state)
        body += "<table><tr><th>instrument</th><th>baseline</th><th>latest</th><th>change</th><th>outcome</th></tr>"
        for i in state.instruments {
            body += row([i.instrument, "\(i.baseline.total) \(i.baseline.band ?? "")", "\(i.latest.total) \(i.latest.band ?? "")", String(i.changeFromBaseline), i.remission == true ? "remission" : i.response == true ? "response" : ""])
        }
        body += "</table><h2>Sessions</h2><table><tr><th>session</th><th>dose</th><th>vitals</th><th>side effects</th><th>discharge</th></tr>"
        for s in state.sessions {
            body += row([s.sessionId, s.cancelled.map { "cancelled: \($0)" } ?? s.dose ?? "not dosed", String(s.vitals.count), s.sideEffects.joined(separator: ", "), s.discharge ?? ""])
        }
        body += "</table><h2>Side effects</h2><table><tr><th>side effect</th><th>kind</th><th>severity</th><th>onset</th><th>resolved</th></tr>"
        for e in state.sideEffects {
            body += row([e.sideEffectId, e.kind, e.severity, e.onsetAt, e.resolvedAt ?? "open"])
        }
        body += "</table>"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(state.patientId))</title>
            <style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;font-size:.9em}small{color:#777}svg{max-width:100%;height:auto}</style>
            </head><body>\(body)</body></html>
            """
    }
}
