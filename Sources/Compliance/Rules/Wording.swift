import ClinicalRecord

/// How findings say times, durations and numbers: plainly, as a clinician reads them.
enum Wording {
    /// `2026-02-04 11:40 UTC` (seconds when they are not zero).
    static func time(_ nanoseconds: Int64) -> String {
        let text = ClinicalTime.format(nanoseconds)
        guard text.count >= 19 else { return text }
        let date = text.prefix(10), clock = text.dropFirst(11).prefix(8)
        return "\(date) \(clock.hasSuffix(":00") ? String(clock.prefix(5)) : String(clock)) UTC"
    }

    /// `11:40` (the time of day, UTC).
    static func clock(_ nanoseconds: Int64) -> String {
        let text = ClinicalTime.format(nanoseconds)
        return text.count >= 16 ? String(text.dropFirst(11).prefix(5)) : text
    }

    static let minute: Int64 = 60_000_000_000

    /// `45 minutes`, or `3.5 hours` from two hours on.
    static func duration(_ nanoseconds: Int64) -> String {
        let minutes = nanoseconds / minute
        if abs(minutes) < 120 { return "\(minutes) minute\(abs(minutes) == 1 ? "" : "s")" }
        return "\(number((Double(minutes) / 60 * 10).rounded() / 10)) hours"
    }

    static func number(_ value: Double) -> String { value.plainText }

    static func hours(_ value: Double) -> String { "\(number(value)) hours" }

    static func list(_ items: [String]) -> String {
        switch items.count {
        case 0: ""
        case 1: items[0]
        default: items.dropLast().joined(separator: ", ") + " and " + items[items.count - 1]
        }
    }

    static func scope(_ modality: Ketamine_V1_Modality) -> String {
        switch modality {
        case .ketamineIv: "IV ketamine"
        case .ketamineIm: "IM ketamine"
        case .esketamineNasal: "esketamine"
        case .ketamineNasal: "nasal ketamine"
        case .unspecified, .UNRECOGNIZED: "its"
        }
    }
}
