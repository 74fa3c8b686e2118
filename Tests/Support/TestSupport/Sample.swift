import Foundation

/// The sample histories kept in the repository (`Tests/Fixtures/`) and ways to derive scenarios
/// from them line by line.
public enum Sample {
    /// `Tests/Fixtures/`, found from this file's own path.
    public static let fixtures: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fixtures").path
    }()

    /// The v1 sample: five patients recorded before the v1.1 fields, with `clinic-sample.expected.json`.
    public static let path = fixtures + "/clinic-sample.ndjson"
    /// The v2 sample: eight patients with the v1.1 fields, with `clinic-sample-v2.expected.json`.
    public static let v2Path = fixtures + "/clinic-sample-v2.ndjson"

    public static let lines: [String] = (try? String(contentsOfFile: path, encoding: .utf8))?
        .split(separator: "\n").map(String.init) ?? []

    /// Sample line `number` (1-based) with a fresh id unless `keepId`, changed by `change`, which
    /// gets the CloudEvents attributes and the `data` object.
    public static func line(_ number: Int, keepId: Bool = false, _ change: (inout [String: Any], inout [String: Any]) -> Void) -> String {
        guard number >= 1, number <= lines.count,
              var object = (try? JSONSerialization.jsonObject(with: Data(lines[number - 1].utf8))) as? [String: Any] else { return "" }
        if !keepId { object["id"] = "derived-\(number)-\(UUID().uuidString.lowercased())" }
        var data = object["data"] as? [String: Any] ?? [:]
        change(&object, &data)
        if object["data"] is [String: Any] { object["data"] = data }
        return String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }

    /// The id of sample line `number`.
    public static func id(ofLine number: Int) -> String {
        ((try? JSONSerialization.jsonObject(with: Data(lines[number - 1].utf8))) as? [String: Any])?["id"] as? String ?? ""
    }

    /// The sample with some lines replaced (same id kept) or removed, and lines appended.
    public static func edited(replacing: [Int: @Sendable (inout [String: Any], inout [String: Any]) -> Void] = [:], removing: Set<Int> = [], appending: [String] = []) -> String {
        var out: [String] = []
        for number in lines.indices.map({ $0 + 1 }) where !removing.contains(number) {
            if let change = replacing[number] { out.append(line(number, keepId: true, change)) } else { out.append(lines[number - 1]) }
        }
        return (out + appending).joined(separator: "\n") + "\n"
    }
}
