import ArgumentParser
import ClinicalRecord
import EventStore
import Foundation

/// `patient-records keys`: the store's master key.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rotate the store's master key, or check that a key file opens a store.",
        discussion: """
            The master key wraps every patient's data key; it never enters the store. Keep key \
            files apart from the store and from its backups (another disk, a secrets manager): \
            a backup and its key together are the records in the clear.
            """,
        subcommands: [Rotate.self, Check.self]
    )

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-wrap every data key under a new master key, in one durable transaction.",
            discussion: """
                Writes a new key first (readable by its owner only, synced), then re-wraps every \
                patient's data key under it, with the key check and the head's seal, in one \
                transaction. Until that commit the store opens with the old key only; after it \
                with the new key only. Then the data keys wrapped under the old key are \
                overwritten in the pages of the live file the rotation freed (at once where no \
                reader holds them, otherwise by the next write once the reader ends): whoever \
                stole the old key recovers no data key from the live file. Services that have the \
                store open with the old key are refused their next write: restart them with the \
                new key.

                Without --new-key-file, a store that opens with its default key file gets the new \
                key in that file, and the old key is kept aside as <store id>.key.retired-<time> \
                in the same directory; with it, the new key goes to the file named.

                What the old key still opens: backups and PostgreSQL copies made before the \
                rotation (their data keys are wrapped under it). Keep the old key apart from them \
                until they are destroyed. Patients' data keys themselves are re-wrapped, not \
                replaced: events recorded after the rotation are sealed under the same data keys, \
                which a backup made before the rotation and the old key together can open.

                Examples:
                  patient-records keys rotate --store ./demo-store
                  patient-records keys rotate --store ./demo-store --new-key-file ~/keys/demo-2027.key
                """
        )

        @OptionGroup var options: StoreOptions
        @Option(name: .customLong("new-key-file"), help: ArgumentHelp("Where to write the new master key (must not exist; default: replace the store's default key file, keeping the old one aside).", valueName: "file"))
        var newKeyFile: String?

        func run() async throws {
            if let newKeyFile, FileManager.default.fileExists(atPath: newKeyFile) {
                throw ValidationError("\(newKeyFile) exists already; the new key goes to a new file.")
            }
            let store = try options.open(readOnly: false)
            defer { store.close() }
            guard store.isSealed else {
                throw ValidationError("The store at \(try options.path()) was created without sealing; it has no master key to rotate.")
            }
            if let newKeyFile {
                try store.rotateMasterKey(newKeyFile: newKeyFile)
                say("The store at \(try options.path()) now opens with \(newKeyFile) only.")
                say("Keep the old key file apart until the backups made before today are destroyed; they open with it alone.")
                return
            }
            guard options.namedKeyFile() == nil else {
                throw ValidationError("The store was opened with a key file of its own; name where the new key goes with --new-key-file.")
            }
            // The default key file is replaced: the new key is written beside it first, the
            // rotation commits, then the old file is set aside and the new one takes its name.
            let keyFile = store.defaultKeyFile
            let next = keyFile + ".new"
            guard !FileManager.default.fileExists(atPath: next) else {
                throw ValidationError("\(next) exists: a rotation was interrupted before its key file took its place. Check which key opens the store (keys check --key-file), keep that one as \(keyFile), and remove the other.")
            }
            try store.rotateMasterKey(newKeyFile: next)
            var stamp = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate, .withTime])
            stamp = stamp.replacingOccurrences(of: ":", with: "")
            // Never over an earlier retired key (two rotations in one second).
            var retired = keyFile + ".retired-" + stamp
            var suffix = 2
            while FileManager.default.fileExists(atPath: retired) {
                retired = keyFile + ".retired-" + stamp + "-\(suffix)"
                suffix += 1
            }
            guard link(keyFile, retired) == 0, unlink(keyFile) == 0, rename(next, keyFile) == 0 else {
                throw CommandFailure("The store now opens with the new key in \(next), but it could not take the place of \(keyFile): \(String(cString: strerror(errno))). Move it there by hand.")
            }
            let directory = open((keyFile as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY)
            if directory >= 0 {
                fsync(directory)
                close(directory)
            }
            say("The store at \(try options.path()) now opens with the new key in \(keyFile) only.")
            say("The old key is kept as \(retired): move it apart from the store (offline) until the backups made before today are destroyed; they open with it alone.")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tell whether a key file opens a store (exit 0 when it does, 1 when not).",
            discussion: """
                Example:
                  patient-records keys check --store ./restored-store --key-file ~/keys/demo.key
                """
        )

        @OptionGroup var options: StoreOptions

        func run() async throws {
            let path = try options.path()
            guard let keyFile = options.namedKeyFile() else {
                throw ValidationError("Give the key file to check with --key-file FILE.")
            }
            if try PatientRecordStore.keyFileOpensStore(keyFile, at: path) {
                say("The key file \(keyFile) opens the store at \(path).")
            } else {
                say("The key file \(keyFile) does not open the store at \(path).")
                throw ExitCode(1)
            }
        }
    }
}
