import ClinicalRecord
import Foundation
import SwiftProtobuf

/// How the command line writes the record's typed values: times to the minute in the clinic's
/// time zone (UTC unless one is given), enum labels, plain numbers.
struct Display: Sendable {
    let timeZone: TimeZone

    init(timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .current) {
        self.timeZone = timeZone
    }

    /// `2026-02-04 11:40 UTC` (`+01:00` style for other zones); `-` for 0 (not recorded).
    func time(_ nanoseconds: Int64) -> String {
        guard nanoseconds != 0 else { return "-" }
        let date = Date(timeIntervalSince1970: Double(nanoseconds / 1_000_000_000))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        let zone: String
        if timeZone.secondsFromGMT(for: date) == 0 && timeZone.identifier == "UTC" {
            zone = "UTC"
        } else {
            let offset = timeZone.secondsFromGMT(for: date)
            zone = String(format: "%@%02d:%02d", offset < 0 ? "-" : "+", abs(offset) / 3600, abs(offset) / 60 % 60)
        }
        return "\(c.year ?? 0)-\(two(c.month))-\(two(c.day)) \(two(c.hour)):\(two(c.minute)) \(zone)"
    }

    /// The date alone, `2026-02-04`.
    func date(_ nanoseconds: Int64) -> String { String(time(nanoseconds).prefix(10)) }

    func label(_ value: some SwiftProtobuf.Enum) -> String { value.label.replacingOccurrences(of: "_", with: " ") }

    func number(_ value: Double) -> String { value.plainText }
}

extension Ketamine_V1_Score {
    /// `14 (moderate)` for an instrument with bands.
    func text(_ instrument: Ketamine_V1_Instrument) -> String {
        "\(total)" + (band(of: instrument).map { " (\($0))" } ?? "")
    }
}
