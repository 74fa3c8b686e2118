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
