import ClinicalRecord
import EventStore
import Foundation
import TestSupport
import Testing

/// Operating the tools safely: reads on the record, key rotation that never locks the store
/// out, version and crash output, and no crash on a closed pipe or an absurd argument.
struct OperationTests {
    /// The reads recorded in `store` by `actor`: patient and description of each RecordAccessed.
    static func reads(in store: String, by actor: String) throws -> [(patient: String, description: String)] {
        let opened = try PatientRecordStore.open(at: store, readOnly: true)
        defer { opened.close() }
        return try opened.auditTrail(AuditQuery(actorId: actor, types: ["RecordAccessed"])).map { ($0.patientId, $0.accessDescription ?? "") }
    }

    @Test(.timeLimit(.minutes(3)))
    func everyReadThatShowsPatientDataIsRecordedFirst() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["import", "--store", store, Sample.v2Path]).status == 0)
            let patients = try {
                let opened = try PatientRecordStore.open(at: store, readOnly: true)
                defer { opened.close() }
                return Set(try opened.auditTrail().map(\.patientId))
            }()
            #expect(patients.count == 8)

            // The whole store exported: a read of every patient.
            #expect(try await records.run(["export", "--store", store, "--actor", "u-exporter"]).status == 0)
            let exported = try Self.reads(in: store, by: "u-exporter")
            let exportedPatients = Set(exported.map(\.patient))
            #expect(exportedPatients == patients && exported.count == patients.count)
            #expect(exported.allSatisfy { $0.description.contains("Whole store exported") })

            // The audit trail of one actor: a read of each patient it shows, by the reader.
            let audit = try await records.run(["audit", "--store", store, "--actor", "u-staff-1", "--reader", "u-auditor-7", "--format", "json"])
            #expect(audit.status == 0)
            let shown = Set(((try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [[String: Any]]) ?? []).compactMap { $0["patientId"] as? String })
            let audited = try Self.reads(in: store, by: "u-auditor-7")
            let auditedPatients = Set(audited.map(\.patient))
            #expect(!shown.isEmpty && auditedPatients == shown.subtracting([""]))

            // The accounting of disclosures, and the replay's findings.
            #expect(try await records.run(["disclosures", "--store", store, "EX2-IV-1", "--actor", "u-privacy-1"]).status == 0)
            #expect(try Self.reads(in: store, by: "u-privacy-1").map(\.patient) == ["EX2-IV-1"])
            let report = try await replayTool.run(["--store", store, "--format", "json", "--actor", "u-auditor-8"])
            let withFindings = Set(((try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])?["findings"] as? [[String: Any]] ?? [])
                .compactMap { $0["patient"] as? String })
            let replayReads = Set(try Self.reads(in: store, by: "u-auditor-8").map(\.patient))
            #expect(!withFindings.isEmpty && replayReads == withFindings)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aVoidedDisclosureStaysInTheAccountingMarkedVoided() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["import", "--store", store, Sample.v2Path]).status == 0)
            let patient = "EX2-IV-1"
            #expect(try await records.run(["patient", "--store", store, patient, "--purpose", "disclosure", "--disclosed-to", "Dr. Novak", "--actor", "u-staff-1", "--role", "staff"]).status == 0)
            let opened = try PatientRecordStore.open(at: store)
            let disclosure = try #require(try opened.disclosures(of: patient).first)
            var void = Ketamine_V1_EntryVoided()
            void.voidedEventID = disclosure.eventId
            void.reason = "Sent to the wrong clinic"
            try await opened.record(ClinicalEventInput(source: "urn:test", patientId: patient, time: ClinicalTime.now, actorId: "u-staff-1", actorRole: .staff, message: void))
            opened.close()
            let listed = try await records.run(["disclosures", "--store", store, patient, "--json"])
            let entries = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
            #expect(entries.count == 1)
            #expect(entries.first?["recipient"] as? String == "Dr. Novak")
            #expect(entries.first?["voidedBy"] as? String != nil)
            let table = try await records.run(["disclosures", "--store", store, patient])
            #expect(table.stdout.contains("voided by"))
        }
    }

    @Test(.timeLimit(.minutes(4)))
    func rotatingTheMasterKeyLeavesAStoreThatOpensWithExactlyOneKeyWhateverTheKill() async throws {
        try await withTemporaryDirectory { directory in
            let keys = directory + "/keys"
            let environment = ["XDG_CONFIG_HOME": directory + "/config"]
            let source = directory + "/source"
            #expect(try await records.run(["generate", "--store", source, "--patients", "400", "--months", "2", "--quiet"], environment: environment).status == 0)
            let storeId = try #require(try FileManager.default.contentsOfDirectory(atPath: directory + "/config/patient-records/keys").first { $0.hasSuffix(".key") })
            let oldKey = directory + "/config/patient-records/keys/" + storeId
            try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)

            // One rotation to the end, timed, for the kills' delays.
            let whole = directory + "/whole"
            try FileManager.default.copyItem(atPath: source, toPath: whole)
            let started = Date()
            let rotated = try await records.run(["keys", "rotate", "--store", whole, "--key-file", oldKey, "--new-key-file", keys + "/whole.key"])
            let duration = Date().timeIntervalSince(started)
            #expect(rotated.status == 0, "\(rotated.stderr)")
            #expect(try !PatientRecordStore.keyFileOpensStore(oldKey, at: whole))
            #expect(try PatientRecordStore.keyFileOpensStore(keys + "/whole.key", at: whole))
            #expect(try await records.run(["verify", "--store", whole, "--key-file", keys + "/whole.key"]).stdout.contains("the head's seal matches"))
            let check = try await records.run(["keys", "check", "--store", whole, "--key-file", oldKey])
            #expect(check.status == 1 && check.stdout.contains("does not open"))
            // Every patient still reads with the new key.
            #expect(try await records.run(["export", "--store", whole, "--key-file", keys + "/whole.key"]).stdout.split(separator: "\n").count > 1_000)

            var killedPartWay = 0
            for attempt in 0..<8 {
                let store = directory + "/killed-\(attempt)"
                try FileManager.default.copyItem(atPath: source, toPath: store)
                let newKey = keys + "/killed-\(attempt).key"
                let process = Process()
                process.executableURL = URL(fileURLWithPath: Executable.directory + "/patient-records")
                process.arguments = ["keys", "rotate", "--store", store, "--key-file", oldKey, "--new-key-file", newKey]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                let pid = process.processIdentifier
                DispatchQueue.global().asyncAfter(deadline: .now() + duration * Double(attempt) / 8) { kill(pid, SIGKILL) }
                await withCheckedContinuation { continuation in
                    Thread {
                        process.waitUntilExit()
                        continuation.resume()
                    }.start()
                }
                let opensOld = try PatientRecordStore.keyFileOpensStore(oldKey, at: store)
                let opensNew = FileManager.default.fileExists(atPath: newKey) && (try? PatientRecordStore.keyFileOpensStore(newKey, at: store)) == true
                #expect(opensOld != opensNew, "attempt \(attempt): old key opens \(opensOld), new key opens \(opensNew)")
                if process.terminationReason == .uncaughtSignal { killedPartWay += 1 }
            }
            #expect(killedPartWay > 0, "no rotation was killed part way; the test proved nothing")
        }
    }

    @Test func aServiceStillHoldingTheOldKeyIsRefusedAfterARotation() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            let environment = ["XDG_CONFIG_HOME": directory + "/config"]
            #expect(try await records.run(["import", "--store", store, Sample.v2Path], environment: environment).status == 0)
            let storeId = try #require(try FileManager.default.contentsOfDirectory(atPath: directory + "/config/patient-records/keys").first { $0.hasSuffix(".key") })
            let oldKey = directory + "/config/patient-records/keys/" + storeId
            let service = try PatientRecordStore.open(at: store, keyFile: oldKey)
            defer { service.close() }
            #expect(try await records.run(["keys", "rotate", "--store", store, "--key-file", oldKey, "--new-key-file", directory + "/new.key"]).status == 0)
            var access = Ketamine_V1_RecordAccessed()
            access.purpose = .treatment
            access.description_p = "late write with the old key"
            do {
                try await service.record(ClinicalEventInput(source: "urn:test", patientId: "EX2-IV-1", time: ClinicalTime.now,
                                                            actorId: "u-nurse-1", actorRole: .nurse, message: access))
                Issue.record("a write with the rotated-out key went through")
            } catch let error as EventStoreError {
                #expect(error.code == .masterKeyChanged, "\(error)")
            }
            #expect(try await records.run(["verify", "--store", store, "--key-file", directory + "/new.key"]).status == 0)
        }
    }

    @Test func bothToolsTellTheirVersionAndTheStoreFormat() async throws {
        for tool in [records, replayTool] {
            let version = try await tool.run(["--version"])
            #expect(version.status == 0)
            #expect(version.stdout.contains(Release.version) && version.stdout.contains("store format \(EventStore.currentFormatVersion)"), "\(version.stdout)")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aCrashPrintsOneLineAndNoMemory() async throws {
        try await withTemporaryDirectory { directory in
            // An import from a standard input that stays open: the process waits, and is made to crash.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Executable.directory + "/patient-records")
            process.arguments = ["import", "--store", directory + "/store", "-"]
            let input = Pipe(), errors = Pipe()
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            try await Task.sleep(for: .milliseconds(500))
            kill(process.processIdentifier, SIGSEGV)
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            try? input.fileHandleForWriting.close()
            #expect(process.terminationStatus == 128 + SIGSEGV)
            #expect(stderr.split(separator: "\n").count == 1, "\(stderr)")
            #expect(stderr.contains("signal 11") && !stderr.contains("0x") && !stderr.contains("Registers") && !stderr.contains("Backtrace"), "\(stderr)")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aReaderThatGoesAwayEndsTheExportQuietly() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["generate", "--store", store, "--patients", "30", "--quiet"]).status == 0)
            let outcome = try await Executable(name: "/bin/bash").run([
                "-c", "\"$0\" export --store \"$1\" | head -c 100 > /dev/null; echo \"${PIPESTATUS[0]}\"",
                Executable.directory + "/patient-records", store,
            ])
            #expect(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "141", "\(outcome.stdout) \(outcome.stderr)")
            #expect(outcome.stderr.isEmpty, "\(outcome.stderr)")
        }
    }

    @Test func anAbsurdHistoryLengthIsRefusedWithASentence() async throws {
        try await withTemporaryDirectory { directory in
            let outcome = try await records.run(["generate", "--store", directory + "/store", "--patients", "1", "--months", "3000"])
            #expect(outcome.status != 0 && !outcome.killedBySignal)
            #expect(outcome.stderr.contains("--months must be from 1 to 2400") && outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/store"))
        }
    }
}
