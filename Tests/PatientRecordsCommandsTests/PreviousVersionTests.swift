import Foundation
import TestSupport
import Testing

/// A store written by the previous release (store format 1, payloads sealed by swift-crypto,
/// snapshots of an older format) kept in `Tests/Fixtures/store-format-1/` with what that release
/// printed for it: this release opens it, verifies it, and reads from it the same events, audit
/// trail, findings and patient state; writing to it brings it to format 2.
///
/// Made with the release before format 2 (commit f74ccbc): the v1 sample imported, `generate
/// --patients 4 --months 3 --seed 11 --rule-breaking-share 0.3`, P-0004 forgotten, then
/// `patient EX-IV-1` and `patient P-0002` shown (two reads on the record), then `replay --format
/// json`, `export` and `audit --format json` saved.
struct PreviousVersionTests {
    static let fixture = Sample.fixtures + "/store-format-1"

    /// The rules whose meaning version 2 of the compliance rules changed or added, with the
    /// findings they may add on this history: IV and IM sessions are now monitored too, and
    /// interacting medications are a new rule.
    static let changedRules: Set<String> = ["monitoring-duration", "interacting-medication"]

    /// A writable copy of the fixture store and its key.
    static func copy(into directory: String) throws -> (store: String, key: String) {
        let store = directory + "/store", key = directory + "/master.key"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture + "/store/data.mdb", toPath: store + "/data.mdb")
        try FileManager.default.copyItem(atPath: fixture + "/master.key", toPath: key)
        // Git keeps no permissions but the executable bit; the store wants its files private.
        for path in [store, store + "/data.mdb", key] {
            try FileManager.default.setAttributes([.posixPermissions: path == store ? 0o700 : 0o600], ofItemAtPath: path)
        }
        return (store, key)
    }

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    static func fixtureText(_ name: String) throws -> String {
        try String(contentsOfFile: fixture + "/" + name, encoding: .utf8)
    }

    @Test(.timeLimit(.minutes(2)))
    func aStoreOfThePreviousFormatOpensVerifiesAndReadsAsItDid() async throws {
        try await withTemporaryDirectory { directory in
            let (store, key) = try Self.copy(into: directory)
            let options = ["--store", store, "--key-file", key]

            let verified = try await records.run(["verify"] + options)
            #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
            #expect(verified.stdout.contains("Intact: 389 events"))

            // The findings, under the rules as they were before the v1.1 fields, judged as of
            // the last event the previous release had (reads recorded since come after it).
            let policy = directory + "/before-v1.1.yaml"
            try CommandLineTests.beforeV11Policy.write(toFile: policy, atomically: true, encoding: .utf8)
            let replayed = try await replayTool.run(["--format", "json", "--quiet", "--policy", policy, "--as-of", "389", "--actor", "u-auditor-1"] + options)

            // The events, as they were exported (the sequence is now zero-padded text); the
            // export first records its own reads (and the replay its), at the end of the log.
            let exported = try await records.run(["export", "--actor", "u-auditor-1"] + options)
            #expect(exported.status == 0)
            let before = try Self.fixtureText("export.ndjson").split(separator: "\n")
            let lines = exported.stdout.split(separator: "\n")
            let after = Array(lines.prefix(before.count))
            #expect(before.count == 326 && lines.count > before.count)
            #expect(lines.dropFirst(before.count).allSatisfy { $0.contains("\"type\":\"ketamine.v1.RecordAccessed\"") })
            for (old, new) in zip(before, after) {
                var oldEvent = try #require(try Self.json(String(old)) as? [String: Any])
                var newEvent = try #require(try Self.json(String(new)) as? [String: Any])
                #expect(Int(newEvent["sequence"] as? String ?? "") == Int(oldEvent["sequence"] as? String ?? "-"))
                oldEvent["sequence"] = nil
                newEvent["sequence"] = nil
                #expect(NSDictionary(dictionary: oldEvent).isEqual(to: newEvent), "\(old)")
            }

            // The audit trail: the same entries; vitals now also name the sedation score.
            let audit = try await records.run(["audit", "--format", "json", "--until", "2026-12-01T22:49:35.296353972Z"] + options)
            #expect(audit.status == 0)
            let oldTrail = try #require(try Self.json(Self.fixtureText("audit.json")) as? [[String: Any]])
            let newTrail = try #require(try Self.json(audit.stdout) as? [[String: Any]])
            #expect(oldTrail.count == 389 && newTrail.count == 389)
            for (old, new) in zip(oldTrail, newTrail) {
                var oldEntry = old, newEntry = new
                let oldSummary = oldEntry.removeValue(forKey: "summary") as? String ?? ""
                let newSummary = newEntry.removeValue(forKey: "summary") as? String ?? ""
                #expect(NSDictionary(dictionary: oldEntry).isEqual(to: newEntry), "\(old)")
                if old["type"] as? String == "VitalsRecorded" && newSummary != oldSummary {
                    #expect(newSummary.hasPrefix(oldSummary + ", MOAA/S "), "\(newSummary)")
                } else {
                    #expect(newSummary == oldSummary)
                }
            }

            #expect(replayed.status == 1)
            let oldReport = try #require(try Self.json(Self.fixtureText("replay.json")) as? [String: Any])
            let newReport = try #require(try Self.json(replayed.stdout) as? [String: Any])
            for field in ["asOf", "eventsReplayed", "patients", "forgottenPatients"] {
                #expect(NSObject.equal(oldReport[field], newReport[field]), "\(field)")
            }
            func keys(_ report: [String: Any]) -> Set<String> {
                Set((report["findings"] as? [[String: Any]] ?? []).map { finding in
                    ["patient", "rule", "session", "sequence", "eventId", "severity"].map { "\(finding[$0] ?? "-")" }.joined(separator: "|")
                })
            }
            let oldFindings = keys(oldReport), newFindings = keys(newReport)
            #expect(oldFindings.count == 20)
            #expect(oldFindings.isSubset(of: newFindings), "\(oldFindings.subtracting(newFindings))")
            let added = newFindings.subtracting(oldFindings)
            #expect(added.allSatisfy { Self.changedRules.contains(String($0.split(separator: "|")[1])) }, "\(added)")
            let oldSummary = oldReport["summary"] as? [String: Int] ?? [:]
            let newSummary = newReport["summary"] as? [String: Int] ?? [:]
            for (rule, count) in newSummary where !Self.changedRules.contains(rule) {
                #expect(oldSummary[rule] == count, "\(rule)")
            }

            // One patient's state as of the old read of it (sequence 389).
            let shown = try await records.run(["patient", "P-0002", "--as-of", "389", "--json", "--actor", "u-auditor-1"] + options)
            #expect(shown.status == 0, "\(shown.stderr)")
            let oldState = try #require(try Self.json(Self.fixtureText("patient-P-0002.json")) as? [String: Any])
            let newState = try #require(try Self.json(shown.stdout) as? [String: Any])
            for field in ["patientId", "eventCount", "lastSequence", "sessionCount", "sideEffectCount", "voidedCount",
                          "unknownTypeCount", "countsByType", "remsEnrolledAt", "weightKg", "openSideEffects"] {
                #expect(NSObject.equal(oldState[field], newState[field]), "\(field)")
            }
            func instruments(_ state: [String: Any]) -> [String] {
                (state["instruments"] as? [[String: Any]] ?? []).map { instrument in
                    let baseline = instrument["baseline"] as? [String: Any] ?? [:], latest = instrument["latest"] as? [String: Any] ?? [:]
                    return "\(instrument["instrument"] ?? "") \(baseline["total"] ?? "") \(baseline["band"] ?? "") \(latest["total"] ?? "") \(latest["band"] ?? "") \(instrument["changeFromBaseline"] ?? "")"
                }
            }
            #expect(instruments(oldState) == instruments(newState))
            func doses(_ state: [String: Any]) -> [String] {
                (state["sessions"] as? [[String: Any]] ?? []).map { "\($0["planId"] ?? "") \($0["doseStartedAt"] ?? "")" }
            }
            #expect(doses(oldState) == doses(newState) && !doses(oldState).isEmpty)

            // The forgotten patient stays forgotten.
            let forgotten = try await records.run(["patient", "P-0004", "--actor", "u-auditor-1"] + options)
            #expect(forgotten.status != 0 || forgotten.stdout.contains("forgotten"))

            // Writing brings the store to format 2 (a sealed head); it still verifies, and every
            // payload the previous release sealed still opens.
            let verifiedAgain = try await records.run(["verify"] + options)
            #expect(verifiedAgain.status == 0, "\(verifiedAgain.stdout)")
            #expect(verifiedAgain.stdout.contains("Intact: ") && verifiedAgain.stdout.contains("the head's seal matches the master key"))
            let stats = try await records.run(["stats"] + options)
            #expect(stats.stdout.contains("format 2"), "\(stats.stdout)")
        }
    }
}

extension NSObject {
    /// Whether two JSON values are equal (numbers, strings, arrays, objects, null).
    static func equal(_ a: Any?, _ b: Any?) -> Bool {
        switch (a, b) {
        case (nil, nil): true
        case let (a?, b?): NSArray(array: [a]).isEqual(to: [b])
        default: false
        }
    }
}
