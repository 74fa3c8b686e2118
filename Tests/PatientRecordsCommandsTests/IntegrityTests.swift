@_spi(RawRecords) import ClinicalRecord
import EventStore
import Foundation
import TestSupport
import Testing

/// The store under faults, tried for real on the built executables: a removed lock file with two
/// writers, damaged meta pages, truncated files, interrupted backups, random damage, and a log
/// rewritten by someone without the master key.
@Suite(.serialized)
struct IntegrityTests {
    /// A generated store and its history as a CloudEvents file, made once for the suite.
    static let history: (store: String, file: String, events: Int) = {
        let directory = NSTemporaryDirectory() + "patient-record-store-integrity-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = directory + "/source"
        _ = try? records.run(["generate", "--store", store, "--patients", "40", "--months", "4", "--quiet"])
        let export = (try? records.run(["export", "--store", store]).stdout) ?? ""
        let file = directory + "/history.ndjson"
        try? export.write(toFile: file, atomically: true, encoding: .utf8)
        return (store, file, export.split(separator: "\n").count)
    }()

    /// Every command a user runs on a store, as arguments after the executable.
    static func commands(_ store: String, importing file: String) -> [(Executable, [String])] {
        [
            (records, ["verify", "--store", store]),
            (records, ["stats", "--store", store]),
            (records, ["export", "--store", store]),
            (records, ["patient", "--store", store, "P-0001"]),
            (records, ["audit", "--store", store, "--format", "json"]),
            (records, ["import", "--store", store, file]),
            (replayTool, ["--store", store, "--format", "json"]),
        ]
    }

    /// The outcome of a command run on a damaged store: it ended on its own (no signal), and if it
    /// failed, it said why in one line.
    static func expectRefusedOrFine(_ outcome: Executable.Outcome, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!outcome.killedBySignal, "\(what) died by a signal: \(outcome.stderr.prefix(300))", sourceLocation: sourceLocation)
        if outcome.status != 0 {
            let lines = outcome.stderr.split(separator: "\n")
            #expect(lines.count <= 1 || outcome.stdout.hasPrefix("Damaged"), "\(what) wrote more than one line: \(outcome.stderr.prefix(300))", sourceLocation: sourceLocation)
        }
    }

    /// Finding 1, with the command line: an import is running, lock.mdb is removed, a second
    /// import of other patients starts. Whatever each reports, every import that reports
    /// "Imported" is whole in the store, and the store verifies. (EventStoreTests repeats the
    /// trial with a writer appending without pause.)
    @Test(.timeLimit(.minutes(4)))
    func removingTheLockFileUnderAnImportLosesNoAcknowledgedEvent() async throws {
        try await withTemporaryDirectory { directory in
            // A history long enough that the first import is still writing when the second starts.
            let generated = directory + "/source"
            #expect(try await records.run(["generate", "--store", generated, "--patients", "250", "--months", "4", "--quiet"]).status == 0)
            let sourceFile = directory + "/history.ndjson"
            try await records.run(["export", "--store", generated]).stdout.write(toFile: sourceFile, atomically: true, encoding: .utf8)
            let source = (file: sourceFile, events: try String(contentsOfFile: sourceFile, encoding: .utf8).split(separator: "\n").count)
            #expect(source.events > 10_000)
            // A second history of other patients, with other ids, for the second import.
            let other = directory + "/other.ndjson"
            try String(contentsOfFile: source.file, encoding: .utf8).replacing("\"P-0", with: "\"Q-0")
                .replacing(/"(id|voidedEventId)":"([^"]*)"/) { "\"\($0.output.1)\":\"q-\($0.output.2)\"" }
                .write(toFile: other, atomically: true, encoding: .utf8)
            let lines = try String(contentsOfFile: source.file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            let firstHalf = lines[..<(lines.count / 2)].joined(separator: "\n") + "\n"
            let secondHalf = lines[(lines.count / 2)...].joined(separator: "\n")
            var overlapped = 0
            for trial in 0..<3 {
                let store = directory + "/store-\(trial)"
                // The first import streams from standard input, inside its one transaction: it is
                // given half the history, and the rest only once the second import has started,
                // so the two meet whatever the machine's load.
                let first = try records.start(["import", "--store", store, "-"], input: true)
                try await first.write(firstHalf, closing: false)
                let deadline = Date().addingTimeInterval(20)
                while !FileManager.default.fileExists(atPath: store + "/data.mdb") && Date() < deadline { try await Task.sleep(for: .milliseconds(2)) }
                try await Task.sleep(for: .milliseconds(20))
                try? FileManager.default.removeItem(atPath: store + "/lock.mdb")
                let secondRun = try records.start(["import", "--store", store, other])
                // They met: both processes alive at once (whichever then takes the writer's lock
                // first, and whether the other waits or is refused, depends on the load).
                if first.process.isRunning && secondRun.process.isRunning { overlapped += 1 }
                // The first import may have been refused and ended already; then the rest is not read.
                try? await first.write(secondHalf, closing: true)
                let second = await secondRun.finish()
                let firstOutcome = await first.finish()
                #expect(!firstOutcome.killedBySignal && !second.killedBySignal)
                #expect(firstOutcome.status == 0 || second.status == 0, "neither import landed: \(firstOutcome.stderr) / \(second.stderr)")
                let exported = try await records.run(["export", "--store", store]).stdout
                let ids = Set(exported.split(separator: "\n").compactMap { line in
                    (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? String
                })
                for (outcome, file) in [(firstOutcome, source.file), (second, other)] where outcome.status == 0 {
                    #expect(outcome.stdout.hasPrefix("Imported"))
                    let wanted = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").compactMap { line in
                        (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? String
                    }
                    let missing = wanted.filter { !ids.contains($0) }
                    #expect(missing.isEmpty, "trial \(trial): \(missing.count) acknowledged events are gone")
                }
                for outcome in [firstOutcome, second] where outcome.status != 0 {
                    #expect(outcome.stderr.contains("lock"), "a refused writer should say why: \(outcome.stderr)")
                }
                #expect(try await records.run(["verify", "--store", store]).status == 0)
            }
            #expect(overlapped == 3, "the second import met the first one running in \(overlapped) of 3 trials")
        }
    }

    /// Finding 2: one flipped byte in the meta page (offset 128 of page 0: the main database's
    /// root) or in the header of the main database's root page (offset 8204, its count of
    /// entries) made every writing command create a new, empty store in place. Now every command
    /// refuses with a sentence, and nothing is written.
    @Test(arguments: ["meta page: the main database's root", "root page: its count of entries"])
    func aDamagedMetaPageIsRefusedAndNeverReinitialised(damage: String) async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            // Key files of this test's own (other tests make stores meanwhile).
            let environment = ["XDG_CONFIG_HOME": directory + "/config"]
            let keyDirectory = directory + "/config/patient-records/keys"
            #expect(try await records.run(["import", "--store", store, Self.history.file], environment: environment).status == 0)
            let keys = try FileManager.default.contentsOfDirectory(atPath: keyDirectory)
            // LMDB reads the meta page with the higher transaction id; the flips go to that one,
            // and to the page its main database root names (where the named databases are listed).
            let file = try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb"))
            func word(_ offset: Int) -> Int { file[offset..<(offset + 8)].reversed().reduce(0) { $0 << 8 | Int($1) } }
            let meta = word(4096 + 144) > word(144) ? 4096 : 0
            if damage.hasPrefix("meta") {
                try Tamper.flip(store + "/data.mdb", at: meta + 128, mask: 0x04)
            } else {
                // A set bit of the entry count cleared: the last named databases are no longer listed.
                let header = word(meta + 128) * 4096 + 12
                let lower = file[header]
                try Tamper.flip(store + "/data.mdb", at: header, mask: [0x02, 0x04, 0x08, 0x10].first { lower & $0 != 0 } ?? 0x02)
            }
            let before = try Tamper.digest(of: store + "/data.mdb")
            for (tool, arguments) in Self.commands(store, importing: Sample.path) + [(records, ["generate", "--store", store, "--patients", "2", "--quiet"])] {
                let outcome = try await tool.run(arguments, environment: environment)
                Self.expectRefusedOrFine(outcome, arguments.joined(separator: " "))
                #expect(outcome.status != 0, "\(arguments[0]) succeeded on a damaged store: \(outcome.stdout.prefix(200))")
            }
            #expect(try Tamper.digest(of: store + "/data.mdb") == before, "a command wrote to the damaged store")
            #expect(try Set(FileManager.default.contentsOfDirectory(atPath: keyDirectory)) == Set(keys), "a new key file was made")
        }
    }

    /// Finding 3: truncated data files (8 KiB, 16 KiB, half, and at page boundaries) ended every
    /// tool with SIGBUS. Now each is refused at open with a sentence that says to restore a backup.
    @Test(.timeLimit(.minutes(3)))
    func truncatedDataFilesAreRefusedWithASentence() async throws {
        try await withTemporaryDirectory { directory in
            let pristine = directory + "/pristine"
            #expect(try await records.run(["import", "--store", pristine, Self.history.file]).status == 0)
            let data = try Data(contentsOf: URL(fileURLWithPath: pristine + "/data.mdb"))
            let pages = data.count / 4096
            let sizes = [8192, 16384, data.count / 2] + stride(from: 3, to: pages, by: max(1, pages / 8)).map { $0 * 4096 }
            for size in sizes {
                let store = directory + "/cut-\(size)"
                try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                try data.prefix(size).write(to: URL(fileURLWithPath: store + "/data.mdb"))
                for (tool, arguments) in Self.commands(store, importing: Sample.path) {
                    let outcome = try await tool.run(arguments)
                    Self.expectRefusedOrFine(outcome, "\(arguments[0]) on \(size) bytes")
                    #expect(outcome.status != 0)
                    #expect(outcome.stderr.contains("truncated") || outcome.stderr.contains("damaged"), "\(outcome.stderr)")
                }
            }
        }
    }

    /// Finding 3: a backup killed part way left a partial copy under the destination's name that
    /// every tool crashed on. Now the destination appears only once the copy is whole and verified;
    /// what a killed backup leaves is named .partial and refused.
    @Test(.timeLimit(.minutes(3)))
    func aKilledBackupLeavesNothingUnderTheDestinationsName() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["generate", "--store", store, "--patients", "300", "--months", "6", "--quiet"]).status == 0)
            let started = Date()
            #expect(try await records.run(["backup", "--store", store, directory + "/whole", "--quiet"]).status == 0)
            let duration = Date().timeIntervalSince(started)
            #expect(try await records.run(["verify", "--store", directory + "/whole"]).status == 0)
            var killedPartWay = 0
            for (attempt, fraction) in [0.1, 0.3, 0.5].enumerated() {
                let destination = directory + "/backup-\(attempt)"
                let backup = try records.start(["backup", "--store", store, destination, "--quiet"])
                try await Task.sleep(for: .seconds(duration * fraction))
                kill(backup.process.processIdentifier, SIGKILL)
                let outcome = await backup.finish()
                let exists = FileManager.default.fileExists(atPath: destination)
                if outcome.killedBySignal && !exists { killedPartWay += 1 }
                if exists { #expect(try await records.run(["verify", "--store", destination]).status == 0) }
                // A partial copy is refused (or, killed between its verification and the rename,
                // it is whole and verifies); no tool crashes on it.
                for partial in try FileManager.default.contentsOfDirectory(atPath: directory) where partial.hasPrefix("backup-\(attempt).partial-") {
                    for (tool, arguments) in Self.commands(directory + "/" + partial, importing: Sample.path).prefix(3) {
                        Self.expectRefusedOrFine(try await tool.run(arguments), "\(arguments[0]) of a partial backup")
                    }
                }
            }
            #expect(killedPartWay > 0, "no backup was killed part way; the test proved nothing")
        }
    }

    /// Finding 3: random damage. 300 seeded bit flips in a small store, each tried with the
    /// commands that read the whole log; one in ten with every command. No process may end by a
    /// signal: LMDB's faults and assertions on damaged pages are caught and become sentences.
    /// Where verify finds the damaged store intact, a write (an import) follows, and if it is
    /// acknowledged the store must still verify: no write is acknowledged into damage.
    @Test(.timeLimit(.minutes(10)))
    func aCampaignOfRandomFlipsEndsNoProcessBySignal() async throws {
        try await withTemporaryDirectory { directory in
            let pristine = directory + "/pristine"
            #expect(try await records.run(["generate", "--store", pristine, "--patients", "6", "--months", "2", "--quiet"]).status == 0)
            let data = try Data(contentsOf: URL(fileURLWithPath: pristine + "/data.mdb"))
            var generator = SeededGenerator(seed: 11)
            var refused = 0, writesAfterIntact = 0
            let flips = 300
            for flip in 0..<flips {
                let store = directory + "/flip"
                DamageTests.forgetMarks(of: store)
                try? FileManager.default.removeItem(atPath: store)
                try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                var damaged = data
                // Past both meta pages (DamageTests sweeps every byte of those).
                let offset = Int.random(in: 8192..<data.count, using: &generator)
                damaged[offset] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
                try damaged.write(to: URL(fileURLWithPath: store + "/data.mdb"))
                let all = Self.commands(store, importing: Sample.path)
                let chosen = flip % 10 == 0 ? all : [all[0], all[2], all[6]]
                var intact = false
                for (tool, arguments) in chosen {
                    let outcome = try await tool.run(arguments)
                    Self.expectRefusedOrFine(outcome, "\(arguments[0]) after flipping a bit at \(offset)")
                    if outcome.status != 0 { refused += 1 }
                    if arguments[0] == "verify" { intact = outcome.status == 0 }
                }
                if intact {
                    let imported = try await records.run(["import", "--store", store, Sample.v2Path])
                    Self.expectRefusedOrFine(imported, "import after flipping a bit at \(offset)")
                    if imported.status == 0 {
                        writesAfterIntact += 1
                        let verified = try await records.run(["verify", "--store", store])
                        #expect(verified.status == 0, "an import was acknowledged after flipping a bit at \(offset), then: \(verified.stdout.prefix(300))")
                    }
                }
            }
            #expect(refused > 0, "no flip was noticed; the campaign proved nothing")
            #expect(writesAfterIntact > 0, "no write followed an intact verify; the campaign proved nothing about writes")
        }
    }

    /// Finding 6: without the master key, deleting a record access (a snooping admin's read),
    /// renaming an actor and recomputing the SHA-256 chain left verify "Intact". With the key the
    /// head's seal no longer matches; with a head published before, the rewrite is found even
    /// without the key. The keyless chain check alone still passes, as it must.
    @Test(.timeLimit(.minutes(2)))
    func aLogRewrittenWithoutTheKeyIsFoundByTheSealAndByAPublishedHead() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["import", "--store", store, Sample.path]).status == 0)
            #expect(try await records.run(["patient", "--store", store, "EX-IV-1", "--actor", "snooping-admin", "--role", "admin"]).status == 0)
            let imported = try await records.run(["import", "--store", store, Self.history.file])
            #expect(imported.status == 0, "\(imported.stderr)")
            let intact = try await records.run(["verify", "--store", store])
            #expect(intact.status == 0 && intact.stdout.contains("the head's seal matches the master key"), "\(intact.stdout)")
            let head = try #require(intact.stdout.split(separator: "\n").last(where: { $0.hasPrefix("Head: ") })).dropFirst("Head: ".count)
            let early = try #require(ChainHead(String(head)))
            let snooped = try #require(try await records.run(["audit", "--store", store, "--actor", "snooping-admin", "--format", "json"]).stdout
                .firstMatch(of: /"sequence" ?: ?(\d+)/).flatMap { UInt64($0.1) })
            #expect(snooped < early.sequence)

            try Tamper.rewriteLog(ofStoreAt: store, dropping: [snooped], renaming: ("u-nurse-1", "u-nurse-9"))
            // Without the key the chain is consistent again: that is all a keyless check can see.
            let keyless = try await records.run(["verify", "--store", store], environment: ["XDG_CONFIG_HOME": directory + "/no-keys"])
            #expect(keyless.status == 0 && keyless.stdout.contains("without the master key"), "\(keyless.stdout)")
            // With the key, the mark of the highest head beside it finds the dropped read first;
            // without the mark, the head's seal finds the rewrite.
            let marked = try await records.run(["verify", "--store", store])
            #expect(marked.status == 1 && marked.stdout.contains("below the highest head this store committed"), "\(marked.stdout)")
            DamageTests.forgetMarks(of: store)
            let sealed = try await records.run(["verify", "--store", store])
            #expect(sealed.status == 1)
            #expect(sealed.stdout.contains("seal of the head") && sealed.stdout.contains("without the master key"), "\(sealed.stdout)")
            let anchored = try await records.run(["verify", "--store", store, "--expect-head", early.description], environment: ["XDG_CONFIG_HOME": directory + "/no-keys"])
            #expect(anchored.status == 1)
            #expect(anchored.stdout.contains("published"), "\(anchored.stdout)")
        }
    }
}

/// A small deterministic generator (SplitMix64) for reproducible damage.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
