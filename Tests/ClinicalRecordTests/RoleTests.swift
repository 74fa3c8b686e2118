@_spi(RawRecords) import ClinicalRecord
import ClinicGenerator
import EventStore
import Foundation
import SwiftProtobuf
import Testing

/// Who may record what (docs/EVENTS.md), enforced on the library and import paths for every role and
/// every type. (The command-line path is in CommandLineTests.)
struct RoleTests {
    /// docs/EVENTS.md's table as the specification writes it, plus PatientForgotten for `admin` and
    /// `system` (forgetting is a privacy officer's act; the table is silent on it).
    static let staff: Set<String> = [
        "PatientRegistered", "PatientDetailsUpdated", "SessionScheduled", "SessionCancelled", "ConsentWithdrawn",
        "RemsMonitoringFormSubmitted", "RecordAccessed", "EntryVoided",
    ]
    static let nurse = staff.union([
        "AssessmentRecorded", "PreSessionCheckRecorded", "DoseAdministered", "VitalsRecorded", "SideEffectObserved",
        "SideEffectResolved", "PatientDischarged", "DrugWasted",
    ])
    static let physician = nurse.union(["MedicalHistoryRecorded", "MedicationChanged", "ConsentGiven", "RemsEnrolled", "TreatmentPlanned"])
    static let psychiatrist = physician.union(["EvaluationCompleted"])

    static func allowed(_ role: ActorRole) -> Set<String> {
        switch role {
        case .staff: staff
        case .nurse: nurse
        case .physician: physician
        case .psychiatrist: psychiatrist
        case .admin: ["RecordAccessed", "PatientForgotten"]
        case .auditor: ["RecordAccessed"]
        case .system: Set(ClinicalEventType.allCases.map(\.name))
        }
    }

    @Test(arguments: ActorRole.allCases)
    func theRoleTableIsEventsMds(role: ActorRole) {
        for type in ClinicalEventType.allCases {
            #expect(role.mayRecord(type) == Self.allowed(role).contains(type.name), "\(role.rawValue) and \(type.name)")
        }
    }

    /// One input of `type` that the store takes from an allowed role: a fresh id, the references
    /// of the example history, a new patient for a registration, an own fresh entry for a void.
    static func input(of type: ClinicalEventType, role: ActorRole, tag: String, examples: [ClinicalEventInput],
                      store: PatientRecordStore) async throws -> ClinicalEventInput {
        var input = try #require(examples.first { $0.type == type })
        input.id = UUID().uuidString.lowercased()
        input.actorRole = role
        input.expectedVersion = nil
        switch type {
        case .patientRegistered:
            input.patientId = "NEW-\(role.rawValue)-\(tag)"
        case .entryVoided:
            // Void a fresh entry of the same actor, so only the role decides.
            var target = try #require(examples.first { $0.type == .vitalsRecorded })
            target.id = UUID().uuidString.lowercased()
            target.actorId = input.actorId
            target.actorRole = .system
            target.expectedVersion = nil
            try await store.record(target)
            var void = Ketamine_V1_EntryVoided()
            void.voidedEventID = target.id
            void.reason = "entered twice"
            input.message = void
            input.patientId = target.patientId
        default:
            break
        }
        return input
    }

    @Test(.timeLimit(.minutes(3)), arguments: ActorRole.allCases)
    func everyPathRefusesWhatTheRoleMayNotRecordAndTakesTheRest(role: ActorRole) async throws {
        try await withRecordStore { store, _ in
            let examples = RoundTripTests.examples().filter { $0.type != .patientForgotten }
            try await store.importEvents(examples)
            for type in ClinicalEventType.allCases where type != .patientForgotten {
                let allowed = Self.allowed(role).contains(type.name)
                let refusal = "actorrole: \(role.withArticle) may not record \(type.name)"
                // The import path: one transaction, all or nothing.
                let imported = try await Self.input(of: type, role: role, tag: "import", examples: examples, store: store)
                let headBefore = try store.events.head()
                do {
                    try await store.importEvents([imported])
                    #expect(allowed, "the import took \(type.name) from \(role.withArticle)")
                } catch let error as EventValidationError {
                    #expect(!allowed && error.description == refusal, "import of \(type.name) by \(role.withArticle): \(error)")
                    #expect(try store.events.head() == headBefore)
                }
                // The library path.
                let recorded = try await Self.input(of: type, role: role, tag: "record", examples: examples, store: store)
                do {
                    try await store.record(recorded)
                    #expect(allowed, "the library took \(type.name) from \(role.withArticle)")
                } catch let error as EventValidationError {
                    #expect(!allowed && error.description == refusal, "record of \(type.name) by \(role.withArticle): \(error)")
                }
            }
            // Forgetting, the one type that has a path of its own.
            let patient = ClinicGenerator.patientId(1)
            do {
                try await store.forget(patient, reason: "erasure request ER-1", actorId: "u-\(role.rawValue)", actorRole: role, source: "urn:test")
                #expect(Self.allowed(role).contains("PatientForgotten"), "\(role.withArticle) forgot a patient")
                #expect(try store.isForgotten(patient))
            } catch let error as EventValidationError {
                #expect(!Self.allowed(role).contains("PatientForgotten") && error.description == "actorrole: \(role.withArticle) may not record PatientForgotten")
                #expect(try !store.isForgotten(patient))
            }
        }
    }
}
