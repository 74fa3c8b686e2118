import Foundation
import TestSupport
import Testing

/// A throwaway PostgreSQL cluster in `directory` (tools/postgres-cluster), stopped afterwards.
func withPostgres<R>(in directory: String, _ body: (_ url: String, _ cluster: String) async throws -> R) async throws -> R {
    let script = Sample.fixtures + "/../../tools/postgres-cluster"
    let cluster = directory + "/pg"
    let started = try await Executable(name: "/bin/bash").run([script, "start", cluster])
    guard started.status == 0 else { throw ClusterFailure(description: "PostgreSQL did not start: \(started.stderr)") }
    defer { _ = try? Executable(name: "/bin/bash").run([script, "stop", cluster]) as Executable.Outcome }
    return try await body(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines), cluster)
}

struct ClusterFailure: Error, CustomStringConvertible {
    let description: String
}

/// One SQL statement through psql; its rows as text (unaligned, tuples only).
func sql(_ url: String, _ statement: String) async throws -> String {
    let outcome = try await Executable(name: "/usr/bin/psql").run([url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement])
    guard outcome.status == 0 else { throw ClusterFailure(description: "psql failed: \(outcome.stderr)") }
    return outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Shipping the log to a real PostgreSQL (a throwaway cluster per test), restoring from it, and
/// judging a network of clinics from it.
@Suite(.serialized)
struct ShippingTests {
    static func storeId(_ store: String, environment: [String: String]) async throws -> String {
        let stats = try await records.run(["stats", "--store", store, "--json"], environment: environment)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        return try #require(report["storeId"] as? String)
    }

    /// The shipped log of `storeId` has every sequence from 1 to its checkpoint, once, and the
    /// checkpoint is `head`.
    static func expectComplete(_ url: String, storeId: String, head: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let row = try await sql(url, "SELECT shipped_through, (SELECT count(*) FROM prs_records WHERE store_id = '\(storeId)'), (SELECT coalesce(max(sequence), 0) FROM prs_records WHERE store_id = '\(storeId)') FROM prs_stores WHERE store_id = '\(storeId)'")
        #expect(row == "\(head)|\(head)|\(head)", "checkpoint|rows|last sequence", sourceLocation: sourceLocation)
    }

    @Test(.timeLimit(.minutes(4)))
    func shippingWhileAClinicAppendsThenRestoringGivesTheSameStore() async throws {
        try await withTemporaryDirectory { directory in
            try await withPostgres(in: directory) { url, _ in
                let environment = ["XDG_CONFIG_HOME": directory + "/config"]
                let store = directory + "/clinic"
                #expect(try await records.run(["generate", "--store", store, "--patients", "30", "--quiet"], environment: environment).status == 0)
                let id = try await Self.storeId(store, environment: environment)
                // The shipper follows the store while more of the clinic's history is appended.
                let shipper = try records.start(["ship", "--store", store, "--to", url, "--batch", "300", "--quiet"], environment: environment)
                #expect(try await records.run(["generate", "--store", store, "--patients", "30", "--seed", "7", "--patient-prefix", "Q", "--quiet"], environment: environment).status == 0)
                #expect(try await records.run(["patient", "--store", store, "Q-0003", "--actor", "u-nurse-1"], environment: environment).status == 0)
                let head = Int(try await Self.head(store, environment: environment))
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline, try await sql(url, "SELECT coalesce(max(shipped_through), 0) FROM prs_stores") != "\(head)" {
                    try await Task.sleep(for: .milliseconds(100))
                }
                kill(shipper.process.processIdentifier, SIGTERM)
                _ = await shipper.finish()
                try await Self.expectComplete(url, storeId: id, head: head)

                let restored = directory + "/restored"
                let restore = try await records.run(["restore", "--from", url, "--store-id", id, restored], environment: environment)
                #expect(restore.status == 0, "\(restore.stderr)")
                let verified = try await records.run(["verify", "--store", restored], environment: environment)
                #expect(verified.status == 0 && verified.stdout.contains("the head's seal matches"), "\(verified.stdout)")
                #expect(verified.stdout.contains("Head: ") && verified.stdout.contains("@\(head)"))
                // Exported as the source (each export records its own reads after the shipped head).
                let source = try await records.run(["export", "--store", store], environment: environment).stdout.split(separator: "\n").prefix(head)
                let copy = try await records.run(["export", "--store", restored], environment: environment).stdout.split(separator: "\n").prefix(head)
                #expect(source.count == head && Array(source) == Array(copy))
                // The restored store is a working store: a new event is recorded and verifies.
                #expect(try await records.run(["patient", "--store", restored, "P-0001", "--actor", "u-nurse-1"], environment: environment).status == 0)
                #expect(try await records.run(["verify", "--store", restored], environment: environment).status == 0)
            }
        }
    }

    @Test(.timeLimit(.minutes(4)))
    func aRotatedMasterKeyIsShippedWithEveryReWrappedDataKey() async throws {
        try await withTemporaryDirectory { directory in
            try await withPostgres(in: directory) { url, _ in
                let environment = ["XDG_CONFIG_HOME": directory + "/config"]
                let store = directory + "/clinic"
                #expect(try await records.run(["generate", "--store", store, "--patients", "20", "--quiet"], environment: environment).status == 0)
                let id = try await Self.storeId(store, environment: environment)
                #expect(try await records.run(["ship", "--store", store, "--to", url, "--once", "--quiet"], environment: environment).status == 0)
                let oldKey = directory + "/config/patient-records/keys/\(id).key", newKey = directory + "/new.key"
                let rotated = try await records.run(["keys", "rotate", "--store", store, "--key-file", oldKey, "--new-key-file", newKey], environment: environment)
                #expect(rotated.status == 0, "\(rotated.stderr)")
                // Shipped again with nothing new: the head's seal, made anew under the new key,
                // replaces the old key's in PostgreSQL, and a restore with the new key works.
                #expect(try await records.run(["ship", "--store", store, "--to", url, "--once", "--quiet"], environment: environment).status == 0)
                let idle = try await records.run(["restore", "--from", url, "--store-id", id, "--key-file", newKey, directory + "/idle"], environment: environment)
                #expect(idle.status == 0, "\(idle.stderr)")
                // New patients after the rotation, then shipped: the old patients' keys were
                // re-wrapped and must reach PostgreSQL too.
                #expect(try await records.run(["generate", "--store", store, "--key-file", newKey, "--patients", "5", "--seed", "3",
                                               "--patient-prefix", "R", "--quiet"], environment: environment).status == 0)
                let shipped = try await records.run(["ship", "--store", store, "--to", url, "--once", "--quiet"], environment: environment)
                #expect(shipped.status == 0, "\(shipped.stderr)")
                let stats = try await records.run(["stats", "--store", store, "--key-file", newKey, "--json"], environment: environment)
                let head = try #require((try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])?["events"] as? Int, "\(stats.stderr)")
                try await Self.expectComplete(url, storeId: id, head: head)

                let restored = directory + "/restored"
                let restore = try await records.run(["restore", "--from", url, "--store-id", id, "--key-file", newKey, restored], environment: environment)
                #expect(restore.status == 0, "\(restore.stderr)")
                let source = try await records.run(["export", "--store", store, "--key-file", newKey], environment: environment)
                let copy = try await records.run(["export", "--store", restored, "--key-file", newKey], environment: environment)
                #expect(copy.status == 0, "\(copy.stderr)")
                #expect(Array(source.stdout.split(separator: "\n").prefix(head)) == Array(copy.stdout.split(separator: "\n").prefix(head)))
                // The old key opens neither copy any more.
                #expect(try await records.run(["restore", "--from", url, "--store-id", id, "--key-file", oldKey, directory + "/old"],
                                              environment: environment).status != 0)
            }
        }
    }

    static func head(_ store: String, environment: [String: String]) async throws -> UInt64 {
        let stats = try await records.run(["stats", "--store", store, "--json"], environment: environment)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        return UInt64(try #require(report["events"] as? Int))
    }

    @Test(.timeLimit(.minutes(5)))
    func aShipperKilledMidBatchResumesWithNoGapAndNoDuplicate() async throws {
        try await withTemporaryDirectory { directory in
            try await withPostgres(in: directory) { url, _ in
                let environment = ["XDG_CONFIG_HOME": directory + "/config"]
                let store = directory + "/clinic"
                #expect(try await records.run(["generate", "--store", store, "--patients", "150", "--months", "4", "--quiet"], environment: environment).status == 0)
                let id = try await Self.storeId(store, environment: environment)
                let head = Int(try await Self.head(store, environment: environment))
                #expect(head > 5_000)
                var killed = 0
                for delay in [0.3, 0.6, 0.9] {
                    let shipper = try records.start(["ship", "--store", store, "--to", url, "--once", "--batch", "200", "--quiet"], environment: environment)
                    let pid = shipper.process.processIdentifier
                    DispatchQueue.global().asyncAfter(deadline: .now() + delay) { kill(pid, SIGKILL) }
                    let outcome = await shipper.finish()
                    if outcome.killedBySignal { killed += 1 }
                    // Whatever was shipped is whole: the checkpoint is the last row, and no row is missing.
                    let row = try await sql(url, "SELECT shipped_through, (SELECT count(*) FROM prs_records), (SELECT coalesce(max(sequence), 0) FROM prs_records) FROM prs_stores")
                    let parts = row.split(separator: "|")
                    #expect(parts.count == 3 && parts[0] == parts[1] && parts[1] == parts[2], "\(row)")
                }
                #expect(killed > 0, "no shipper was killed part way; the test proved nothing")
                #expect(try await records.run(["ship", "--store", store, "--to", url, "--once", "--quiet"], environment: environment).status == 0)
                try await Self.expectComplete(url, storeId: id, head: head)
            }
        }
    }

    @Test(.timeLimit(.minutes(4)))
    func aShipperWaitsOutPostgreSQLRestartingAndGoesOn() async throws {
        try await withTemporaryDirectory { directory in
            try await withPostgres(in: directory) { url, cluster in
                let environment = ["XDG_CONFIG_HOME": directory + "/config"]
                let store = directory + "/clinic"
                #expect(try await records.run(["generate", "--store", store, "--patients", "120", "--months", "4", "--quiet"], environment: environment).status == 0)
                let id = try await Self.storeId(store, environment: environment)
                let head = Int(try await Self.head(store, environment: environment))
                let shipper = try records.start(["ship", "--store", store, "--to", url, "--batch", "10", "--quiet"], environment: environment)
                // Restarted once the shipper is under way, and well before it is done.
                var before = 0
                while before == 0, shipper.process.isRunning {
                    before = Int((try? await sql(url, "SELECT shipped_through FROM prs_stores")) ?? "") ?? 0
                    try await Task.sleep(for: .milliseconds(20))
                }
                let script = Sample.fixtures + "/../../tools/postgres-cluster"
                #expect(try await Executable(name: "/bin/bash").run([script, "restart", cluster]).status == 0)
                let after = Int((try? await sql(url, "SELECT shipped_through FROM prs_stores")) ?? "") ?? 0
                #expect(before > 0 && after < head, "PostgreSQL restarted at \(before)...\(after) of \(head): not in the middle of shipping")
                let deadline = Date().addingTimeInterval(90)
                while Date() < deadline, (try? await sql(url, "SELECT shipped_through FROM prs_stores")) != "\(head)" {
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(shipper.process.isRunning, "the shipper gave up when PostgreSQL restarted")
                kill(shipper.process.processIdentifier, SIGTERM)
                _ = await shipper.finish()
                try await Self.expectComplete(url, storeId: id, head: head)
            }
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func aNetworksReplayIsTheUnionOfItsClinicsReplaysAndFindsAChangedRow() async throws {
        try await withTemporaryDirectory { directory in
            try await withPostgres(in: directory) { url, _ in
                let environment = ["XDG_CONFIG_HOME": directory + "/config"]
                var local: [String: Set<String>] = [:]
                var ids: [String] = []
                for (index, prefix) in ["A", "B", "C"].enumerated() {
                    let store = directory + "/clinic-\(prefix)"
                    #expect(try await records.run(["generate", "--store", store, "--patients", "25", "--seed", "\(index + 11)",
                                                   "--patient-prefix", prefix, "--rule-breaking-share", "0.2", "--quiet"], environment: environment).status == 0)
                    #expect(try await records.run(["ship", "--store", store, "--to", url, "--once", "--quiet"], environment: environment).status == 0)
                    let id = try await Self.storeId(store, environment: environment)
                    ids.append(id)
                    let replay = try await replayTool.run(["--store", store, "--format", "json"], environment: environment)
                    local[id] = Self.findings(replay.stdout, store: id)
                }
                let network = try await replayTool.run(["--from", url, "--format", "json"], environment: environment)
                #expect(network.status == 1, "\(network.stderr)")
                let report = try #require(try JSONSerialization.jsonObject(with: Data(network.stdout.utf8)) as? [String: Any])
                #expect(Set(report["stores"] as? [String] ?? []) == Set(ids))
                let all = Self.findings(network.stdout, store: nil)
                #expect(!all.isEmpty && all == local.values.reduce(Set<String>()) { $0.union($1) })

                // One byte of one shipped row changed: that store's log does not verify from there.
                let tampered = ids[1]
                _ = try await sql(url, "UPDATE prs_records SET record = overlay(record placing '\\xff'::bytea from length(record) - 40 for 1) WHERE store_id = '\(tampered)' AND sequence = 200")
                let after = try await replayTool.run(["--from", url, "--store-id", tampered, "--format", "json"], environment: environment)
                let integrity = Self.findings(after.stdout, store: nil).filter { $0.contains("|integrity|") }
                #expect(integrity == ["\(tampered)||integrity|200"], "\(after.stdout.prefix(400))")
                // A restore refuses the changed row, and leaves nothing behind.
                let restored = directory + "/restored"
                let restore = try await records.run(["restore", "--from", url, "--store-id", tampered, restored], environment: environment)
                #expect(restore.status != 0 && restore.stderr.contains("sequence 200"), "\(restore.stderr)")
                #expect(!FileManager.default.fileExists(atPath: restored))
            }
        }
    }

    /// The findings of a JSON report as "store|patient|rule|sequence" lines.
    static func findings(_ json: String, store: String?) -> Set<String> {
        let report = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
        let findings = report?["findings"] as? [[String: Any]] ?? []
        return Set(findings.map { finding in
            "\(store ?? finding["store"] as? String ?? "")|\(finding["patient"] as? String ?? "")|\(finding["rule"] as? String ?? "")|\(finding["sequence"] as? Int ?? 0)"
        })
    }
}
