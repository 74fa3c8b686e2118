@_spi(RawRecords) import EventStore
import Foundation
import SwiftProtobuf

/// The validation of docs/EVENTS.md: attributes, the message's own field checks (its
/// ``ClinicalMessage`` conformance), registration, erasure, roles, expected versions and
/// references to earlier entries. Each refusal names the attribute or field and the reason.
enum Validator {
    /// Checks `input` against the record as `snapshot` sees it (the log, plus for an import the
    /// lines before this one).
    static func validate(_ input: ClinicalEventInput, of type: ClinicalEventType, against snapshot: borrowing some RecordSnapshot & ~Copyable) throws {
        try checkAttributes(input, type: type)
        guard let message = input.message as? any ClinicalMessage else {
            throw EventValidationError(field: "type", reason: "\(Swift.type(of: input.message).protoMessageName) is not an event type of this record")
        }
        try message.checkFields(FieldCheck(eventTime: input.time))

        let version = try snapshot.streamVersion(input.patientId)
        if type == .patientRegistered {
            guard version == 0 else {
                throw EventValidationError(field: "subject", reason: "patient \(input.patientId) is already registered")
            }
        } else if version == 0 {
            throw EventValidationError(field: "subject", reason: "patient \(input.patientId) is not registered; record PatientRegistered first")
        }
        if version > 0, try References.exists(.forgotten, "", patient: input.patientId, in: snapshot) {
            throw EventValidationError.forgotten(input.patientId)
        }
        if let expected = input.expectedVersion, expected != version {
            throw EventValidationError(field: "expectedversion", reason: "patient \(input.patientId) has \(version) events, not the \(expected) expected")
        }
        for reference in message.references where try !References.exists(reference.kind, reference.id, patient: input.patientId, in: snapshot) {
            throw EventValidationError(field: "data.\(reference.field)", reason: "\(reference.noun) \(reference.id) was not recorded earlier for patient \(input.patientId)")
        }
        if let void = message as? Ketamine_V1_EntryVoided { try checkVoid(void, input: input, against: snapshot) }
    }

    private static func checkAttributes(_ input: ClinicalEventInput, type: ClinicalEventType) throws {
        if input.source.isEmpty { throw EventValidationError(field: "source", reason: "is required and must not be empty") }
        if input.source.utf8.count > FieldCheck.shortTextBytes {
            throw EventValidationError(field: "source", reason: "is \(input.source.utf8.count) bytes long; at most \(FieldCheck.shortTextBytes) are allowed")
        }
        for (name, value) in [("id", input.id), ("subject", input.patientId), ("actorid", input.actorId)] {
            if let problem = Identifier.problem(value) { throw EventValidationError(field: name, reason: problem) }
        }
        guard input.actorRole.mayRecord(type) else {
            throw EventValidationError(field: "actorrole", reason: "\(input.actorRole.withArticle) may not record \(type.name)")
        }
    }

    private static func checkVoid(_ void: Ketamine_V1_EntryVoided, input: ClinicalEventInput, against snapshot: borrowing some RecordSnapshot & ~Copyable) throws {
        let field = "data.voidedEventId"
        guard let sequence = try snapshot.sequence(ofEventId: void.voidedEventID),
              let target = try snapshot.record(at: sequence),
              target.streamIdBytes.elementsEqual(input.patientId.utf8) else {
            throw EventValidationError(field: field, reason: "event \(void.voidedEventID) was not recorded earlier for patient \(input.patientId)")
        }
        if let type = ClinicalEventType(rawValue: target.type), !type.mayBeVoided {
            throw EventValidationError(field: field, reason: "a \(type.name) cannot be voided")
        }
        if try References.exists(.voided, void.voidedEventID, patient: input.patientId, in: snapshot) {
            throw EventValidationError(field: field, reason: "event \(void.voidedEventID) is already voided")
        }
        if !input.actorRole.mayVoidOthersEntries && !target.actorBytes.elementsEqual(input.actorId.utf8) {
            throw EventValidationError(field: "actorid", reason: "\(input.actorRole.withArticle) may void only entries they recorded; \(void.voidedEventID) was recorded by \(target.actor)")
        }
    }
}
