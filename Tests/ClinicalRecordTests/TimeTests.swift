import ClinicalRecord
import SwiftProtobuf
import Testing

struct TimeTests {
    /// The fast formatter writes exactly what protobuf's JSON mapping writes for a Timestamp.
    @Test func formattingMatchesProtobufsJSONMapping() throws {
        var random = SystemRandomNumberGenerator()
        var samples: [Int64] = [0, -1, 1, 999, 1_000_000, 1_000, -1_000_000_000, 951_782_400_000_000_000, Int64.max, Int64.min + 1]
        for _ in 0..<5_000 {
            let seconds = Int64.random(in: -9_000_000_000...9_000_000_000, using: &random)
            let nanos = [0, 1_000_000 * Int64.random(in: 0..<1000, using: &random), 1000 * Int64.random(in: 0..<1_000_000, using: &random), Int64.random(in: 0..<1_000_000_000, using: &random)].randomElement(using: &random) ?? 0
            samples.append(seconds * 1_000_000_000 + nanos)
        }
        for value in samples {
            let json = try ClinicalTime.timestamp(value).jsonString()
            #expect(ClinicalTime.format(value) == String(json.dropFirst().dropLast()), "\(value)")
        }
    }
}
