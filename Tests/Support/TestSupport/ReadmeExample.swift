import Foundation
import Testing

/// Checks that README.md holds, verbatim, the example between the `// README example: begin`
/// and `// README example: end` markers of `testFile`, so the example shown is the one compiled.
public func expectReadmeShowsExample(of testFile: String, alsoIn article: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let text = try String(contentsOfFile: testFile, encoding: .utf8)
    var root = URL(fileURLWithPath: testFile)
    for _ in 0..<3 { root.deleteLastPathComponent() }
    let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
    let begin = try #require(text.range(of: "// README example: begin\n"), sourceLocation: sourceLocation)
    let end = try #require(text.range(of: "    // README example: end"), sourceLocation: sourceLocation)
    let example = text[begin.upperBound..<end.lowerBound]
        .split(separator: "\n", omittingEmptySubsequences: false)
        .map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }
        .joined(separator: "\n")
    #expect(readme.contains(example), "README.md's example differs from the one compiled in \(testFile)", sourceLocation: sourceLocation)
    // The DocC article shows the same example (a path from the project's folder).
    if let article {
        let text = try String(contentsOf: root.appendingPathComponent(article), encoding: .utf8)
        #expect(text.contains(example), "\(article)'s example differs from the one compiled in \(testFile)", sourceLocation: sourceLocation)
    }
}
