@_spi(RawRecords) import ClinicalRecord
import EventStore
import Foundation
import TestSupport
import Testing

/// Runs a built executable of this package and captures its output and exit status.
struct Executable {
    let name: String

    static var directory: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (executable as NSString).deletingLastPathComponent
    }

    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
        /// Whether the process ended by a signal (a crash, or a kill) rather than on its own.
        var killedBySignal = false
    }

    /// A process started and not yet waited for.
    struct Running {
        let process: Process
        let out: Pipe, err: Pipe
        /// The process's standard input, when it was started with one to write to.
        var input: FileHandle?

        /// Writes `text` to the process's standard input on a thread of its own (a pipe takes
        /// 64 KiB at most before the child reads), then closes it when `closing`. A child that
        /// has ended makes it throw (EPIPE), not end the test process by SIGPIPE.
        func write(_ text: String, closing: Bool) async throws {
            guard let input else { return }
            signal(SIGPIPE, SIG_IGN)
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                Thread {
                    continuation.resume(with: Result {
                        try input.write(contentsOf: Data(text.utf8))
                        if closing { try input.close() }
                    })
                }.start()
            }
        }

        /// ``finish()`` on a thread of its own (see ``Executable/run(_:in:input:environment:)``).
        func finish() async -> Outcome {
            await withCheckedContinuation { continuation in
                Thread { continuation.resume(returning: self.finish() as Outcome) }.start()
            }
        }

        /// Waits for the process and returns what it printed.
        func finish() -> Outcome {
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                           stderr: String(decoding: stderr, as: UTF8.self), killedBySignal: process.terminationReason == .uncaughtSignal)
        }
    }

    @discardableResult
    /// ``run(_:in:input:environment:)`` that waits on a thread of its own, so that a test waiting
    /// for a long child process leaves the cooperative threads (two on two cores) to other tests.
    func run(_ arguments: [String], in directory: String? = nil, input: String? = nil, environment: [String: String] = [:]) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try self.run(arguments, in: directory, input: input, environment: environment) as Outcome })
            }.start()
        }
    }

    /// Starts the tool and returns at once; `environment` is added to the test's own.
    /// With `input`, the process reads a pipe the test writes with ``Running/write(_:closing:)``.
    func start(_ arguments: [String], environment: [String: String] = [:], input: Bool = false) throws -> Running {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: name.hasPrefix("/") ? name : Self.directory + "/" + name)
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = input ? stdin : FileHandle.nullDevice
        try process.run()
        return Running(process: process, out: out, err: err, input: input ? stdin.fileHandleForWriting : nil)
    }

    @discardableResult
    /// Runs the tool; `input` is its standard input (none when `nil`), `environment` is added to
    /// the test's own.
    func run(_ arguments: [String], in directory: String? = nil, input: String? = nil, environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: name.hasPrefix("/") ? name : Self.directory + "/" + name)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe(), stdin = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        // Read before waiting, so a large output cannot fill the pipe and stall the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self),
                       killedBySignal: process.terminationReason == .uncaughtSignal)
    }
}

let records = Executable(name: "patient-records")
let replayTool = Executable(name: "patient-records-replay")

struct CommandLineTests {
    /// The v1 sample was recorded before the v1.1 fields: its expected findings are those of the
    /// rules with `prescriber-on-site` and `off-label-consent` switched off (docs/COMPLIANCE.md).
    static let beforeV11Policy = """
        rules:
          prescriber-on-site: {enabled: false}
          off-label-consent: {enabled: false}
        """

    @Test(.timeLimit(.minutes(2)))
    func theReplayToolReportsTheSamplesExpectedRulesAndExitsOne() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            let policy = directory + "/before-v1.1.yaml"
            try Self.beforeV11Policy.write(toFile: policy, atomically: true, encoding: .utf8)
            #expect(try await records.run(["import", "--store", store, Sample.path]).status == 0)
            let outcome = try await replayTool.run(["--store", store, "--format", "json", "--policy", policy])
            #expect(outcome.status == 1)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
            let findings = try #require(report["findings"] as? [[String: Any]])
            let expectedPath = (Sample.path as NSString).deletingPathExtension + ".expected.json"
            let expected = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: expectedPath))) as? [String: [String]])
            for (patient, rules) in expected {
                #expect(findings.filter { $0["patient"] as? String == patient }.compactMap { $0["rule"] as? String }.sorted() == rules.sorted(), "\(patient)")
            }
            #expect(report["eventsReplayed"] as? Int == 128)
            #expect((report["summary"] as? [String: Int])?["fasting"] == 1)
            let text = try await replayTool.run(["--store", store, "--policy", policy])
            #expect(text.status == 1)
            #expect(text.stdout.contains("Patient EX-FASTING"))
            // As of sequence 20 only EX-IV-1 has begun; nothing is broken yet.
            #expect(try await replayTool.run(["--store", store, "--as-of", "20", "--policy", policy]).status == 0)
            // With the shipped (v2) policy, the v1 history lacks what v1.1 asks for.
            let v2 = try await replayTool.run(["--store", store, "--format", "json"])
            #expect(v2.stdout.contains("\"prescriber-on-site\"") && v2.stdout.contains("\"off-label-consent\""))
        }
    }

    /// The v2 reference: eight patients with the v1.1 fields, each breaking exactly the rules of
    /// its expected file under the shipped policy.
    @Test(.timeLimit(.minutes(2)))
    func theReplayToolReportsTheV2SamplesExpectedRules() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["import", "--store", store, Sample.v2Path]).status == 0)
            let outcome = try await replayTool.run(["--store", store, "--format", "json"])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
            let findings = try #require(report["findings"] as? [[String: Any]])
            let expectedPath = (Sample.v2Path as NSString).deletingPathExtension + ".expected.json"
            let expected = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: expectedPath))) as? [String: [String]])
            #expect(report["patients"] as? Int == expected.count)
            for (patient, rules) in expected {
                #expect(findings.filter { $0["patient"] as? String == patient }.compactMap { $0["rule"] as? String }.sorted() == rules.sorted(), "\(patient)")
            }
            #expect(findings.allSatisfy { expected.keys.contains($0["patient"] as? String ?? "") })
            #expect(outcome.status == (findings.contains { $0["severity"] as? String == "error" } ? 1 : 0))
        }
    }

    @Test(arguments: [
        (["--store", "/nonexistent/store"], "There is no event store at /nonexistent/store"),
        (["--store", "STORE", "--as-of", "yesterday"], "--as-of must be an RFC 3339 time"),
        (["--store", "STORE", "--policy", "/nonexistent.yaml"], "The policy file /nonexistent.yaml cannot be read."),
        (["--store", "STORE", "--format", "xml"], "xml"),
    ])
    func theReplayToolExitsTwoWithOneSentenceWhenItCannotCheck(arguments: [String], complaint: String) async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["import", "--store", store, Sample.path]).status == 0)
            let outcome = try await replayTool.run(arguments.map { $0 == "STORE" ? store : $0 })
            #expect(outcome.status == 2)
            #expect(outcome.stderr.contains(complaint), "\(outcome.stderr)")
            #expect(outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func showingAPatientRecordsTheReadAndTheAuditTrailShowsIt() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            try await records.run(["import", "--store", store, Sample.path])
            let shown = try await records.run(["patient", "--store", store, "EX-IV-1", "--actor", "u-auditor-7", "--html", directory + "/p.html"])
            #expect(shown.status == 0, "\(shown.stderr)")
            #expect(shown.stdout.contains("Patient EX-IV-1: Ana EX-IV-1"))
            let page = try String(contentsOfFile: directory + "/p.html", encoding: .utf8)
            #expect(page.contains("<svg") && page.contains("PHQ-9") && !page.contains("<script"))
            let audit = try await records.run(["audit", "--store", store, "--actor", "u-auditor-7", "--format", "json"])
            let entries = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [[String: Any]])
            #expect(entries.count == 1)
            #expect(entries.first?["action"] as? String == "read")
            #expect(entries.first?["patientId"] as? String == "EX-IV-1")
            let exported = try await records.run(["export", "--store", store, "--patient", "EX-ESK-1", "--actor", "u-auditor-7", "--purpose", "patient_request"])
            #expect(exported.stdout.split(separator: "\n").count == 28)
            #expect(try await records.run(["audit", "--store", store, "--actor", "u-auditor-7", "--format", "json"]).stdout.contains("patient_request"))
            let missing = try await records.run(["patient", "--store", store, "NOBODY"])
            #expect(missing.status == 1)
            #expect(missing.stderr == "Patient NOBODY has no record in \(store).\n")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func exportAsFHIRWritesOneBundlePerPatientAndRecordsTheRead() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            try await records.run(["import", "--store", store, Sample.path])
            let one = try await records.run(["export", "--store", store, "--format", "fhir", "--patient", "EX-ESK-1", "--actor", "u-auditor-7", "--purpose", "patient_request"])
            #expect(one.status == 0, "\(one.stderr)")
            let lines = one.stdout.split(separator: "\n")
            #expect(lines.count == 1)
            let bundle = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(bundle["resourceType"] as? String == "Bundle" && bundle["type"] as? String == "collection")
            let resources = (bundle["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
            let patient = try #require(resources.first { $0["resourceType"] as? String == "Patient" })
            #expect((patient["identifier"] as? [[String: Any]])?.first?["value"] as? String == "EX-ESK-1")
            #expect(resources.contains { $0["resourceType"] as? String == "MedicationAdministration" })
            // The export was recorded as a read of that patient, before it was shown.
            let audit = try await records.run(["audit", "--store", store, "--actor", "u-auditor-7", "--format", "json"])
            let entries = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [[String: Any]])
            #expect(entries.contains { $0["patientId"] as? String == "EX-ESK-1" && ($0["accessDescription"] as? String)?.contains("FHIR") == true })
            // The whole store: one bundle per patient with a record.
            let whole = try await records.run(["export", "--store", store, "--format", "fhir"])
            let patients = try await records.run(["export", "--store", store]).stdout.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["subject"] as? String
            }
            #expect(whole.stdout.split(separator: "\n").count == Set(patients).count)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func verifyNamesTheFirstDamagedSequenceAndExitsOne() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            try await records.run(["import", "--store", store, Sample.path])
            #expect(try await records.run(["verify", "--store", store]).status == 0)
            try damageRecord(77, inStoreAt: store) { $0[$0.count - 2] ^= 0x01 }
            let outcome = try await records.run(["verify", "--store", store])
            #expect(outcome.status == 1)
            #expect(outcome.stdout.contains("sequence 77"))
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func backupMakesACopyThatVerifiesWhileAWriterRuns() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["generate", "--store", store, "--patients", "40", "--quiet"]).status == 0)
            // A writer process keeps appending while the copy is made.
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: Executable.directory + "/patient-records")
            writer.arguments = ["generate", "--store", store, "--patients", "400", "--seed", "9", "--patient-prefix", "Q", "--quiet"]
            writer.standardOutput = FileHandle.nullDevice
            try writer.run()
            let backup = try await records.run(["backup", "--store", store, directory + "/copy"])
            writer.waitUntilExit()
            #expect(writer.terminationStatus == 0)
            #expect(backup.status == 0, "\(backup.stderr)")
            #expect(backup.stdout.contains("the copy verifies"))
            let copy = try PatientRecordStore.open(at: directory + "/copy", readOnly: true).events
            #expect(try copy.verify().isIntact)
            #expect(try copy.head() >= 2_000)
            #expect(try await records.run(["backup", "--store", store, directory + "/copy"]).status == 1)
        }
    }

    @Test func statsAndDisclosuresAnswerForScripts() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            try await records.run(["import", "--store", store, Sample.path])
            let stats = try await records.run(["stats", "--store", store, "--json"])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
            #expect(report["events"] as? Int == 128)
            #expect(report["patients"] as? Int == 5)
            let disclosures = try await records.run(["disclosures", "--store", store, "EX-IV-1", "--json"])
            #expect(disclosures.status == 0)
            #expect(disclosures.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]" || disclosures.stdout.contains("[]"))
        }
    }

    @Test(arguments: ["demo", "import", "export", "patient", "audit", "disclosures", "verify", "backup", "stats", "generate"])
    func everyCommandsHelpExplainsItWithAnExample(command: String) async throws {
        let help = try await records.run(["help", command])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Example"), "\(command)")
        #expect(help.stdout.contains("patient-records \(command)"), "\(command)")
    }

    @Test func theReplayToolsHelpExplainsItsExitCodes() async throws {
        let help = try await replayTool.run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Exit status"))
    }
}

struct VerifyDecodeTests {
    @Test func verifyFindsARecordWhosePayloadDoesNotDecodeEvenWithAValidChain() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            try await records.run(["import", "--store", store, Sample.path])
            // A record whose bytes chain correctly but whose payload is no protobuf message.
            do {
                let log = try PatientRecordStore.open(at: store).events
                try await log.append([NewEvent(id: "garbled", type: 5, occurredAt: 0, actor: "u-x", payload: [0xff, 0xff, 0xff])], to: "EX-IV-1")
                log.close()
            }
            let outcome = try await records.run(["verify", "--store", store])
            #expect(outcome.status == 1)
            #expect(outcome.stdout.contains("the record at sequence 129 is damaged: its payload (AssessmentRecorded) does not decode: its bytes are not a well-formed protobuf message"), "\(outcome.stdout)")
        }
    }
}

struct ForgetCommandTests {
    @Test(.timeLimit(.minutes(2)))
    func forgetAsksForTheIdWarnsAndRefusesOtherRoles() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["generate", "--store", store, "--patients", "4", "--months", "1", "--quiet"]).status == 0)
            let arguments = ["forget", "--store", store, "P-0002", "--reason", "erasure request ER-7"]
            let declined = try await records.run(arguments, input: "P-0003\n")
            #expect(declined.status == 1)
            #expect(declined.stderr.contains("HIPAA: 6 years") && declined.stderr.contains("Not confirmed; nothing was forgotten."))
            #expect(try await records.run(arguments).status == 1, "no answer on stdin forgets nothing")
            #expect(try await records.run(["patient", "--store", store, "P-0002"]).stdout.contains("was forgotten") == false)

            let confirmed = try await records.run(arguments, input: "P-0002\n")
            #expect(confirmed.status == 0, "\(confirmed.stderr)")
            #expect(confirmed.stdout.contains("Forgot P-0002"))
            let shown = try await records.run(["patient", "--store", store, "P-0002"])
            #expect(shown.status == 0 && shown.stdout.contains("was forgotten") && shown.stdout.contains("erasure request ER-7"))

            let nurse = try await records.run(["forget", "--store", store, "P-0003", "--reason", "r", "--role", "nurse", "--yes"])
            #expect(nurse.status == 1)
            #expect(nurse.stderr.contains("actorrole: a nurse may not record PatientForgotten"))
            #expect(try await records.run(["verify", "--store", store]).stdout.contains("Intact"))
            let backup = try await records.run(["backup", "--store", store, directory + "/copy"])
            #expect(backup.status == 0 && backup.stdout.contains("the copy verifies"))
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aStoreWithoutItsKeyOrWithAnotherKeyIsOneSentence() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["generate", "--store", store, "--patients", "2", "--months", "1", "--quiet"]).status == 0)
            let missing = try await records.run(["stats", "--store", store, "--key-file", directory + "/none.key"])
            #expect(missing.status != 0 && missing.stderr.contains("\(directory)/none.key does not exist"))
            let wrong = try await records.run(["stats", "--store", store], environment: ["PATIENT_RECORDS_KEY": String(repeating: "ab", count: 32)])
            #expect(wrong.status != 0 && wrong.stderr.contains("does not hold the master key of the store"))
            // A store created with an explicit key file opens with it, and only with it.
            let other = directory + "/other"
            let keyFile = directory + "/keys/other.key"
            #expect(try await records.run(["generate", "--store", other, "--patients", "1", "--months", "1", "--quiet", "--key-file", keyFile]).status == 0)
            #expect(FileManager.default.fileExists(atPath: keyFile))
            #expect(try await records.run(["stats", "--store", other], environment: ["PATIENT_RECORDS_KEY_FILE": keyFile]).status == 0)
            #expect(try await records.run(["stats", "--store", other]).status != 0)
        }
    }
}
