import EventStore
import SwiftProtobuf

/// What a decoding failure of swift-protobuf means, as a fragment of a sentence (its own
/// descriptions are case names: `malformedProtobuf`, `invalidUTF8`).
enum DecodingText {
    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as BinaryDecodingError:
            switch error {
            case .trailingGarbage: "bytes follow the end of the message"
            case .truncated: "the message ends in the middle of a field"
            case .invalidUTF8: "a text field holds bytes that are not UTF-8"
            case .malformedProtobuf: "its bytes are not a well-formed protobuf message"
            case .missingRequiredFields: "a required field is missing"
            case .messageDepthLimit: "its messages are nested deeper than the limit"
            default: "it does not decode (\(error))"
            }
        case let error as UnreadablePayload: error.description
        default: "\(error)"
        }
    }

    /// A stored record whose envelope or payload does not decode, as the damage it is.
    static func damagedRecord(sequence: UInt64, part: String, _ error: any Error) -> EventStoreError {
        EventStoreError.corruptRecord(sequence: sequence, reason: "its \(part) does not decode: \(reason(error))")
    }
}
