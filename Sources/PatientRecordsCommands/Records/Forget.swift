import ArgumentParser
import ClinicalRecord
import EventStore
import Foundation

/// `patient-records forget`: crypto-shredding of one patient.
struct Forget: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forget one patient: destroy their data key (crypto-shredding, GDPR Art. 17).",
        discussion: """
            Destroys the patient's data key and records a PatientForgotten event (the reason, \
            who, when; no personal data) in one durable transaction. Afterwards none of the \
            patient's entries can be read by anyone, nothing more can be recorded for them, and \
            the tools show them as forgotten. Every other patient is untouched and the hash chain \
            still verifies. Backups made from now on hold no copy of the key; backups made before \
            still do until they are destroyed.

            Clinics must keep records for years (HIPAA: 6 years of documentation; state law may \
            ask for longer). Forget a patient only when they are entitled to erasure and no \
            retention duty applies. The command asks for the patient id to confirm unless --yes.

            Example:
              patient-records forget --store ./demo-store P-0007 --reason "erasure request ER-2026-118"
            """
    )

    @OptionGroup var options: StoreOptions
    @Argument(help: "The patient id.") var id: String
    @Option(help: "Why (a reference such as an erasure request number; no personal data).") var reason: String
    @Option(help: "Who forgets (default: the OS user).") var actor: String?
    @Option(help: "The role: admin or system.") var role: String = "admin"
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func validate() throws {
        guard reason.contains(where: { !$0.isWhitespace }) else {
            throw ValidationError("--reason must not be empty.")
        }
        guard ActorRole(rawValue: role) != nil else {
            throw ValidationError("--role must be one of \(ActorRole.allCases.map(\.rawValue).joined(separator: ", ")), not \(role.debugDescription).")
        }
    }

    func run() async throws {
        let store = try options.open()
        defer { store.close() }
        let events = try store.eventCount(ofPatient: id)
        guard events > 0 else {
            throw ValidationError("Patient \(id) has no record in \(try options.path()).")
        }
        if !yes {
            sayError("""
                Forgetting \(id) destroys their data key: none of their \(events) entries can be read again \
                by anyone, from this store or from any backup made from now on.
                Clinics must keep records for years (HIPAA: 6 years of documentation; state law may ask for \
                longer). Go on only if \(id) is entitled to erasure and no retention duty applies.
                Type the patient id to confirm:\u{20}
                """, terminator: "")
            guard let answer = readLine(strippingNewline: true), answer.trimmingCharacters(in: .whitespaces) == id else {
                throw ValidationError("Not confirmed; nothing was forgotten.")
            }
        }
        let actorId = actor ?? operatingSystemUser
        let recorded = try await store.forget(
            id, reason: reason, actorId: actorId, actorRole: ActorRole(rawValue: role) ?? .admin,
            source: "urn:patient-records:cli")
        say("Forgot \(id): their data key is destroyed; PatientForgotten recorded at sequence \(recorded.sequence).")
    }
}
