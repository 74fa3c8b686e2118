import EventStore
import Foundation
import TestSupport
import Testing

/// Damage is named, never a signal and never silent: every byte of both meta pages, the free
/// list's root, a file truncated under a running reader, and every byte that reaches a terminal.
@Suite(.serialized)
struct DamageTests {
    /// `PATIENT_RECORDS_FAULT_SWEEP=full` runs every command for every byte (tools/faults);
    /// the suite runs verify and one other command per byte, in turn, within CI's budget.
    static let fullSweep = ProcessInfo.processInfo.environment["PATIENT_RECORDS_FAULT_SWEEP"] == "full"

    /// A small generated store, made once for the suite.
    static let pristine: (directory: String, store: String) = {
        let directory = NSTemporaryDirectory() + "patient-record-store-damage-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try? records.run(["generate", "--store", directory + "/store", "--patients", "6", "--months", "2", "--quiet"])
        return (directory, directory + "/store")
    }()

    static func word(_ data: Data, _ offset: Int) -> UInt64 {
        data[offset..<(offset + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The offset of the meta page LMDB uses (the higher transaction id).
    static func currentMeta(_ data: Data) -> Int { word(data, 4096 + 144) > word(data, 144) ? 4096 : 0 }

    /// Removes the marks of the highest committed head (beside the key files) that name the
    /// store directory `store`: what an operator does after putting an older data file back on
    /// purpose. A test that lays one copy after another in the same directory is such a case.
    static func forgetMarks(of store: String) {
        let configuration = ProcessInfo.processInfo.environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSHomeDirectory() + "/.config"
        let keys = configuration + "/patient-records/keys"
        let directory = URL(fileURLWithPath: store).resolvingSymlinksInPath().path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: keys)) ?? [] where name.hasSuffix(".head") {
            let text = (try? String(contentsOfFile: keys + "/" + name, encoding: .utf8)) ?? ""
            if text.split(separator: "\n").first.map({ $0.hasSuffix(" " + directory) }) == true {
                try? FileManager.default.removeItem(atPath: keys + "/" + name)
            }
        }
    }

    /// Writes `data` as the data file of a fresh store directory `store`.
    static func lay(_ data: Data, at store: String) throws {
        forgetMarks(of: store)
        try? FileManager.default.removeItem(atPath: store)
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try data.write(to: URL(fileURLWithPath: store + "/data.mdb"))
    }

    /// Runs `arguments` on the damaged `store` and checks the contract: no signal; a failure is
    /// one sentence; an export that succeeds shows every event (`exported`: the lines an export
    /// of the undamaged file gives); a write that is acknowledged leaves a store that verifies.
    /// Returns whether the command refused.
    @discardableResult
    static func expectNamedOrWhole(_ tool: Executable, _ arguments: [String], store: String, exported: Int? = nil, what: String) async throws -> Bool {
        let outcome = try await tool.run(arguments)
        IntegrityTests.expectRefusedOrFine(outcome, what)
        guard outcome.status == 0 else { return true }
        switch arguments[0] {
        case "export":
            let lines = outcome.stdout.split(separator: "\n").count
            if let exported { #expect(lines == exported, "\(what): exported \(lines) of \(exported) events") }
        case "import", "generate":
            let verified = try await records.run(["verify", "--store", store])
            #expect(verified.status == 0, "\(what): a write was acknowledged, then verify said: \(verified.stdout.prefix(300))\(verified.stderr.prefix(300))")
        default: break
        }
        return false
    }

    /// Every byte of both meta pages (152 bytes each: the header and LMDB's meta record), XOR 1.
    @Test(.timeLimit(.minutes(12)))
    func everyByteOfBothMetaPagesIsNamedOrHarmless() async throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.pristine.store + "/data.mdb"))
        let store = Self.pristine.directory + "/meta-sweep"
        let all = IntegrityTests.commands(store, importing: Sample.path)
        // An export records its read first: the undamaged file exports this many lines.
        try Self.lay(data, at: store)
        let exported = try await records.run(["export", "--store", store]).stdout.split(separator: "\n").count
        var refusals = 0
        for page in [0, 4096] {
            for byte in 0..<152 {
                let offset = page + byte
                let chosen = Self.fullSweep ? all : [all[0], all[1 + (offset % (all.count - 1))]]
                for (tool, arguments) in chosen {
                    var damaged = data
                    damaged[offset] ^= 0x01
                    try Self.lay(damaged, at: store)
                    if try await Self.expectNamedOrWhole(tool, arguments, store: store, exported: exported, what: "\(arguments[0]) with byte \(offset) flipped") {
                        refusals += 1
                    }
                }
            }
        }
        #expect(refusals > 0, "no flip was refused; the sweep proved nothing")
    }

    /// The free list's root (byte 80 of the current meta page) with every single-bit mask:
    /// verify names the damage, and a write is refused or leaves a store that verifies.
    @Test(.timeLimit(.minutes(4)))
    func aDamagedFreeListRootIsNamedAndNeverWrittenInto() async throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.pristine.store + "/data.mdb"))
        let meta = Self.currentMeta(data)
        let store = Self.pristine.directory + "/free-list"
        for mask: UInt8 in [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x03, 0x05, 0xF0] {
            var damaged = data
            damaged[meta + 80] ^= mask
            try Self.lay(damaged, at: store)
            let verified = try await records.run(["verify", "--store", store])
            IntegrityTests.expectRefusedOrFine(verified, "verify with the free list's root XOR \(mask)")
            #expect(verified.status != 0, "verify said intact with the free list's root XOR \(mask): \(verified.stdout.prefix(200))")
            for arguments in [["import", "--store", store, Sample.path], ["generate", "--store", store, "--patients", "2", "--quiet"]] {
                try Self.lay(damaged, at: store)
                try await Self.expectNamedOrWhole(records, arguments, store: store, what: "\(arguments[0]) with the free list's root XOR \(mask)")
            }
        }
    }

    /// A data file truncated while a replay or an audit reads it: no process ends by a signal;
    /// each finishes with every event or refuses with one sentence.
    @Test(.timeLimit(.minutes(6)))
    func aFileTruncatedUnderARunningReplayOrAuditIsNamed() async throws {
        try await withTemporaryDirectory { directory in
            let pristine = directory + "/pristine"
            #expect(try await records.run(["generate", "--store", pristine, "--patients", "300", "--months", "6", "--quiet"]).status == 0)
            let data = try Data(contentsOf: URL(fileURLWithPath: pristine + "/data.mdb"))
            let store = directory + "/store"
            var named = 0
            for (tool, arguments) in [(replayTool, ["--store", store, "--format", "json"]), (records, ["audit", "--store", store, "--format", "json"])] {
                for delay in [0, 5, 10, 20, 40, 80, 160, 320] {
                    try Self.lay(data, at: store)
                    let running = try tool.start(arguments)
                    try await Task.sleep(for: .milliseconds(delay))
                    #expect(truncate(store + "/data.mdb", off_t(data.count / 5)) == 0)
                    let outcome = await running.finish()
                    let what = "\(arguments[0]) with the file truncated after \(delay) ms"
                    IntegrityTests.expectRefusedOrFine(outcome, what)
                    if outcome.stderr.isEmpty {
                        // Finished before the truncation: a whole report (the replay exits 1 when
                        // it has error findings, with its report on stdout).
                        #expect(outcome.status == 0 || (outcome.status == 1 && tool.name == replayTool.name), "\(what): status \(outcome.status)")
                        #expect(outcome.stdout.hasSuffix("\n") && outcome.stdout.count > 100, "\(what): \(outcome.stdout.suffix(200))")
                    } else {
                        named += 1
                        #expect(outcome.status != 0)
                        #expect(outcome.stderr.contains("truncated") || outcome.stderr.contains("shrank") || outcome.stderr.contains("damaged"), "\(what): \(outcome.stderr)")
                    }
                }
            }
            #expect(named > 0, "no truncation met a running reader; the test proved nothing")
        }
    }

    /// Control characters: ESC, CR, BEL, C1 and bidirectional overrides in field names, types,
    /// enum values, ids and arguments never reach standard output or error raw.
    @Test(.timeLimit(.minutes(3)))
    func noControlCharacterOfInputOrArgumentsReachesTheTerminal() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["import", "--store", store, Sample.path]).status == 0)
            let hostile = ["\r", "\u{1B}[2J", "\u{07}", "\u{9B}31m", "\u{1B}]0;owned\u{07}", "\u{202E}", "\u{1B}[8m"]
            var lines: [String] = []
            for (index, text) in hostile.enumerated() {
                let forged = "\(text)Imported 9490 events (0 already stored) from 9490 lines.\u{1B}[K"
                lines.append(Sample.line(2) { _, data in data["doseMg" + forged] = 1 })          // a field name
                lines.append(Sample.line(2) { object, _ in object["type"] = "ketamine.v1.\(forged)" }) // a type
                lines.append(Sample.line(2) { object, _ in object["id"] = "id-\(index)-\(forged)"; object["actorrole"] = forged }) // id and enum
                lines.append(Sample.line(2) { object, _ in object["subject"] = "P-\(forged)" })   // a patient id
            }
            for (number, line) in lines.enumerated() {
                let file = directory + "/line-\(number).ndjson"
                try line.write(toFile: file, atomically: true, encoding: .utf8)
                let outcome = try await records.run(["import", "--store", store, file])
                #expect(outcome.status != 0, "line \(number) was imported: \(line.prefix(200))")
                Self.expectNoControlCharacters(outcome, "import of hostile line \(number)")
            }
            for text in hostile {
                for arguments in [["patient", "--store", store, "P-\(text)0001"], ["export", "--store", store + text],
                                  ["audit", "--store", store, "--patient", "P\(text)"], ["patient", "--store", store, "EX-IV-1", "--actor", "a\(text)"]] {
                    let outcome = try await records.run(arguments)
                    Self.expectNoControlCharacters(outcome, "\(arguments[0]) with a hostile argument")
                }
            }
        }
    }

    static func expectNoControlCharacters(_ outcome: Executable.Outcome, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for (name, text) in [("stdout", outcome.stdout), ("stderr", outcome.stderr)] {
            let raw = text.unicodeScalars.first { scalar in
                scalar != "\n" && (scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value))
            }
            #expect(raw == nil, "\(what): \(name) holds U+\(String(raw?.value ?? 0, radix: 16)) raw: \(text.debugDescription.prefix(300))", sourceLocation: sourceLocation)
        }
    }

    /// A byte order mark at the start of a file is taken; one on a later line is named.
    @Test func aByteOrderMarkAtTheStartIsTakenAndElsewhereNamed() async throws {
        try await withTemporaryDirectory { directory in
            let sample = try String(contentsOfFile: Sample.path, encoding: .utf8)
            let marked = directory + "/marked.ndjson"
            try ("\u{FEFF}" + sample).write(toFile: marked, atomically: true, encoding: .utf8)
            let imported = try await records.run(["import", "--store", directory + "/a", marked])
            #expect(imported.status == 0, "\(imported.stderr)")
            let lines = sample.split(separator: "\n")
            let later = directory + "/later.ndjson"
            try (String(lines[0]) + "\n\u{FEFF}" + lines[1...].joined(separator: "\n") + "\n").write(toFile: later, atomically: true, encoding: .utf8)
            let refused = try await records.run(["import", "--store", directory + "/b", later])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("line 2") && refused.stderr.contains("byte order mark"), "\(refused.stderr)")
        }
    }

    /// `--html DIR` names the directory, not "No such file or directory".
    @Test func aPageWrittenToADirectoryIsRefusedWithASentence() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["import", "--store", store, Sample.path]).status == 0)
            let outcome = try await records.run(["patient", "--store", store, "EX-IV-1", "--html", directory])
            #expect(outcome.status != 0)
            #expect(outcome.stderr.contains("is a directory"), "\(outcome.stderr)")
        }
    }
}

extension DamageTests {
    /// A backup and a restore-sized write under a file size limit: SIGXFSZ does not end the
    /// process, and the refusal says the limit (or the disk) is full, not "Input/output error".
    @Test(.timeLimit(.minutes(2)))
    func aFileSizeLimitIsNamedLikeAFullDisk() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["generate", "--store", store, "--patients", "40", "--months", "3", "--quiet"]).status == 0)
            let size = try FileManager.default.attributesOfItem(atPath: store + "/data.mdb")[.size] as? Int ?? 0
            // ulimit -f counts 1,024-byte blocks in bash; half the store's size.
            let blocks = max(64, size / 2 / 1024)
            let tool = Executable.directory + "/patient-records"
            let shell = Executable(name: "/bin/bash")
            let outcome = try await shell.run(["-c", "ulimit -f \(blocks); exec \"$0\" backup --store \"$1\" \"$2\" --quiet", tool, store, directory + "/copy"])
            #expect(!outcome.killedBySignal, "\(outcome.stderr)")
            #expect(outcome.status != 0)
            #expect(outcome.stderr.contains("full"), "\(outcome.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/copy"))
        }
    }
}

extension DamageTests {
    /// The escaping rule holds by construction: the commands write text only through
    /// `say`/`sayError` (whose interpolations are escaped) or the progress line; JSON is written
    /// by its encoder and `--help` by the argument parser. A new `print(` elsewhere fails here.
    @Test func theCommandsWriteTextOnlyThroughTheTerminalRule() throws {
        var sources = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { sources.deleteLastPathComponent() }
        sources.appendPathComponent("Sources/PatientRecordsCommands")
        let allowed: Set<String> = ["TerminalText.swift", "TerminalProgress.swift", "AccessOptions.swift", "CommandRunner.swift"]
        let files = try #require(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        #expect(files.count > 10)
        for file in files where !allowed.contains((file as NSString).lastPathComponent) {
            let text = try String(contentsOfFile: sources.path + "/" + file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.trimmingCharacters(in: .whitespaces)
                guard !code.hasPrefix("//") else { continue }
                #expect(!code.contains("print(") && !code.contains("standardError.write") && !code.contains("standardOutput.write"),
                        "\(file):\(number + 1) writes to the terminal around the escaping rule: \(code)")
            }
        }
    }
}
