import ArgumentParser
import Foundation
import ClinicalRecord
import EventStore

/// `patient-records`: the admin command line of the patient record store.
public struct PatientRecordsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "patient-records",
        abstract: "Audit and administer an embedded patient record store.",
        discussion: """
            Every command takes the store's directory with --store (or PATIENT_RECORDS_STORE); \
            only demo has a default. Reads that show patients' data are recorded in the store \
            (RecordAccessed), so those commands open it for writing; they run beside a clinic \
            service that appends.

            Example:
              patient-records demo
              patient-records verify --store ./demo-store
            """,
        version: "patient-records " + Release.description,
        subcommands: [Demo.self, Import.self, Export.self, Patient.self, Audit.self, Disclosures.self, Verify.self, Backup.self, Stats.self, Generate.self, Forget.self, Keys.self, Ship.self, Restore.self]
    )

    public init() {}
}

/// The store directory, shared by every command. No command but `demo` has a default: a
/// command that writes must never create a store (and a key file) where nobody asked for one.
public struct StoreOptions: ParsableArguments {
    public init() {}

    @Option(name: .long, help: ArgumentHelp("The store's directory (default: the PATIENT_RECORDS_STORE environment variable).", valueName: "dir"))
    public var store: String?

    /// The store's directory: --store, else PATIENT_RECORDS_STORE.
    func path() throws -> String {
        if let store { return store }
        if let store = ProcessInfo.processInfo.environment["PATIENT_RECORDS_STORE"], !store.isEmpty { return store }
        throw ValidationError("Give the store's directory with --store DIR (or set PATIENT_RECORDS_STORE).")
    }

    @Option(name: .long, help: ArgumentHelp(
        "The file holding the store's master key (64 hex digits).",
        discussion: "By default PATIENT_RECORDS_KEY_FILE, then PATIENT_RECORDS_KEY, then the store's own file under ~/.config/patient-records/keys/ (XDG_CONFIG_HOME). A new store writes a new key there.",
        valueName: "file"))
    public var keyFile: String?

    /// Opens the store with its master key. Only commands that `create` a store (import,
    /// generate, demo) may open a directory that holds none yet; the others refuse it.
    func open(readOnly: Bool = false, create: Bool = false) throws -> PatientRecordStore {
        let path = try path()
        if !readOnly && !create && !FileManager.default.fileExists(atPath: path + "/data.mdb") {
            throw EventStoreError.noStore(path: path)
        }
        return try PatientRecordStore.open(at: path, readOnly: readOnly, keys: try masterKeySource())
    }

    /// The key file named by --key-file, else by `PATIENT_RECORDS_KEY_FILE` (when not empty).
    func namedKeyFile(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        keyFile ?? environment["PATIENT_RECORDS_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Where the master key is: --key-file, else the file named by `PATIENT_RECORDS_KEY_FILE`,
    /// else the key in `PATIENT_RECORDS_KEY`, else the store's own file in the default directory.
    /// The tools' environment variables are read here, in the command layer, never by the library.
    func masterKeySource(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MasterKeySource {
        if let file = namedKeyFile(environment: environment) { return .file(file) }
        if let text = environment["PATIENT_RECORDS_KEY"], !text.isEmpty {
            return .key(try MasterKey(hex: text, source: "the environment variable PATIENT_RECORDS_KEY"))
        }
        return .directory(PatientRecordStore.defaultKeyDirectory)
    }
}
