import Foundation
import TestSupport
import Testing

/// Retired secrets against the file's history: a backup racing `forget` reads a snapshot whose
/// pages must not change under it.
@Suite(.serialized)
struct SecretsTests {
    /// A backup started 0-90 ms before a `forget`: the copy verifies with the key in every race,
    /// so every patient it holds has a data key that opens (the forgotten one is either still
    /// wrapped, the backup's snapshot being older, or forgotten); none holds a zeroed key.
    @Test(.timeLimit(.minutes(8)))
    func aBackupRacingForgetHoldsEveryLivePatientsKey() async throws {
        try await withTemporaryDirectory { directory in
            let environment = ["XDG_CONFIG_HOME": directory + "/config"]
            let store = directory + "/store"
            #expect(try await records.run(["generate", "--store", store, "--patients", "40", "--months", "3", "--quiet"], environment: environment).status == 0)
            var verifiedCopies = 0
            for race in 0..<32 {
                let destination = directory + "/backup-\(race)"
                let backup = try records.start(["backup", "--store", store, destination, "--quiet"], environment: environment)
                try await Task.sleep(for: .milliseconds(race * 3 % 90))
                let patient = String(format: "P-%04d", race + 1)
                let forgot = try await records.run(["forget", "--store", store, patient, "--reason", "race \(race)", "--yes"], environment: environment)
                #expect(forgot.status == 0, "\(forgot.stderr)")
                let copied = await backup.finish()
                #expect(copied.status == 0, "\(copied.stderr)")
                guard copied.status == 0 else { continue }
                let verified = try await records.run(["verify", "--store", destination], environment: environment)
                #expect(verified.status == 0, "race \(race): the backup does not verify: \(verified.stdout.prefix(400))")
                #expect(verified.stdout.contains("every payload decodes"), "race \(race): \(verified.stdout.prefix(300))")
                if verified.status == 0 { verifiedCopies += 1 }
                try? FileManager.default.removeItem(atPath: destination)
            }
            #expect(verifiedCopies >= 30)
            #expect(try await records.run(["verify", "--store", store], environment: environment).status == 0)
        }
    }
}

extension SecretsTests {
    /// Every occurrence of `needle` in the files under `directory` (but `pg_wal`), as paths.
    static func files(under directory: String, holding needle: Data) -> [String] {
        var found: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let relative = enumerator?.nextObject() as? String {
            guard !relative.hasPrefix("pg_wal") else { continue }
            let path = directory + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let data = FileManager.default.contents(atPath: path) else { continue }
            if data.range(of: needle) != nil { found.append(relative) }
        }
        return found
    }

    /// docs/DEPLOYMENT.md's erasure steps, run as written after `forget` and `ship`, leave no
    /// copy of the forgotten patient's wrapped key in any file of the cluster outside its WAL,
    /// even after an ANALYZE (the shipper sets those columns' statistics target to 0).
    @Test(.timeLimit(.minutes(4)))
    func erasureReachesEveryFileOfTheCluster() async throws {
        try await withTemporaryDirectory { directory in
            try await withPostgres(in: directory) { url, cluster in
                let environment = ["XDG_CONFIG_HOME": directory + "/config"]
                let store = directory + "/clinic"
                #expect(try await records.run(["generate", "--store", store, "--patients", "12", "--quiet"], environment: environment).status == 0)
                #expect(try await records.run(["ship", "--store", store, "--to", url, "--once", "--quiet"], environment: environment).status == 0)
                _ = try await sql(url, "ANALYZE prs_stream_keys; ANALYZE prs_records")
                let hex = try await sql(url, "SELECT encode(stored_key, 'hex') FROM prs_stream_keys WHERE stream = convert_to('P-0003', 'UTF8')")
                let key = try #require(Data(hexString: hex))
                #expect(key.count > 40)
                #expect(try await sql(url, "SELECT count(*) FROM pg_statistic WHERE starelid = 'prs_stream_keys'::regclass AND staattnum = 3") == "0")
                #expect(try await records.run(["forget", "--store", store, "P-0003", "--reason", "erasure request ER-1", "--yes"], environment: environment).status == 0)
                #expect(try await records.run(["ship", "--store", store, "--to", url, "--once", "--quiet"], environment: environment).status == 0)
                _ = try await sql(url, "ANALYZE prs_stream_keys")
                // Step 2 of docs/DEPLOYMENT.md.
                _ = try await sql(url, "VACUUM (FULL) prs_stream_keys")
                _ = try await sql(url, "CHECKPOINT")
                #expect(Self.files(under: cluster + "/data", holding: key).isEmpty, "\(Self.files(under: cluster + "/data", holding: key))")
            }
        }
    }
}

extension Data {
    init?(hexString: String) {
        var bytes: [UInt8] = []
        var digits = hexString.makeIterator()
        while let high = digits.next() {
            guard let low = digits.next(), let value = UInt8(String([high, low]), radix: 16) else { return nil }
            bytes.append(value)
        }
        self.init(bytes)
    }
}

extension SecretsTests {
    /// A damaged local record: `ship --once` stops at it with one sentence naming the sequence and
    /// a non-zero exit; PostgreSQL keeps the log up to the record before, which restores. A
    /// restore never removes a work directory it did not make (a `DEST.partial` of someone
    /// else's), and one that fails leaves neither the destination nor its work directory.
    @Test(.timeLimit(.minutes(4)))
    func theShipperShipsOnlyWhatVerifiesAndRestoreTouchesOnlyItsOwn() async throws {
        try await withTemporaryDirectory { directory in
            try await withPostgres(in: directory) { url, _ in
                let environment = ["XDG_CONFIG_HOME": directory + "/config"]
                let store = directory + "/clinic"
                #expect(try await records.run(["generate", "--store", store, "--patients", "10", "--quiet"], environment: environment).status == 0)
                let id = try await ShippingTests.storeId(store, environment: environment)
                // Shipped and sealed through the head; then four more commits (record accesses).
                #expect(try await records.run(["ship", "--store", store, "--to", url, "--once", "--quiet"], environment: environment).status == 0)
                let sealed = Int(try await ShippingTests.head(store, environment: environment))
                for _ in 0..<4 { #expect(try await records.run(["patient", "--store", store, "P-0001", "--actor", "u-nurse-1"], environment: environment).status == 0) }
                let damaged = sealed + 3
                try damageRecord(UInt64(damaged), inStoreAt: store) { $0[$0.count - 20] ^= 0x01 }
                let shipped = try await records.run(["ship", "--store", store, "--to", url, "--once", "--batch", "120", "--quiet"], environment: environment)
                #expect(shipped.status != 0)
                #expect(shipped.stderr.contains("sequence \(damaged)") && shipped.stderr.split(separator: "\n").count == 1, "\(shipped.stderr)")
                try await ShippingTests.expectComplete(url, storeId: id, head: damaged - 1)

                // Someone's directory under the work directory's old name is left alone.
                let destination = directory + "/restored"
                try FileManager.default.createDirectory(atPath: destination + ".partial", withIntermediateDirectories: false)
                try "keep me".write(toFile: destination + ".partial/notes.txt", atomically: true, encoding: .utf8)
                let restored = try await records.run(["restore", "--from", url, "--store-id", id, destination], environment: environment)
                #expect(restored.status == 0, "\(restored.stderr)")
                // Restored through the sealed head; the two records shipped after it are named.
                #expect(restored.stdout.contains("\(sealed) events") && restored.stdout.contains("The 2 records shipped after sequence \(sealed)"), "\(restored.stdout)")
                #expect(try String(contentsOfFile: destination + ".partial/notes.txt", encoding: .utf8) == "keep me")
                let verified = try await records.run(["verify", "--store", destination, "--key-file", directory + "/config/patient-records/keys/\(id).key"], environment: ["XDG_CONFIG_HOME": directory + "/elsewhere"])
                #expect(verified.status == 0 && verified.stdout.contains("Intact: \(sealed) events"), "\(verified.stdout)\(verified.stderr)")

                // A restore that fails (a changed row) leaves neither the destination nor a work directory.
                _ = try await sql(url, "UPDATE prs_records SET record = overlay(record placing '\\xff'::bytea from length(record) - 40 for 1) WHERE store_id = '\(id)' AND sequence = 150")
                let failed = try await records.run(["restore", "--from", url, "--store-id", id, directory + "/again"], environment: environment)
                #expect(failed.status != 0 && failed.stderr.contains("sequence 150"), "\(failed.stderr)")
                let left = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("again") }
                #expect(left.isEmpty, "\(left)")
            }
        }
    }

    /// A forged store row whose id would name a file outside `--key-dir` is that store's
    /// integrity finding; the other stores are judged as before, and no file outside is opened.
    @Test(.timeLimit(.minutes(4)))
    func aForgedStoreRowIsOneFindingNotTheEndOfTheGroupReplay() async throws {
        try await withTemporaryDirectory { directory in
            try await withPostgres(in: directory) { url, _ in
                let environment = ["XDG_CONFIG_HOME": directory + "/config"]
                let store = directory + "/clinic"
                #expect(try await records.run(["generate", "--store", store, "--patients", "8", "--quiet"], environment: environment).status == 0)
                #expect(try await records.run(["ship", "--store", store, "--to", url, "--once", "--quiet"], environment: environment).status == 0)
                let id = try await ShippingTests.storeId(store, environment: environment)
                let forged = "../../\u{1B}]0;owned\u{07}/x"
                _ = try await sql(url, "INSERT INTO prs_stores (store_id, format_version, sealed, key_check, shipped_through, chain_hash) SELECT '\(forged)', format_version, sealed, key_check, 0, chain_hash FROM prs_stores WHERE store_id = '\(id)'")
                let report = try await replayTool.run(["--from", url, "--format", "text"], environment: environment)
                #expect(report.status == 1, "\(report.stderr)")
                DamageTests.expectNoControlCharacters(report, "the group replay with a forged store id")
                #expect(report.stdout.contains("is not 32 hexadecimal digits"), "\(report.stdout.prefix(600))")
                let json = try await replayTool.run(["--from", url, "--format", "json"], environment: environment)
                let findings = ShippingTests.findings(json.stdout, store: nil)
                #expect(findings.contains { $0.hasPrefix(id + "|") && !$0.contains("|integrity|") }, "the genuine store was not judged")
                #expect(findings.contains { $0.hasPrefix(forged + "||integrity|") })
            }
        }
    }
}

extension SecretsTests {
    /// Keyless edits of the shipped log: rows deleted and the checkpoint moved back, the seal
    /// removed, a seal forged. `restore` refuses each, and the group replay reports it as that
    /// store's integrity finding while it judges the other store as before.
    @Test(.timeLimit(.minutes(5)))
    func keylessEditsOfTheShippedLogAreRefusedByRestoreAndFoundByTheReplay() async throws {
        try await withTemporaryDirectory { directory in
            try await withPostgres(in: directory) { url, _ in
                let environment = ["XDG_CONFIG_HOME": directory + "/config"]
                var ids: [String] = []
                for (index, prefix) in ["A", "B"].enumerated() {
                    let store = directory + "/clinic-\(prefix)"
                    #expect(try await records.run(["generate", "--store", store, "--patients", "8", "--seed", "\(index + 3)", "--patient-prefix", prefix, "--quiet"], environment: environment).status == 0)
                    #expect(try await records.run(["ship", "--store", store, "--to", url, "--once", "--quiet"], environment: environment).status == 0)
                    ids.append(try await ShippingTests.storeId(store, environment: environment))
                }
                let (victim, bystander) = (ids[0], ids[1])
                let head = try #require(Int(try await sql(url, "SELECT shipped_through FROM prs_stores WHERE store_id = '\(victim)'")))
                #expect(try await sql(url, "SELECT sealed_through FROM prs_stores WHERE store_id = '\(victim)'") == "\(head)")
                let sealRow = try await sql(url, "SELECT encode(head_seal, 'hex') FROM prs_stores WHERE store_id = '\(victim)'")

                func expectRefused(_ what: String, mentioning phrase: String) async throws {
                    let destination = directory + "/restored-\(UUID().uuidString.prefix(8))"
                    let restore = try await records.run(["restore", "--from", url, "--store-id", victim, destination], environment: environment)
                    #expect(restore.status != 0 && restore.stderr.contains(phrase), "\(what): \(restore.stderr)")
                    #expect(!FileManager.default.fileExists(atPath: destination))
                    let replay = try await replayTool.run(["--from", url, "--format", "json"], environment: environment)
                    let findings = ShippingTests.findings(replay.stdout, store: nil)
                    #expect(findings.contains("\(victim)||integrity|0"), "\(what): \(replay.stdout.prefix(500))")
                    #expect(findings.contains { $0.hasPrefix(bystander + "|") && !$0.contains("|integrity|") }, "\(what): the other store was not judged")
                }

                // The last three rows deleted and the checkpoint moved back to the row before.
                _ = try await sql(url, """
                    DELETE FROM prs_records WHERE store_id = '\(victim)' AND sequence > \(head - 3);
                    UPDATE prs_stores SET shipped_through = \(head - 3),
                        chain_hash = substring((SELECT record FROM prs_records WHERE store_id = '\(victim)' AND sequence = \(head - 3)) from 1 for 0)
                        || (SELECT chain_hash FROM prs_stores WHERE store_id = '\(victim)')
                    WHERE store_id = '\(victim)'
                    """)
                try await expectRefused("a truncation with the checkpoint moved back", mentioning: "before its sealed head")
                // The seal removed as well.
                _ = try await sql(url, "UPDATE prs_stores SET sealed_through = NULL, sealed_hash = NULL, head_seal = NULL WHERE store_id = '\(victim)'")
                try await expectRefused("the seal removed", mentioning: "carries no head seal")
                // A seal made up for the earlier head.
                _ = try await sql(url, """
                    UPDATE prs_stores SET sealed_through = \(head - 3), sealed_hash = chain_hash,
                        head_seal = decode('\(String(sealRow.reversed()))', 'hex') WHERE store_id = '\(victim)'
                    """)
                try await expectRefused("a forged seal", mentioning: "not made by its master key")
            }
        }
    }
}

extension SecretsTests {
    /// `keys rotate` without `--new-key-file` puts the new key in the default key file and keeps
    /// the old one aside: every command goes on without `--key-file`, and the old key no longer
    /// opens the store.
    @Test(.timeLimit(.minutes(2)))
    func rotatingWithTheDefaultKeyFileKeepsEveryCommandWorking() async throws {
        try await withTemporaryDirectory { directory in
            let environment = ["XDG_CONFIG_HOME": directory + "/config"]
            let store = directory + "/store"
            #expect(try await records.run(["import", "--store", store, Sample.path], environment: environment).status == 0)
            let rotated = try await records.run(["keys", "rotate", "--store", store], environment: environment)
            #expect(rotated.status == 0, "\(rotated.stderr)")
            let keys = directory + "/config/patient-records/keys"
            let retired = try #require(try FileManager.default.contentsOfDirectory(atPath: keys).first { $0.contains(".key.retired-") })
            let verified = try await records.run(["verify", "--store", store], environment: environment)
            #expect(verified.status == 0 && verified.stdout.contains("every payload decodes"), "\(verified.stdout)\(verified.stderr)")
            #expect(verified.stdout.contains("the log reaches the highest head this store committed"), "\(verified.stdout)")
            #expect(try await records.run(["patient", "--store", store, "EX-IV-1"], environment: environment).status == 0)
            let old = try await records.run(["keys", "check", "--store", store, "--key-file", keys + "/" + retired], environment: environment)
            #expect(old.status == 1, "\(old.stdout)")
        }
    }
}

extension SecretsTests {
    /// The snooping admin's reads dropped by putting back the data file as it was before them
    /// (its head and seal are the master key's own): `verify` with the key finds the rollback
    /// against the mark beside the key file; without the key it says it could not.
    @Test(.timeLimit(.minutes(2)))
    func aDataFileRolledBackPastTheReadsOfASnoopingAdminIsFound() async throws {
        try await withTemporaryDirectory { directory in
            let environment = ["XDG_CONFIG_HOME": directory + "/config"]
            let store = directory + "/store"
            #expect(try await records.run(["import", "--store", store, Sample.path], environment: environment).status == 0)
            let before = try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb"))
            for _ in 0..<3 {
                #expect(try await records.run(["patient", "--store", store, "EX-IV-1", "--actor", "snooping-admin", "--role", "admin"], environment: environment).status == 0)
            }
            try before.write(to: URL(fileURLWithPath: store + "/data.mdb"))
            let verified = try await records.run(["verify", "--store", store], environment: environment)
            #expect(verified.status == 1 && verified.stdout.contains("rolled back"), "\(verified.stdout)\(verified.stderr)")
            let keyless = try await records.run(["verify", "--store", store], environment: ["XDG_CONFIG_HOME": directory + "/no-keys"])
            #expect(keyless.status == 0 && keyless.stdout.contains("rolled back by someone without the key is not found"), "\(keyless.stdout)")
        }
    }
}
