/// A point in the record to build a view as of: a global sequence, or a recorded time.
public enum AsOf: Sendable, Hashable {
    /// The events up to and including this sequence.
    case sequence(UInt64)
    /// The events recorded at or before this time (ns since 1970 UTC).
    case time(Int64)

    /// Parses `5120` as a sequence and an RFC 3339 time as a time.
    public init?(_ text: String) {
        if let sequence = UInt64(text) {
            self = .sequence(sequence)
        } else if let time = ClinicalTime.parse(text) {
            self = .time(time)
        } else {
            return nil
        }
    }

    public func includes(sequence: UInt64, recordedAt: Int64) -> Bool {
        switch self {
        case .sequence(let last): sequence <= last
        case .time(let last): recordedAt <= last
        }
    }
}
