import ArgumentParser

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
        subcommands: [Demo.self, Import.self, Export.self, Patient.self, Audit.self, Disclosures.self, Verify.self, Backup.self, Stats.self, Generate.self]
    )

    public init() {}
}

/// The store directory, shared by every command.
public struct StoreOptions: ParsableArguments {
    public init() {}

    @Option(name: .long, help: "The store's directory.")
    public var store: String = "./demo-store"
}
