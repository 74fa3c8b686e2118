/// What a writer expects a stream's version to be before its batch (optimistic concurrency).
///
/// A stream's version is the number of events in it: 0 before the first one.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// Append whatever the stream holds.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream must hold exactly this many events.
    case exactly(UInt64)

    func admits(_ version: UInt64) -> Bool {
        switch self {
        case .any: true
        case .noStream: version == 0
        case .exactly(let expected): version == expected
        }
    }

    public var description: String {
        switch self {
        case .any: "any version"
        case .noStream: "no stream yet"
        case .exactly(let n): "version \(n)"
        }
    }
}
