import Foundation
import SwiftProtobuf

/// Times as the record keeps them: nanoseconds since 1970-01-01T00:00:00Z.
public enum ClinicalTime {
    /// Parses an RFC 3339 time (`2026-01-12T08:30:00Z`, offsets and fractions allowed; `t` and
    /// `z` in lowercase too, as RFC 3339 allows).
    public static func parse(_ text: String) -> Int64? {
        guard text.utf8.count >= 20, text.utf8.count <= 40 else { return nil }
        var bytes = Array(text.utf8)
        if bytes[10] == UInt8(ascii: "t") { bytes[10] = UInt8(ascii: "T") }
        if bytes[bytes.count - 1] == UInt8(ascii: "z") { bytes[bytes.count - 1] = UInt8(ascii: "Z") }
        guard let stamp = try? Google_Protobuf_Timestamp(jsonString: "\"" + String(decoding: bytes, as: UTF8.self) + "\"") else { return nil }
        return exactNanoseconds(stamp)
    }

    /// Why `text` is not a time the record takes, as the end of a refusal.
    public static func problem(_ text: String) -> String {
        "must be an RFC 3339 time with a zone (Z or an offset), such as 2026-01-12T08:30:00Z, from \(representable), not \(text.debugDescription)"
    }

    /// The earliest and latest times the record can hold: nanoseconds since 1970 in 64 bits.
    public static let representable = "1677-09-22T00:00:00Z to 2262-04-11T00:00:00Z"

    /// `stamp` in nanoseconds, or `nil` when it is outside what 64 bits of nanoseconds hold
    /// (about 1677 to 2262) or its nanos are not a fraction of a second.
    static func exactNanoseconds(_ stamp: Google_Protobuf_Timestamp) -> Int64? {
        guard (0..<1_000_000_000).contains(stamp.nanos) else { return nil }
        let (scaled, overflow) = stamp.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        let (sum, overflowSum) = scaled.addingReportingOverflow(Int64(stamp.nanos))
        return overflowSum ? nil : sum
    }

    /// Formats as RFC 3339 in UTC, with as many fraction digits as needed (0, 3, 6 or 9).
    ///
    /// The fraction has 0, 3, 6 or 9 digits, the fewest that hold the value, as protobuf's JSON
    /// mapping writes a Timestamp (so exports match it byte for byte).
    public static func format(_ nanoseconds: Int64) -> String {
        var out = [UInt8]()
        out.reserveCapacity(30)
        append(nanoseconds, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``format(_:)`` appended to `out` as UTF-8.
    public static func append(_ nanoseconds: Int64, to out: inout [UInt8]) {
        var seconds = nanoseconds / 1_000_000_000
        var nanos = nanoseconds % 1_000_000_000
        if nanos < 0 { seconds -= 1; nanos += 1_000_000_000 }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { days -= 1; secondOfDay += 86_400 }
        let (year, month, day) = civilDate(days: days)
        guard (1...9999).contains(year) else {
            let text = (try? timestamp(nanoseconds).jsonString()) ?? "\"\""
            out.append(contentsOf: text.dropFirst().dropLast().utf8)
            return
        }
        func digits(_ value: Int64, _ count: Int) {
            var divisor: Int64 = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(48 + rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4); out.append(45); digits(month, 2); out.append(45); digits(day, 2)
        out.append(84)
        digits(secondOfDay / 3600, 2); out.append(58); digits(secondOfDay / 60 % 60, 2); out.append(58); digits(secondOfDay % 60, 2)
        if nanos != 0 {
            out.append(46)
            if nanos % 1_000_000 == 0 { digits(nanos / 1_000_000, 3) } else if nanos % 1000 == 0 { digits(nanos / 1000, 6) } else { digits(nanos, 9) }
        }
        out.append(90)
    }

    /// The civil (proleptic Gregorian) date `days` after 1970-01-01 (H. Hinnant's algorithm).
    public static func civilDate(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The UTC date of `nanoseconds` since 1970.
    public static func utcDate(_ nanoseconds: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let seconds = nanoseconds / 1_000_000_000 - (nanoseconds % 1_000_000_000 < 0 ? 1 : 0)
        return civilDate(days: seconds / 86_400 - (seconds % 86_400 < 0 ? 1 : 0))
    }

    /// A real calendar date written `YYYY-MM-DD`, or `nil`.
    public static func date(_ text: String) -> (year: Int64, month: Int64, day: Int64)? {
        guard isDate(text), let year = Int64(text.prefix(4)), let month = Int64(text.dropFirst(5).prefix(2)),
              let day = Int64(text.suffix(2)) else { return nil }
        return (year, month, day)
    }

    /// `stamp` in nanoseconds, saturating at the ends of the range: a stored time is validated on
    /// append, and a damaged one must not stop a replay.
    static func nanoseconds(_ stamp: Google_Protobuf_Timestamp) -> Int64 {
        exactNanoseconds(stamp) ?? (stamp.seconds < 0 ? .min : .max)
    }

    public static func timestamp(_ nanoseconds: Int64) -> Google_Protobuf_Timestamp {
        var seconds = nanoseconds / 1_000_000_000
        var nanos = nanoseconds % 1_000_000_000
        if nanos < 0 { seconds -= 1; nanos += 1_000_000_000 }
        return Google_Protobuf_Timestamp(seconds: seconds, nanos: Int32(nanos))
    }

    /// Whether `text` is a real calendar date written `YYYY-MM-DD`.
    static func isDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), day >= 1 else { return false }
        let days = [31, (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= days[month - 1]
    }

    public static let hour: Int64 = 3_600_000_000_000
    public static let day: Int64 = 24 * hour

    /// The current time, ns since 1970 UTC.
    public static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000_000) }
}

extension Google_Protobuf_Timestamp {
    /// Nanoseconds since 1970 UTC.
    public var nanosecondsSince1970: Int64 { ClinicalTime.nanoseconds(self) }
}
