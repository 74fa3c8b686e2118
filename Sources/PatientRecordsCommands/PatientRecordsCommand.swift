import ArgumentParser
import ClinicalRecord

/// `patient-records`: the admin command line of the patient record store.
public struct PatientRecordsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "patient-records",
        abstract: "Audit and administer an embedded patient record store.",
        discussion: """
            Every command takes the store's directory with --store. Stores are opened read-only \
            unless the command writes, so they can run while a clinic service appends.

            Example:
              patient-records demo
              patient-records verify --store ./demo-store
            """,
        subcommands: [Demo.self, Import.self, Export.self, Patient.self, Audit.self, Disclosures.self, Verify.self, Backup.self, Stats.self, Generate.self, Forget.self]
    )

    public init() {}
}

/// The store directory, shared by every command.
public struct StoreOptions: ParsableArguments {
    public init() {}

    @Option(name: .long, help: "The store's directory.")
    public var store: String = "./demo-store"

    @Option(name: .long, help: ArgumentHelp(
        "The file holding the store's master key (64 hex digits).",
        discussion: "By default PATIENT_RECORDS_KEY_FILE, then PATIENT_RECORDS_KEY, then the store's own file under ~/.config/patient-records/keys/ (XDG_CONFIG_HOME). A new store writes a new key there.",
        valueName: "file"))
    public var keyFile: String?

    /// Opens the store with its master key.
    func open(readOnly: Bool = false) throws -> PatientRecordStore {
        try PatientRecordStore.open(at: store, readOnly: readOnly, keyFile: keyFile)
    }
}
