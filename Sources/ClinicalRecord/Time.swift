import Foundation
import SwiftProtobuf

/// Times as the record keeps them: nanoseconds since 1970-01-01T00:00:00Z.
public enum ClinicalTime {
    /// Parses an RFC 3339 time (`2026-01-12T08:30:00Z`, offsets and fractions allowed).
    public static func parse(_ text: String) -> Int64? {
        guard text.count >= 20, let stamp = try? Google_Protobuf_Timestamp(jsonString: "\"\(text)\"") else { return nil }
        return nanoseconds(stamp)
    }

    /// Formats as RFC 3339 in UTC, with as many fraction digits as needed (0, 3, 6 or 9).
    public static func format(_ nanoseconds: Int64) -> String {
        let text = (try? timestamp(nanoseconds).jsonString()) ?? "\"\""
        return String(text.dropFirst().dropLast())
    }

    static func nanoseconds(_ stamp: Google_Protobuf_Timestamp) -> Int64 {
        stamp.seconds * 1_000_000_000 + Int64(stamp.nanos)
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
}

extension Google_Protobuf_Timestamp {
    /// Nanoseconds since 1970 UTC.
    public var nanosecondsSince1970: Int64 { ClinicalTime.nanoseconds(self) }
}
