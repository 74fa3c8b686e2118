import ArgumentParser
import ClinicalRecord
import Foundation

/// Who is reading a record and why: every read through the admin tools is itself recorded.
struct AccessOptions: ParsableArguments {
    @Option(help: "Who reads the record (default: the OS user).")
    var actor: String?
    @Option(help: "The reader's role: admin, auditor, staff, nurse, physician, psychiatrist or system.")
    var role: String = "auditor"
    @Option(help: "Why: treatment, payment, operations, audit, patient_request or disclosure.")
    var purpose: String = "audit"
    @Option(name: .customLong("disclosed-to"), help: "The recipient, when the purpose is disclosure.")
    var disclosedTo: String?

    func validate() throws {
        guard ActorRole(rawValue: role) != nil else {
            throw ValidationError("--role must be one of \(ActorRole.allCases.map(\.rawValue).joined(separator: ", ")), not \(role.debugDescription).")
        }
        guard AccessOptions.purposes[purpose] != nil else {
            throw ValidationError("--purpose must be one of \(AccessOptions.purposes.keys.sorted().joined(separator: ", ")), not \(purpose.debugDescription).")
        }
        if purpose == "disclosure" && (disclosedTo ?? "").isEmpty {
            throw ValidationError("--disclosed-to is required when the purpose is disclosure.")
        }
    }

    static let purposes: [String: Ketamine_V1_AccessPurpose] = [
        "treatment": .treatment, "payment": .payment, "operations": .operations, "audit": .audit,
        "patient_request": .patientRequest, "disclosure": .disclosure,
    ]

    var actorId: String {
        actor ?? operatingSystemUser
    }

    /// The read, as the record keeps it.
    func read(_ what: String) -> RecordRead {
        RecordRead(actorId: actorId, actorRole: ActorRole(rawValue: role) ?? .auditor, purpose: AccessOptions.purposes[purpose] ?? .audit,
                   disclosedTo: disclosedTo, description: what, source: AccessOptions.source)
    }

    /// The source of every event the tools record.
    static let source = "urn:patient-records:cli"

    /// Records that `patient`'s record was read, before it is shown.
    func recordAccess(to patient: String, in store: PatientRecordStore, what: String) async throws {
        try store.recordRead(read(what), of: [patient])
    }
}

/// Who reads and why, for `audit`, whose `--actor` filters the trail: the reader is `--reader`.
struct ReaderOptions: ParsableArguments {
    @Option(help: "Who reads the trail (default: the OS user).")
    var reader: String?
    @Option(name: .customLong("reader-role"), help: "The reader's role: admin, auditor, staff, nurse, physician, psychiatrist or system.")
    var readerRole: String = "auditor"
    @Option(help: "Why: treatment, payment, operations, audit, patient_request or disclosure.")
    var purpose: String = "audit"
    @Option(name: .customLong("disclosed-to"), help: "The recipient, when the purpose is disclosure.")
    var disclosedTo: String?

    var access: AccessOptions {
        var options = AccessOptions()
        options.actor = reader
        options.role = readerRole
        options.purpose = purpose
        options.disclosedTo = disclosedTo
        return options
    }

    func validate() throws {
        do {
            try access.validate()
        } catch let error as ValidationError {
            throw ValidationError(error.message.replacingOccurrences(of: "--role", with: "--reader-role"))
        }
    }
}

/// Who runs the command, when `--actor` does not say: the OS user.
var operatingSystemUser: String {
    ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "uid-\(getuid())"
}

/// Checks an `--as-of` value: an RFC 3339 recorded time or a sequence number.
func checkAsOf(_ text: String?) throws {
    if let text, AsOf(text) == nil {
        throw ValidationError("--as-of must be an RFC 3339 time (2026-03-01T00:00:00Z) or a sequence number, not \(text.debugDescription).")
    }
}

/// Parses `--since` and `--until` values.
func parseTime(_ text: String, option: String) throws -> Int64 {
    guard let time = ClinicalTime.parse(text) else {
        throw ValidationError("\(option) must be an RFC 3339 time such as 2026-03-01T00:00:00Z, not \(text.debugDescription).")
    }
    return time
}

func writeJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
