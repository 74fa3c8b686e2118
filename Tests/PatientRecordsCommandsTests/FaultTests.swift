@_spi(RawRecords) import ClinicalRecord
import EventStore
import Foundation
import TestSupport
import Testing

/// Faults tried for real on the built executables.
struct FaultTests {
    /// The number of events in the store at `path`; 0 when the killed process left no store.
    static func storedEvents(_ path: String) throws -> UInt64 {
        let store: EventStore
        do {
            store = try PatientRecordStore.open(at: path, readOnly: true).events
        } catch EventStoreError.noStore {
            return 0
        }
        defer { store.close() }
        let report = try store.verify()
        #expect(report.problem == nil, "the store left by a killed import does not verify: \(report.problem ?? "")")
        return try store.head()
    }

    /// An import is one transaction: a SIGKILL at any moment leaves all of the file or none of it.
    @Test(.timeLimit(.minutes(5)))
    func aKilledImportLeavesAllOfItOrNone() async throws {
        try await withTemporaryDirectory { directory in
            // A history of some thousands of events, as a CloudEvents file.
            let source = directory + "/source"
            #expect(try await records.run(["generate", "--store", source, "--patients", "80", "--quiet"]).status == 0)
            let export = try await records.run(["export", "--store", source])
            #expect(export.status == 0)
            let file = directory + "/history.ndjson"
            try export.stdout.write(toFile: file, atomically: true, encoding: .utf8)
            let total = UInt64(export.stdout.split(separator: "\n").count)
            #expect(total > 3_000)

            // How long a whole import takes here, to kill the others part way through.
            let started = Date()
            #expect(try await records.run(["import", "--store", directory + "/whole", file]).status == 0)
            let duration = Date().timeIntervalSince(started)
            #expect(try Self.storedEvents(directory + "/whole") == total)

            var killedPartWay = 0
            for (attempt, fraction) in [0.15, 0.35, 0.55, 0.75, 0.9].enumerated() {
                let store = directory + "/killed-\(attempt)"
                let process = Process()
                process.executableURL = URL(fileURLWithPath: Executable.directory + "/patient-records")
                process.arguments = ["import", "--store", store, file]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                // The kill is timed on a dispatch queue, not the cooperative threads, which other
                // tests may keep busy past the moment.
                let pid = process.processIdentifier
                DispatchQueue.global().asyncAfter(deadline: .now() + duration * fraction) { kill(pid, SIGKILL) }
                await withCheckedContinuation { continuation in
                    Thread {
                        process.waitUntilExit()
                        continuation.resume()
                    }.start()
                }
                let stored = try Self.storedEvents(store)
                #expect(stored == 0 || stored == total, "attempt \(attempt): \(stored) of \(total) events stored")
                if process.terminationReason == .uncaughtSignal && stored == 0 { killedPartWay += 1 }
                // What the killed import left is importable whole afterwards.
                #expect(try await records.run(["import", "--store", store, file]).status == 0)
                #expect(try Self.storedEvents(store) == total)
            }
            #expect(killedPartWay > 0, "no import was killed part way; the test proved nothing")
        }
    }

    /// A full disk, made real with RLIMIT_FSIZE (no privileges needed, unlike a small tmpfs): the
    /// writer gets EFBIG from the file system, as it would ENOSPC from a full one. The import
    /// must fail with one sentence, write nothing, and leave every acknowledged event intact.
    @Test(.timeLimit(.minutes(3)))
    func aFullDiskRefusesTheWriteClearlyAndLosesNothingAcknowledged() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory + "/store"
            #expect(try await records.run(["generate", "--store", store, "--patients", "5", "--months", "1", "--quiet"]).status == 0)
            let acknowledged = try await records.run(["export", "--store", store]).stdout
            #expect(!acknowledged.isEmpty)
            // A larger history of other patients, to import into the nearly full store.
            let other = directory + "/other"
            #expect(try await records.run(["generate", "--store", other, "--patients", "60", "--seed", "99", "--quiet"]).status == 0)
            let file = directory + "/more.ndjson"
            try await records.run(["export", "--store", other]).stdout.replacing("P-0", with: "Q-0").write(toFile: file, atomically: true, encoding: .utf8)

            let size = try #require(try FileManager.default.attributesOfItem(atPath: store + "/data.mdb")[.size] as? Int)
            let blocks = size / 1024 + 256 // room for a quarter of a megabyte more, in 1 KiB blocks
            // SIGXFSZ ignored, so the write fails with EFBIG instead of killing the process.
            let full = try await Executable(name: "/bin/bash").run([
                "-c", "trap '' XFSZ; ulimit -f \(blocks); exec \"$0\" import --store \"$1\" \"$2\"",
                Executable.directory + "/patient-records", store, file,
            ])
            #expect(full.status == 1)
            #expect(full.stderr.contains("the disk (or the file size limit) is full. Nothing of this write was stored"), "\(full.stderr)")
            #expect(!full.stderr.contains("Backtrac") && full.stderr.split(separator: "\n").count == 1)

            #expect(try await records.run(["verify", "--store", store]).status == 0)
            // Every acknowledged event is there; what follows is only the reads the exports
            // themselves recorded (RecordAccessed).
            func clinical(_ export: String) -> [Substring] {
                export.split(separator: "\n").filter { !$0.contains("\"type\":\"ketamine.v1.RecordAccessed\"") }
            }
            let after = try await records.run(["export", "--store", store]).stdout
            #expect(after.hasPrefix(acknowledged))
            #expect(clinical(after) == clinical(acknowledged))
            // With room again, the same file lands whole.
            #expect(try await records.run(["import", "--store", store, file]).status == 0)
            #expect(try await records.run(["export", "--store", store]).stdout.hasPrefix(acknowledged))
        }
    }

    /// Creating a store on a full disk ended in SIGBUS: LMDB made its lock file sparse and wrote
    /// to it through the map. The lock file now gets its space for real first, so a full disk is
    /// one sentence, and nothing that could pass for a store is left behind. The disk is a real,
    /// full tmpfs where this process may mount one (as root here and in CI); elsewhere the file
    /// size limit stands in for it.
    @Test(.timeLimit(.minutes(1)))
    func creatingAStoreOnAFullDiskSaysSoAndLeavesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let disk = directory + "/disk"
            try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: false)
            let mounted = (try? await Executable(name: "/bin/mount").run(["-t", "tmpfs", "-o", "size=128k", "tmpfs", disk]).status) == 0
            defer { if mounted { _ = try? Executable(name: "/bin/umount").run([disk]) as Executable.Outcome } }
            if mounted {
                // Fill it to the last block.
                _ = try await Executable(name: "/bin/dd").run(["if=/dev/zero", "of=\(disk)/fill", "bs=4k", "count=64"])
            }
            let store = disk + "/store"
            let command = mounted
                ? "exec \"$0\" generate --store \"$1\" --patients 1 --quiet"
                : "trap '' XFSZ; ulimit -f 16; exec \"$0\" generate --store \"$1\" --patients 1 --quiet"
            let outcome = try await Executable(name: "/bin/bash").run(["-c", command, Executable.directory + "/patient-records", store])
            #expect(!outcome.killedBySignal && outcome.status == 1, "\(outcome.status) \(outcome.stderr.prefix(300))")
            #expect(outcome.stderr.contains("is full"), "\(outcome.stderr)")
            #expect(outcome.stderr.split(separator: "\n").count == 1)
            #expect(!FileManager.default.fileExists(atPath: store + "/data.mdb"), "a half-made store was left behind")
        }
    }
}
