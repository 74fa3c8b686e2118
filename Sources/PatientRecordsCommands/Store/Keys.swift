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
                Writes a new key to --new-key-file first (readable by its owner only, synced), \
                then re-wraps every patient's data key under it, with the key check and the \
                head's seal, in one transaction. Until that commit the store opens with the old \
                key only; after it with the new key only. Services that have the store open with \
                the old key are refused their next write: restart them with the new key file. \
                Backups made before the rotation still open with the old key only: keep it until \
                they are destroyed.

                Example:
                  patient-records keys rotate --store ./demo-store --new-key-file ~/keys/demo-2027.key
                """
        )

        @OptionGroup var options: StoreOptions
        @Option(name: .customLong("new-key-file"), help: ArgumentHelp("Where to write the new master key (must not exist).", valueName: "file"))
        var newKeyFile: String

        func run() async throws {
            guard !FileManager.default.fileExists(atPath: newKeyFile) else {
                throw ValidationError("\(newKeyFile) exists already; the new key goes to a new file.")
            }
            let store = try options.open(readOnly: false)
            defer { store.close() }
            guard store.isSealed else {
                throw ValidationError("The store at \(try options.path()) was created without sealing; it has no master key to rotate.")
            }
            try store.rotateMasterKey(newKeyFile: newKeyFile)
            say("The store at \(try options.path()) now opens with \(newKeyFile) only.")
            say("Keep the old key file apart until the backups made before today are destroyed; they open with it alone.")
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
