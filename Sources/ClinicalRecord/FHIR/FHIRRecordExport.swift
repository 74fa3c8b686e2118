import Crypto
import Foundation
import SwiftProtobuf

// The clinical record as FHIR R4 (docs/FHIR.md): one Bundle per patient.

extension PatientRecordStore {
    /// Writes the clinical record as FHIR R4: one `Bundle` (type `collection`) per patient, each
    /// handed to `bundle` as one line of NDJSON (compact JSON, keys sorted, newline included),
    /// so the same record always gives the same bytes.
    ///
    /// Each bundle holds the patient's `Patient`, the `Practitioner`s its resources refer to,
    /// `Condition`s, `MedicationStatement`s, `Consent`s, an `Encounter` per session, a
    /// `MedicationAdministration` per dose, `Observation`s for assessments, vital signs and body
    /// weight, and an `AdverseEvent` per side effect. Every reference is the `urn:uuid:` fullUrl
    /// of another entry of the same bundle. Voided entries come out `entered-in-error` (a voided
    /// side effect is left out: R4's AdverseEvent has no status). docs/FHIR.md has the mapping.
    ///
    /// Memory grows with one patient's record, not with the store: patients are read one at a
    /// time. Forgotten patients are left out whole: nothing of theirs can be read, and an erasure
    /// must not come back through an export.
    ///
    /// An export shows patients' data: a caller that is not the patient's own software records
    /// the read first (``recordRead(_:of:at:)``), as `patient-records export` does.
    ///
    /// - Parameters:
    ///   - patient: only this patient; `nil` for every patient, in the order they first appear
    ///     in the log.
    ///   - now: the time consents are judged expired at (ns since 1970); nothing else in the
    ///     bundle depends on the time of the export.
    ///   - bundle: called once per patient, on the calling thread.
    /// - Returns: the number of bundles written.
    @discardableResult
    public func exportFHIR(patient: String? = nil, now: Int64 = ClinicalTime.now, bundle: ([UInt8]) throws -> Void) throws -> Int {
        let patients: [String]
        if let patient {
            patients = [patient]
        } else {
            // From the records' headers alone (no payload is decoded): ids only, in the order of
            // their first event.
            patients = try patientsInAuditTrail(AuditQuery())
        }
        var written = 0
        for patientId in patients {
            guard try !isForgotten(patientId) else { continue }
            let stream = try events(ofPatient: patientId)
            guard let line = try FHIRRecordMapping.bundleLine(patient: patientId, events: stream, now: now) else { continue }
            try bundle(line)
            written += 1
        }
        return written
    }
}

// MARK: - FHIR R4 elements

/// The small part of FHIR R4 the record export writes, as plain Encodable values. Optional
/// elements left `nil` are left out of the JSON. (Names are nested here so they do not meet
/// those of ``FHIRAuditBundle``.)
enum FHIRR4 {
    struct Coding: Encodable, Sendable {
        var system: String
        var code: String
        var display: String?
    }

    struct CodeableConcept: Encodable, Sendable {
        var coding: [Coding]?
        var text: String?

        init(_ coding: Coding? = nil, text: String? = nil) {
            self.coding = coding.map { [$0] }
            self.text = text
        }

        init(codings: [Coding], text: String? = nil) {
            self.coding = codings.isEmpty ? nil : codings
            self.text = text
        }
    }

    struct Identifier: Encodable, Sendable {
        var system: String
        var value: String
    }

    struct Reference: Encodable, Sendable {
        var reference: String
    }

    struct Period: Encodable, Sendable {
        var start: String?
        var end: String?
    }

    struct Quantity: Encodable, Sendable {
        var value: Double
        var unit: String
        var system = "http://unitsofmeasure.org"
        var code: String
    }

    struct Meta: Encodable, Sendable {
        var profile: [String]
    }

    struct HumanName: Encodable, Sendable {
        var family: String?
        var given: [String]?
    }

    struct ContactPoint: Encodable, Sendable {
        var system: String
        var value: String
    }

    struct Patient: Encodable, Sendable {
        var resourceType = "Patient"
        var id: String
        var identifier: [Identifier]
        var name: [HumanName]?
        var telecom: [ContactPoint]?
        var gender: String?
        var birthDate: String?
    }

    struct Practitioner: Encodable, Sendable {
        var resourceType = "Practitioner"
        var id: String
        var identifier: [Identifier]
    }

    struct Condition: Encodable, Sendable {
        var resourceType = "Condition"
        var id: String
        var clinicalStatus: CodeableConcept?
        var verificationStatus: CodeableConcept
        var category: [CodeableConcept]
        var code: CodeableConcept
        var subject: Reference
        var recordedDate: String?
        var recorder: Reference?
    }

    struct TextDosage: Encodable, Sendable {
        var text: String
    }

    struct MedicationStatement: Encodable, Sendable {
        var resourceType = "MedicationStatement"
        var id: String
        var status: String
        var statusReason: [CodeableConcept]?
        var medicationCodeableConcept: CodeableConcept
        var subject: Reference
        var dateAsserted: String?
        var informationSource: Reference?
        var dosage: [TextDosage]?
    }

    struct ConsentPolicy: Encodable, Sendable {
        var uri: String
    }

    struct ConsentProvision: Encodable, Sendable {
        var type = "permit"
        var period: Period?
        var code: [CodeableConcept]?
    }

    struct Consent: Encodable, Sendable {
        var resourceType = "Consent"
        var id: String
        var status: String
        var scope: CodeableConcept
        var category: [CodeableConcept]
        var patient: Reference
        var dateTime: String?
        var performer: [Reference]?
        var policy: [ConsentPolicy]
        var provision: ConsentProvision?
    }

    struct EncounterParticipant: Encodable, Sendable {
        var type: [CodeableConcept]?
        var individual: Reference
    }

    struct Encounter: Encodable, Sendable {
        var resourceType = "Encounter"
        var id: String
        var status: String
        /// A single Coding in R4 (R5 made it a CodeableConcept list).
        var `class`: Coding
        var subject: Reference
        var participant: [EncounterParticipant]?
        var period: Period?
    }

    struct Batch: Encodable, Sendable {
        var lotNumber: String
    }

    /// A contained Medication: R4's MedicationAdministration has no lot number of its own.
    struct Medication: Encodable, Sendable {
        var resourceType = "Medication"
        var id: String
        var code: CodeableConcept
        var batch: Batch?
    }

    struct AdministrationPerformer: Encodable, Sendable {
        var actor: Reference
    }

    struct AdministrationDosage: Encodable, Sendable {
        var text: String?
        var route: CodeableConcept?
        var dose: Quantity?
    }

    struct MedicationAdministration: Encodable, Sendable {
        var resourceType = "MedicationAdministration"
        var id: String
        var contained: [Medication]
        var status: String
        var medicationReference: Reference
        var subject: Reference
        var context: Reference?
        var supportingInformation: [Reference]?
        var effectiveDateTime: String?
        var effectivePeriod: Period?
        var performer: [AdministrationPerformer]?
        var dosage: AdministrationDosage
    }

    struct ObservationComponent: Encodable, Sendable {
        var code: CodeableConcept
        var valueQuantity: Quantity?
        var valueInteger: Int?
    }

    struct Observation: Encodable, Sendable {
        var resourceType = "Observation"
        var id: String
        var meta: Meta?
        var status: String
        var category: [CodeableConcept]
        var code: CodeableConcept
        var subject: Reference
        var encounter: Reference?
        var effectiveDateTime: String
        var performer: [Reference]?
        var valueQuantity: Quantity?
        var valueInteger: Int?
        var interpretation: [CodeableConcept]?
        var component: [ObservationComponent]?
    }

    struct SuspectEntity: Encodable, Sendable {
        var instance: Reference
    }

    struct AdverseEvent: Encodable, Sendable {
        var resourceType = "AdverseEvent"
        var id: String
        var actuality = "actual"
        var event: CodeableConcept
        var subject: Reference
        var encounter: Reference?
        var date: String?
        var recorder: Reference?
        var seriousness: CodeableConcept
        var severity: CodeableConcept?
        var outcome: CodeableConcept
        var suspectEntity: [SuspectEntity]?
    }

    /// One entry: its fullUrl and any of the resources above.
    struct Entry: Encodable {
        var fullUrl: String
        var resource: any Encodable

        private enum CodingKeys: String, CodingKey { case fullUrl, resource }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(fullUrl, forKey: .fullUrl)
            try container.encode(resource, forKey: .resource)
        }
    }

    struct Bundle: Encodable {
        var resourceType = "Bundle"
        var type = "collection"
        var entry: [Entry]
    }
}

// MARK: - The mapping

/// Maps one patient's decoded events to FHIR R4 resources: one function per resource. Every
/// code comes from docs/FHIR.md, which cites where each was looked up; an instrument or drug
/// without a confirmed code is sent as text only, never with a guessed code.
enum FHIRRecordMapping {
    typealias R4 = FHIRR4

    // MARK: Code systems and codes

    static let loinc = "http://loinc.org"
    static let snomed = "http://snomed.info/sct"
    static let rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    static let icd10cm = "http://hl7.org/fhir/sid/icd-10-cm"
    static let observationCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
    static let conditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    static let conditionVerification = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
    static let conditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category"
    static let consentScope = "http://terminology.hl7.org/CodeSystem/consentscope"
    static let actCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    static let adverseEventSeriousness = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
    static let adverseEventSeverity = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
    static let adverseEventOutcome = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
    static let profileBase = "http://hl7.org/fhir/StructureDefinition/"

    /// The record's own identifier systems (URNs: they name, they do not resolve).
    static let patientSystem = "urn:patient-record-store:patient"
    static let actorSystem = "urn:patient-record-store:actor"
    static let consentFormPrefix = "urn:patient-record-store:consent-form:"

    static let surveyCategory = R4.CodeableConcept(R4.Coding(system: observationCategory, code: "survey", display: "Survey"))
    static let vitalSignsCategory = R4.CodeableConcept(R4.Coding(system: observationCategory, code: "vital-signs", display: "Vital Signs"))
    static let problemListItem = R4.CodeableConcept(R4.Coding(system: conditionCategory, code: "problem-list-item", display: "Problem List Item"))
    static let consentDocument = R4.CodeableConcept(R4.Coding(system: loinc, code: "59284-0", display: "Consent Document"))

    static func loincCoding(_ code: String, _ display: String? = nil) -> R4.Coding {
        R4.Coding(system: loinc, code: code, display: display)
    }

    /// The official ICD-10-CM display of the codes docs/FHIR.md lists; others go without one
    /// (the record's own wording is always in `code.text`).
    static func icd10Display(_ code: String) -> String? {
        switch code {
        case "F32.2": "Major depressive disorder, single episode, severe without psychotic features"
        case "F33.1": "Major depressive disorder, recurrent, moderate"
        case "F33.2": "Major depressive disorder, recurrent severe without psychotic features"
        case "F43.10": "Post-traumatic stress disorder, unspecified"
        case "F41.1": "Generalized anxiety disorder"
        default: nil
        }
    }

    /// The LOINC code of an instrument's score, where one is confirmed.
    static func instrumentCoding(_ instrument: Ketamine_V1_Instrument) -> R4.Coding? {
        switch instrument {
        case .phq9: loincCoding("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]")
        case .gad7: loincCoding("70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]")
        case .cssrsScreener: loincCoding("93373-9", "Columbia - suicide severity rating scale screener - recent [C-SSRS]")
        // PCL-5's codes are unconfirmed on loinc.org; MADRS, QIDS-SR16, CADSS and MOAA/S have no
        // code found: text only.
        case .pcl5, .madrs, .qidsSr16, .cadss, .moaas, .unspecified, .UNRECOGNIZED: nil
        }
    }

    /// The LOINC codes of an instrument's items, in the instrument's order, where confirmed.
    /// (The C-SSRS screener's six items do not map one to one onto the seven LOINC item codes
    /// found, so they go as text.)
    static func itemCodes(_ instrument: Ketamine_V1_Instrument) -> [String] {
        switch instrument {
        case .phq9: ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
        case .gad7: ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
        case .pcl5, .cssrsScreener, .madrs, .qidsSr16, .cadss, .moaas, .unspecified, .UNRECOGNIZED: []
        }
    }

    // MARK: The bundle

    /// One patient's bundle as an NDJSON line; `nil` for a patient with no events or one who
    /// was forgotten.
    static func bundleLine(patient: String, events: [ClinicalEvent], now: Int64) throws -> [UInt8]? {
        guard let resources = bundle(patient: patient, events: events, now: now) else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = Array(try encoder.encode(resources))
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// The patient's resources, in a fixed order: Patient, Practitioners, Conditions,
    /// MedicationStatements, Consents, Encounters, MedicationAdministrations, Observations (in
    /// the order of their events), AdverseEvents.
    static func bundle(patient patientId: String, events: [ClinicalEvent], now: Int64) -> R4.Bundle? {
        guard !events.isEmpty, !events.contains(where: { $0.isForgotten || $0.type == .patientForgotten }) else { return nil }
        // The patient's own voids say what was voided; a void cannot itself be voided.
        var voided = Set<String>()
        for event in events {
            if let void = event.message as? Ketamine_V1_EntryVoided { voided.insert(void.voidedEventID) }
        }
        var context = Context(patientId: patientId, now: now, voided: voided)

        // Encounters and administrations first: the other resources refer to them.
        let sessionList = sessions(events, context)
        let encounterEntries = encounters(sessionList, &context)
        var administrationEntries: [R4.Entry] = []
        var observationEntries: [R4.Entry] = []
        for event in events {
            switch event.message {
            case let dose as Ketamine_V1_DoseAdministered:
                administrationEntries.append(medicationAdministration(event, dose, &context))
                if let weight = bodyWeight(event, kg: dose.weightKg, at: time(dose.startedAt, dose.hasStartedAt, or: event.time),
                                           session: dose.sessionID, &context) {
                    observationEntries.append(weight)
                }
            case let assessment as Ketamine_V1_AssessmentRecorded:
                observationEntries.append(self.assessment(event, assessment, &context))
            case let reading as Ketamine_V1_VitalsRecorded:
                observationEntries += vitalSigns(
                    event, at: time(reading.measuredAt, reading.hasMeasuredAt, or: event.time), session: reading.sessionID,
                    bloodPressure: reading.hasBloodPressure ? reading.bloodPressure : nil, heartRate: reading.heartRate,
                    spo2: reading.spo2, respiratoryRate: reading.hasRespiratoryRate ? reading.respiratoryRate : nil,
                    moaas: reading.hasMoaas ? reading.moaas : nil, &context)
            case let check as Ketamine_V1_PreSessionCheckRecorded:
                // The check's readings are vital signs too, taken when the check was recorded.
                observationEntries += vitalSigns(
                    event, at: event.time, session: check.sessionID,
                    bloodPressure: check.hasBloodPressure ? check.bloodPressure : nil, heartRate: check.heartRate,
                    spo2: check.spo2, respiratoryRate: nil, moaas: check.hasBaselineMoaas ? check.baselineMoaas : nil, &context)
            case let registration as Ketamine_V1_PatientRegistered:
                if let weight = bodyWeight(event, kg: registration.weightKg, at: event.time, session: nil, &context) {
                    observationEntries.append(weight)
                }
            case let details as Ketamine_V1_PatientDetailsUpdated where details.hasWeightKg:
                if let weight = bodyWeight(event, kg: details.weightKg, at: event.time, session: nil, &context) {
                    observationEntries.append(weight)
                }
            default:
                break
            }
        }
        let conditionEntries = conditions(events, &context)
        let statementEntries = medicationStatements(events, &context)
        let consentEntries = consents(events, &context)
        let adverseEventEntries = adverseEvents(events, &context)
        let patientEntry = patient(events, context)

        var entries = [patientEntry]
        entries += context.practitioners.map(practitioner)
        entries += conditionEntries
        entries += statementEntries
        entries += consentEntries
        entries += encounterEntries
        entries += administrationEntries
        entries += observationEntries
        entries += adverseEventEntries
        return R4.Bundle(entry: entries)
    }

    /// What the mapping of one resource needs to know of the rest of the patient's bundle.
    struct Context {
        let patientId: String
        /// The time consents are judged expired at.
        let now: Int64
        /// The ids of the patient's voided events.
        let voided: Set<String>
        /// Session id → the reference of its Encounter.
        var encounters: [String: R4.Reference] = [:]
        /// Session id → the reference of the MedicationAdministration of its first dose not voided.
        var administrations: [String: R4.Reference] = [:]
        /// The actor ids referred to as Practitioners, in the order first referred to.
        private(set) var practitioners: [String] = []
        private var practitionerIds: Set<String> = []

        /// The reference to the patient, which nearly every resource holds.
        let patient: R4.Reference

        init(patientId: String, now: Int64, voided: Set<String>) {
            self.patientId = patientId
            self.now = now
            self.voided = voided
            patient = FHIRRecordMapping.reference("Patient", FHIRId.key(patientId))
        }

        func isVoided(_ event: ClinicalEvent) -> Bool { voided.contains(event.id) }

        /// A reference to the Practitioner of `actorId`, which the bundle will then hold.
        mutating func practitioner(_ actorId: String) -> R4.Reference? {
            guard !actorId.isEmpty else { return nil }
            if practitionerIds.insert(actorId).inserted { practitioners.append(actorId) }
            return FHIRRecordMapping.reference("Practitioner", FHIRId.key(actorId))
        }

        /// The Practitioner who recorded `event`, when a person did: an event a system recorded
        /// names no performer.
        mutating func recorder(of event: ClinicalEvent) -> R4.Reference? {
            guard let role = event.actorRole, role != .system else { return nil }
            return practitioner(event.actorId)
        }
    }

    // MARK: Helpers

    static func reference(_ type: String, _ key: String) -> R4.Reference {
        R4.Reference(reference: FHIRId.fullUrl(type, key))
    }

    static func entry(_ type: String, _ key: String, _ resource: some Encodable) -> R4.Entry {
        R4.Entry(fullUrl: FHIRId.fullUrl(type, key), resource: resource)
    }

    static func time(_ nanoseconds: Int64) -> String { ClinicalTime.format(nanoseconds) }

    /// A message's time when it has one, else `fallback` (the event's time).
    static func time(_ stamp: Google_Protobuf_Timestamp, _ present: Bool, or fallback: Int64) -> Int64 {
        present ? stamp.nanosecondsSince1970 : fallback
    }

    /// A UCUM quantity; `nil` for a value JSON cannot hold (a damaged payload).
    static func quantity(_ value: Double, unit: String, code: String) -> R4.Quantity? {
        value.isFinite ? R4.Quantity(value: value, unit: unit, code: code) : nil
    }

    /// A key part standing for clinical content (a diagnosis code, a medication name) so that
    /// ids and fullUrls show none of it: the hex SHA-256 of the text.
    static func digest(_ text: String) -> String {
        "sha256:" + SHA256.hash(data: Array(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// An enum's label as words: `respiratory_depression` → `respiratory depression`.
    static func words(_ label: String) -> String {
        label.replacingOccurrences(of: "_", with: " ")
    }

    /// `text` as a URI part: unreserved ASCII as it is, every other byte percent-encoded.
    static func uriPart(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if FHIRId.isLetterOrDigit(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~") {
                out.append(Character(Unicode.Scalar(byte)))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (byte < 16 ? "0" + hex : hex)
            }
        }
        return out
    }

    // MARK: Patient and Practitioner

    /// The Patient: the registration with later detail updates (not voided) applied.
    static func patient(_ events: [ClinicalEvent], _ context: Context) -> R4.Entry {
        var registration: Ketamine_V1_PatientRegistered?
        for event in events where !context.isVoided(event) {
            if let registered = event.message as? Ketamine_V1_PatientRegistered, registration == nil {
                registration = registered
            } else if let details = event.message as? Ketamine_V1_PatientDetailsUpdated, var updated = registration {
                if details.hasGivenName { updated.givenName = details.givenName }
                if details.hasFamilyName { updated.familyName = details.familyName }
                if details.hasPhone { updated.phone = details.phone }
                if details.hasEmail { updated.email = details.email }
                registration = updated
            }
        }
        let key = FHIRId.key(context.patientId)
        var patient = R4.Patient(id: FHIRId.make(key), identifier: [R4.Identifier(system: patientSystem, value: context.patientId)])
        if let registration {
            let name = R4.HumanName(
                family: registration.familyName.isEmpty ? nil : registration.familyName,
                given: registration.givenName.isEmpty ? nil : [registration.givenName])
            if name.family != nil || name.given != nil { patient.name = [name] }
            var telecom: [R4.ContactPoint] = []
            if registration.hasPhone, !registration.phone.isEmpty { telecom.append(R4.ContactPoint(system: "phone", value: registration.phone)) }
            if registration.hasEmail, !registration.email.isEmpty { telecom.append(R4.ContactPoint(system: "email", value: registration.email)) }
            patient.telecom = telecom.isEmpty ? nil : telecom
            patient.gender = switch registration.sex {
            case .female: "female"
            case .male: "male"
            case .other: "other"
            case .unknown: "unknown"
            case .unspecified, .UNRECOGNIZED: nil
            }
            // A date the record accepted is a real YYYY-MM-DD date, as FHIR's `date` wants.
            if ClinicalTime.date(registration.birthDate) != nil { patient.birthDate = registration.birthDate }
        }
        return entry("Patient", key, patient)
    }

    /// A Practitioner known only by the record's actor id (the record keeps no names of staff).
    static func practitioner(_ actorId: String) -> R4.Entry {
        let key = FHIRId.key(actorId)
        return entry("Practitioner", key, R4.Practitioner(id: FHIRId.make(key), identifier: [R4.Identifier(system: actorSystem, value: actorId)]))
    }

    // MARK: Condition

    /// The patient's conditions: those of the latest medical history not voided, with the
    /// diagnoses of the latest evaluation not voided, one per ICD-10-CM code (active,
    /// confirmed). A code that only voided histories or evaluations listed comes out
    /// entered-in-error; one a later history no longer lists is left out (a history replaces
    /// the one before it as a whole).
    static func conditions(_ events: [ClinicalEvent], _ context: inout Context) -> [R4.Entry] {
        var history: (event: ClinicalEvent, conditions: [Ketamine_V1_Condition])?
        var evaluation: (event: ClinicalEvent, conditions: [Ketamine_V1_Condition])?
        var everListed = Set<String>()
        var listedInVoided: [(event: ClinicalEvent, condition: Ketamine_V1_Condition)] = []
        for event in events {
            let listed: [Ketamine_V1_Condition]
            let isHistory: Bool
            if let message = event.message as? Ketamine_V1_MedicalHistoryRecorded {
                listed = message.conditions
                isHistory = true
            } else if let message = event.message as? Ketamine_V1_EvaluationCompleted {
                listed = message.diagnoses
                isHistory = false
            } else {
                continue
            }
            if context.isVoided(event) {
                listedInVoided += listed.map { (event: event, condition: $0) }
                continue
            }
            everListed.formUnion(listed.map(conditionKey))
            if isHistory {
                history = (event, listed)
            } else if evaluation.map({ event.time >= $0.event.time }) ?? true {
                evaluation = (event, listed)
            }
        }
        var entries: [R4.Entry] = []
        var written = Set<String>()
        for source in [history, evaluation].compactMap({ $0 }) {
            for condition in source.conditions where written.insert(conditionKey(condition)).inserted {
                entries.append(self.condition(condition, from: source.event, enteredInError: false, &context))
            }
        }
        for (event, condition) in listedInVoided where !everListed.contains(conditionKey(condition)) && written.insert(conditionKey(condition)).inserted {
            entries.append(self.condition(condition, from: event, enteredInError: true, &context))
        }
        return entries
    }

    static func conditionKey(_ condition: Ketamine_V1_Condition) -> String {
        let code = condition.code.trimmingCharacters(in: .whitespaces).uppercased()
        return code.isEmpty ? "text:" + condition.display.lowercased() : code
    }

    static func condition(_ condition: Ketamine_V1_Condition, from event: ClinicalEvent, enteredInError: Bool, _ context: inout Context) -> R4.Entry {
        let key = FHIRId.key(context.patientId, "condition", digest(conditionKey(condition)))
        let code = condition.code.trimmingCharacters(in: .whitespaces)
        let text = condition.display.isEmpty ? nil : condition.display
        let recorder = context.recorder(of: event)
        let resource = R4.Condition(
            id: FHIRId.make(key),
            // con-5: no clinical status on a condition entered in error.
            clinicalStatus: enteredInError ? nil : R4.CodeableConcept(R4.Coding(system: conditionClinical, code: "active", display: "Active")),
            verificationStatus: enteredInError
                ? R4.CodeableConcept(R4.Coding(system: conditionVerification, code: "entered-in-error", display: "Entered in Error"))
                : R4.CodeableConcept(R4.Coding(system: conditionVerification, code: "confirmed", display: "Confirmed")),
            category: [problemListItem],
            code: code.isEmpty
                ? R4.CodeableConcept(text: text ?? "condition")
                : R4.CodeableConcept(R4.Coding(system: icd10cm, code: code, display: icd10Display(code)), text: text),
            subject: context.patient,
            recordedDate: time(event.time),
            recorder: recorder)
        return entry("Condition", key, resource)
    }

    // MARK: MedicationStatement

    /// The patient's medications as their state lists them: the latest history's, changed by
    /// later medication events (matched by name, trimmed, ignoring case), none of them voided.
    /// Current and tapering are `active` (tapering said in `statusReason`: R4 has no tapering
    /// status), stopped is `stopped`. A medication only voided events named is entered-in-error.
    static func medicationStatements(_ events: [ClinicalEvent], _ context: inout Context) -> [R4.Entry] {
        struct Listed {
            var name: String
            var dose: String
            var status: Ketamine_V1_MedicationStatus
            var event: ClinicalEvent
        }
        var list: [Listed] = []
        var everListed = Set<String>()
        var namedInVoided: [(name: String, event: ClinicalEvent)] = []
        for event in events {
            if let history = event.message as? Ketamine_V1_MedicalHistoryRecorded {
                if context.isVoided(event) {
                    namedInVoided += history.medications.map { (name: $0.name, event: event) }
                    continue
                }
                list = history.medications.map { Listed(name: $0.name, dose: $0.dose, status: .current, event: event) }
                everListed.formUnion(list.map { medicationKey($0.name) })
            } else if let change = event.message as? Ketamine_V1_MedicationChanged {
                if context.isVoided(event) {
                    namedInVoided.append((name: change.name, event: event))
                    continue
                }
                let key = medicationKey(change.name)
                let status: Ketamine_V1_MedicationStatus
                switch change.change {
                case .started, .doseChanged: status = .current
                case .tapering: status = .tapering
                case .stopped: status = .stopped
                case .unspecified, .UNRECOGNIZED: continue
                }
                if let index = list.firstIndex(where: { medicationKey($0.name) == key }) {
                    list[index].status = status
                    list[index].event = event
                    if change.hasDose { list[index].dose = change.dose }
                } else if status == .current {
                    // Tapering or stopping a medication the list does not hold changes nothing.
                    list.append(Listed(name: change.name, dose: change.hasDose ? change.dose : "", status: .current, event: event))
                    everListed.insert(key)
                }
            }
        }
        var entries = list.map { listed in
            medicationStatement(name: listed.name, dose: listed.dose, status: listed.status, event: listed.event, enteredInError: false, &context)
        }
        var written = Set(list.map { medicationKey($0.name) })
        for (name, event) in namedInVoided where !everListed.contains(medicationKey(name)) && written.insert(medicationKey(name)).inserted {
            entries.append(medicationStatement(name: name, dose: "", status: .unspecified, event: event, enteredInError: true, &context))
        }
        return entries
    }

    static func medicationKey(_ name: String) -> String {
        name.trimmingCharacters(in: .whitespaces).lowercased()
    }

    static func medicationStatement(name: String, dose: String, status: Ketamine_V1_MedicationStatus, event: ClinicalEvent,
                                    enteredInError: Bool, _ context: inout Context) -> R4.Entry {
        let key = FHIRId.key(context.patientId, "medication", digest(medicationKey(name)))
        let fhirStatus = enteredInError ? "entered-in-error" : status == .stopped ? "stopped" : "active"
        let source = context.recorder(of: event)
        let resource = R4.MedicationStatement(
            id: FHIRId.make(key),
            status: fhirStatus,
            statusReason: status == .tapering && !enteredInError ? [R4.CodeableConcept(text: "tapering")] : nil,
            medicationCodeableConcept: R4.CodeableConcept(text: name.isEmpty ? "medication" : name),
            subject: context.patient,
            dateAsserted: time(event.time),
            informationSource: source,
            dosage: dose.isEmpty ? nil : [R4.TextDosage(text: dose)])
        return entry("MedicationStatement", key, resource)
    }

    // MARK: Consent

    /// One Consent per consent id: `active`, `inactive` once withdrawn or expired (at `now`),
    /// `entered-in-error` when every ConsentGiven of the id was voided. A later ConsentGiven of
    /// the same id replaces the earlier one, and a withdrawal stays with it (as in the state).
    static func consents(_ events: [ClinicalEvent], _ context: inout Context) -> [R4.Entry] {
        struct Given {
            var consent: Ketamine_V1_ConsentGiven
            var event: ClinicalEvent
            var valid: Bool
            var withdrawnAt: Int64?
        }
        var consents: [Given] = []
        for event in events {
            if let given = event.message as? Ketamine_V1_ConsentGiven {
                let voided = context.isVoided(event)
                if let index = consents.firstIndex(where: { $0.consent.consentID == given.consentID }) {
                    // A voided repeat changes nothing; a valid one replaces what was there.
                    if !voided {
                        consents[index].consent = given
                        consents[index].event = event
                        consents[index].valid = true
                    }
                } else {
                    consents.append(Given(consent: given, event: event, valid: !voided))
                }
            } else if let withdrawal = event.message as? Ketamine_V1_ConsentWithdrawn, !context.isVoided(event),
                      let index = consents.firstIndex(where: { $0.consent.consentID == withdrawal.consentID }),
                      consents[index].withdrawnAt == nil {
                consents[index].withdrawnAt = event.time
            }
        }
        return consents.map { consent($0.consent, event: $0.event, valid: $0.valid, withdrawnAt: $0.withdrawnAt, &context) }
    }

    static func consent(_ given: Ketamine_V1_ConsentGiven, event: ClinicalEvent, valid: Bool, withdrawnAt: Int64?, _ context: inout Context) -> R4.Entry {
        let key = FHIRId.key(context.patientId, "consent", given.consentID)
        let signedAt = time(given.signedAt, given.hasSignedAt, or: event.time)
        let expiresAt = given.hasExpiresAt ? given.expiresAt.nanosecondsSince1970 : nil
        let status: String
        if !valid {
            status = "entered-in-error"
        } else if withdrawnAt != nil || expiresAt.map({ $0 <= context.now }) ?? false {
            status = "inactive"
        } else {
            status = "active"
        }
        let scope: (code: String, display: String, what: String) = switch given.scope {
        case .ketamineIv: ("treatment", "Treatment", "ketamine IV treatment")
        case .ketamineIm: ("treatment", "Treatment", "ketamine IM treatment")
        case .esketamineNasal: ("treatment", "Treatment", "esketamine nasal spray treatment")
        case .ketamineNasal: ("treatment", "Treatment", "ketamine nasal treatment")
        case .research: ("research", "Research", "research")
        case .dataSharing: ("patient-privacy", "Privacy Consent", "data sharing")
        case .unspecified, .UNRECOGNIZED: ("treatment", "Treatment", "treatment")
        }
        // The provision ends at the withdrawal or the expiry, whichever comes first.
        let end = [withdrawnAt, expiresAt].compactMap { $0 }.min()
        let resource = R4.Consent(
            id: FHIRId.make(key),
            status: status,
            scope: R4.CodeableConcept(R4.Coding(system: consentScope, code: scope.code, display: scope.display)),
            category: [consentDocument],
            patient: context.patient,
            dateTime: time(signedAt),
            performer: [context.patient],
            // ppc-1 wants a policy: the form the patient signed, by its version.
            policy: [R4.ConsentPolicy(uri: consentFormPrefix + uriPart(given.formVersion))],
            provision: R4.ConsentProvision(
                period: R4.Period(start: time(signedAt), end: end.map { time($0) }),
                code: [R4.CodeableConcept(text: scope.what)]))
        return entry("Consent", key, resource)
    }

    // MARK: Encounter

    /// What the events say of one session.
    struct Session {
        let id: String
        var scheduledFor: Int64?
        var scheduledEvents = 0
        var voidedScheduledEvents = 0
        /// The earliest check, dose or reading not voided.
        var startedAt: Int64?
        var dischargedAt: Int64?
        var dosed = false
        var happened = false
        var cancelled = false
        var setting: Ketamine_V1_Setting = .unspecified
        var prescriberOnSite: String?

        mutating func started(_ time: Int64) {
            happened = true
            startedAt = min(startedAt ?? time, time)
        }
    }

    /// The patient's sessions, in the order first named, from the events that belong to one.
    static func sessions(_ events: [ClinicalEvent], _ context: Context) -> [Session] {
        var sessions: [Session] = []
        var index: [String: Int] = [:]
        func update(_ id: String, _ change: (inout Session) -> Void) {
            if let at = index[id] {
                change(&sessions[at])
                return
            }
            var session = Session(id: id)
            change(&session)
            index[id] = sessions.count
            sessions.append(session)
        }
        for event in events {
            let voided = context.isVoided(event)
            switch event.message {
            case let scheduled as Ketamine_V1_SessionScheduled:
                update(scheduled.sessionID) { session in
                    session.scheduledEvents += 1
                    if voided { session.voidedScheduledEvents += 1 }
                    if !voided || session.scheduledFor == nil {
                        session.scheduledFor = time(scheduled.scheduledFor, scheduled.hasScheduledFor, or: event.time)
                    }
                }
            case let check as Ketamine_V1_PreSessionCheckRecorded where !voided:
                update(check.sessionID) { $0.started(event.time) }
            case let dose as Ketamine_V1_DoseAdministered where !voided:
                update(dose.sessionID) { session in
                    session.started(time(dose.startedAt, dose.hasStartedAt, or: event.time))
                    if !session.dosed {
                        session.setting = dose.setting
                        if dose.hasPrescriberOnSiteID, !dose.prescriberOnSiteID.isEmpty { session.prescriberOnSite = dose.prescriberOnSiteID }
                    }
                    session.dosed = true
                }
            case let reading as Ketamine_V1_VitalsRecorded where !voided:
                update(reading.sessionID) { $0.started(time(reading.measuredAt, reading.hasMeasuredAt, or: event.time)) }
            case let discharge as Ketamine_V1_PatientDischarged where !voided:
                update(discharge.sessionID) { session in
                    session.happened = true
                    // Discharged twice: the first discharge stands (as in the state).
                    let at = time(discharge.dischargedAt, discharge.hasDischargedAt, or: event.time)
                    session.dischargedAt = min(session.dischargedAt ?? at, at)
                }
            case let cancellation as Ketamine_V1_SessionCancelled where !voided:
                update(cancellation.sessionID) { $0.cancelled = true }
            default:
                break
            }
        }
        return sessions
    }

    /// One Encounter per session: `finished` once discharged, `cancelled` when cancelled before
    /// a dose, `in-progress` once something happened, `planned` before; `entered-in-error` when
    /// its scheduling was voided and nothing else of it stands. The class follows the dose's
    /// setting: inpatient `IMP`, home `HH`, otherwise ambulatory `AMB`.
    static func encounters(_ sessions: [Session], _ context: inout Context) -> [R4.Entry] {
        sessions.map { session in
            let key = FHIRId.key(context.patientId, "session", session.id)
            context.encounters[session.id] = reference("Encounter", key)
            let status: String
            if session.scheduledEvents > 0, session.voidedScheduledEvents == session.scheduledEvents, !session.happened {
                status = "entered-in-error"
            } else if session.dischargedAt != nil {
                status = "finished"
            } else if session.cancelled, !session.dosed {
                status = "cancelled"
            } else if session.happened {
                status = "in-progress"
            } else {
                status = "planned"
            }
            let encounterClass = switch session.setting {
            case .inpatient: R4.Coding(system: actCode, code: "IMP", display: "inpatient encounter")
            // HH's display was not confirmed from a reachable source: the code alone.
            case .home: R4.Coding(system: actCode, code: "HH")
            case .clinic, .unspecified, .UNRECOGNIZED: R4.Coding(system: actCode, code: "AMB", display: "ambulatory")
            }
            // A session that has not started has its scheduled time as its (planned) start.
            let start = session.startedAt ?? session.scheduledFor
            let end = status == "finished" ? session.dischargedAt : nil
            let participant = session.prescriberOnSite.flatMap { context.practitioner($0) }.map {
                [R4.EncounterParticipant(type: [R4.CodeableConcept(text: "prescriber on site")], individual: $0)]
            }
            let resource = R4.Encounter(
                id: FHIRId.make(key), status: status, class: encounterClass, subject: context.patient, participant: participant,
                period: start == nil && end == nil ? nil : R4.Period(start: start.map { time($0) }, end: end.map { time($0) }))
            return entry("Encounter", key, resource)
        }
    }

    // MARK: MedicationAdministration

    /// One MedicationAdministration per dose: the drug as a contained Medication (the lot
    /// number is the Medication's `batch.lotNumber` in R4), RxNorm-coded where the code is
    /// confirmed (esketamine nasal spray, SCDF 2201623), text always; the route in SNOMED CT;
    /// the dose in mg; the recording nurse as performer; the session's Encounter as context.
    static func medicationAdministration(_ event: ClinicalEvent, _ dose: Ketamine_V1_DoseAdministered, _ context: inout Context) -> R4.Entry {
        let key = FHIRId.key(event.id)
        let voided = context.isVoided(event)
        let startedAt = time(dose.startedAt, dose.hasStartedAt, or: event.time)
        let nasal = dose.route == .intranasal
        let medicationCode: R4.CodeableConcept = switch dose.drug {
        case .esketamine where nasal:
            R4.CodeableConcept(R4.Coding(system: rxnorm, code: "2201623", display: "esketamine Nasal Spray"), text: "esketamine nasal spray")
        case .esketamine:
            R4.CodeableConcept(text: "esketamine")
        // No RxNorm code for ketamine is confirmed (docs/FHIR.md): text only.
        case .ketamine:
            R4.CodeableConcept(text: nasal ? "ketamine nasal spray" : dose.route == .iv || dose.route == .im ? "ketamine hydrochloride injection" : "ketamine")
        case .unspecified, .UNRECOGNIZED:
            R4.CodeableConcept(text: "unspecified drug")
        }
        let route: (code: String, display: String, words: String)? = switch dose.route {
        case .iv: ("47625008", "Intravenous route", "intravenous")
        case .im: ("78421000", "Intramuscular route", "intramuscular")
        case .intranasal: ("46713006", "Nasal route", "intranasal")
        case .unspecified, .UNRECOGNIZED: nil
        }
        let infusion = dose.route == .iv && dose.hasInfusionMinutes && dose.infusionMinutes > 0 ? Int64(dose.infusionMinutes) : nil
        // The end of an infusion, when its start is a real time (a damaged one saturates).
        let infusionEnd = infusion.flatMap { minutes -> Int64? in
            let (span, spanOverflow) = minutes.multipliedReportingOverflow(by: 60_000_000_000)
            let (end, overflow) = startedAt.addingReportingOverflow(span)
            return spanOverflow || overflow ? nil : end
        }
        var text = "\(dose.doseMg.plainText) mg"
        if let route { text += " " + route.words }
        if let infusion { text += " over \(infusion) minutes" }
        if dose.hasDevices, dose.devices > 0 { text += ", \(dose.devices) device" + (dose.devices == 1 ? "" : "s") }

        if !voided, context.administrations[dose.sessionID] == nil {
            context.administrations[dose.sessionID] = reference("MedicationAdministration", key)
        }
        let encounter = context.encounters[dose.sessionID]
        let performer = context.recorder(of: event)
        let resource = R4.MedicationAdministration(
            id: FHIRId.make(key),
            contained: [R4.Medication(id: "med", code: medicationCode, batch: dose.lotNumber.isEmpty ? nil : R4.Batch(lotNumber: dose.lotNumber))],
            status: voided ? "entered-in-error" : "completed",
            medicationReference: R4.Reference(reference: "#med"),
            subject: context.patient,
            context: encounter,
            // The weight the dose was worked out for.
            supportingInformation: dose.weightKg.isFinite && dose.weightKg > 0 ? [reference("Observation", observationKey(event, "weight"))] : nil,
            effectiveDateTime: infusionEnd == nil ? time(startedAt) : nil,
            effectivePeriod: infusionEnd.map { R4.Period(start: time(startedAt), end: time($0)) },
            performer: performer.map { [R4.AdministrationPerformer(actor: $0)] },
            dosage: R4.AdministrationDosage(
                text: text,
                route: route.map { R4.CodeableConcept(R4.Coding(system: snomed, code: $0.code, display: $0.display)) },
                dose: quantity(dose.doseMg, unit: "mg", code: "mg")))
        return entry("MedicationAdministration", key, resource)
    }

    // MARK: Observation

    /// The key of the Observation `part` (`score`, `bp`, `weight`...) of `event`: event ids are
    /// unique in the store, so no patient id is needed.
    static func observationKey(_ event: ClinicalEvent, _ part: String) -> String {
        FHIRId.key(event.id, part)
    }

    /// The Observation `part` of `event`, with the elements every one of them has.
    static func observation(_ event: ClinicalEvent, part: String, profile: String?, category: R4.CodeableConcept,
                            code: R4.CodeableConcept, at: Int64, session: String?, _ context: inout Context) -> R4.Observation {
        let encounter = session.flatMap { context.encounters[$0] }
        let performer = context.recorder(of: event)
        return R4.Observation(
            id: FHIRId.make(observationKey(event, part)),
            meta: profile.map { R4.Meta(profile: [profileBase + $0]) },
            status: context.isVoided(event) ? "entered-in-error" : "final",
            category: [category],
            code: code,
            subject: context.patient,
            encounter: encounter,
            effectiveDateTime: time(at),
            performer: performer.map { [$0] })
    }

    /// An assessment: its total as `valueInteger`, LOINC-coded where a code is confirmed (PHQ-9
    /// 44261-6, GAD-7 70274-6, C-SSRS screener 93373-9) and named in `code.text` always; each
    /// item score a component (LOINC item codes for PHQ-9 and GAD-7); the band or risk level,
    /// and a suicide-risk flag, as interpretation text.
    static func assessment(_ event: ClinicalEvent, _ assessment: Ketamine_V1_AssessmentRecorded, _ context: inout Context) -> R4.Entry {
        let instrument = assessment.instrument
        let score = instrument.score(assessment.itemScores)
        let items = itemCodes(instrument)
        var resource = observation(
            event, part: "score", profile: nil, category: surveyCategory,
            code: R4.CodeableConcept(codings: instrumentCoding(instrument).map { [$0] } ?? [], text: instrument.displayName),
            at: event.time, session: assessment.hasSessionID ? assessment.sessionID : nil, &context)
        resource.valueInteger = score.total
        var interpretation: [R4.CodeableConcept] = []
        if let band = score.band { interpretation.append(R4.CodeableConcept(text: band)) }
        if score.flagsSuicideRisk { interpretation.append(R4.CodeableConcept(text: "suicide risk flagged")) }
        resource.interpretation = interpretation.isEmpty ? nil : interpretation
        let components = assessment.itemScores.enumerated().map { index, value in
            R4.ObservationComponent(
                code: R4.CodeableConcept(
                    codings: index < items.count ? [loincCoding(items[index])] : [],
                    text: "\(instrument.displayName) item \(index + 1)"),
                valueInteger: Int(value))
        }
        resource.component = components.isEmpty ? nil : components
        return entry("Observation", observationKey(event, "score"), resource)
    }

    /// A reading's vital signs, each per its R4 vital-signs profile: the blood pressure panel
    /// (85354-9, systolic 8480-6 and diastolic 8462-4 as components), heart rate (8867-4),
    /// oxygen saturation (2708-6, which R4's oxygensat profile fixes, and 59408-5 for pulse
    /// oximetry), respiratory rate (9279-1); and MOAA/S, which has no LOINC code, as a
    /// text-coded survey Observation.
    static func vitalSigns(_ event: ClinicalEvent, at: Int64, session: String, bloodPressure: Ketamine_V1_BloodPressure?,
                           heartRate: Int32, spo2: Int32, respiratoryRate: Int32?, moaas: Int32?, _ context: inout Context) -> [R4.Entry] {
        var entries: [R4.Entry] = []
        func vital(_ part: String, _ profile: String, _ code: R4.CodeableConcept, _ fill: (inout R4.Observation) -> Void) {
            var resource = observation(event, part: part, profile: profile, category: vitalSignsCategory, code: code,
                                       at: at, session: session, &context)
            fill(&resource)
            entries.append(entry("Observation", observationKey(event, part), resource))
        }
        if let bloodPressure, bloodPressure.systolic > 0 || bloodPressure.diastolic > 0 {
            vital("bp", "bp", R4.CodeableConcept(loincCoding("85354-9", "Blood pressure panel with all children optional"), text: "Blood pressure")) {
                $0.component = [
                    R4.ObservationComponent(code: R4.CodeableConcept(loincCoding("8480-6", "Systolic blood pressure")),
                                            valueQuantity: quantity(Double(bloodPressure.systolic), unit: "mmHg", code: "mm[Hg]")),
                    R4.ObservationComponent(code: R4.CodeableConcept(loincCoding("8462-4", "Diastolic blood pressure")),
                                            valueQuantity: quantity(Double(bloodPressure.diastolic), unit: "mmHg", code: "mm[Hg]")),
                ]
            }
        }
        if heartRate > 0 {
            vital("hr", "heartrate", R4.CodeableConcept(loincCoding("8867-4", "Heart rate"), text: "Heart rate")) {
                $0.valueQuantity = quantity(Double(heartRate), unit: "beats/minute", code: "/min")
            }
        }
        if spo2 > 0 {
            let code = R4.CodeableConcept(
                codings: [loincCoding("2708-6", "Oxygen saturation in Arterial blood"),
                          loincCoding("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")],
                text: "Oxygen saturation")
            vital("spo2", "oxygensat", code) { $0.valueQuantity = quantity(Double(spo2), unit: "%", code: "%") }
        }
        if let respiratoryRate, respiratoryRate > 0 {
            vital("rr", "resprate", R4.CodeableConcept(loincCoding("9279-1", "Respiratory rate"), text: "Respiratory rate")) {
                $0.valueQuantity = quantity(Double(respiratoryRate), unit: "breaths/minute", code: "/min")
            }
        }
        if let moaas {
            var resource = observation(event, part: "moaas", profile: nil, category: surveyCategory,
                                       code: R4.CodeableConcept(text: Ketamine_V1_Instrument.moaas.displayName),
                                       at: at, session: session, &context)
            resource.valueInteger = Int(moaas)
            resource.interpretation = Ketamine_V1_Instrument.moaas.band(total: Int(moaas)).map { [R4.CodeableConcept(text: $0)] }
            entries.append(entry("Observation", observationKey(event, "moaas"), resource))
        }
        return entries
    }

    /// A body weight (29463-7, bodyweight profile, kg): the registration's, a detail update's,
    /// or the one a dose was worked out for. `nil` when there is none.
    static func bodyWeight(_ event: ClinicalEvent, kg: Double, at: Int64, session: String?, _ context: inout Context) -> R4.Entry? {
        guard kg > 0, let value = quantity(kg, unit: "kg", code: "kg") else { return nil }
        var resource = observation(
            event, part: "weight", profile: "bodyweight", category: vitalSignsCategory,
            code: R4.CodeableConcept(loincCoding("29463-7", "Body weight"), text: "Body weight"), at: at, session: session, &context)
        resource.valueQuantity = value
        return entry("Observation", observationKey(event, "weight"), resource)
    }

    // MARK: AdverseEvent

    /// One AdverseEvent per side effect not voided (R4's AdverseEvent has no status, so a
    /// voided one cannot be marked entered-in-error and is left out): actual, the kind and
    /// description as text, the onset as `date`, seriousness and severity, the outcome
    /// (resolved once a resolution stands, else ongoing), and the session's dose as suspect.
    static func adverseEvents(_ events: [ClinicalEvent], _ context: inout Context) -> [R4.Entry] {
        struct Observed {
            var effect: Ketamine_V1_SideEffectObserved
            var event: ClinicalEvent
            var resolved = false
        }
        var observed: [Observed] = []
        for event in events where !context.isVoided(event) {
            if let effect = event.message as? Ketamine_V1_SideEffectObserved {
                if let index = observed.firstIndex(where: { $0.effect.sideEffectID == effect.sideEffectID }) {
                    observed[index].effect = effect
                    observed[index].event = event
                } else {
                    observed.append(Observed(effect: effect, event: event))
                }
            } else if let resolution = event.message as? Ketamine_V1_SideEffectResolved,
                      let index = observed.firstIndex(where: { $0.effect.sideEffectID == resolution.sideEffectID }) {
                observed[index].resolved = true
            }
        }
        return observed.map { adverseEvent($0.effect, event: $0.event, resolved: $0.resolved, &context) }
    }

    static func adverseEvent(_ effect: Ketamine_V1_SideEffectObserved, event: ClinicalEvent, resolved: Bool, _ context: inout Context) -> R4.Entry {
        let key = FHIRId.key(context.patientId, "side-effect", effect.sideEffectID)
        var what = effect.kind == .unspecified ? "side effect" : words(effect.kind.label)
        if effect.hasDescription_p, !effect.description_p.isEmpty { what += ": " + effect.description_p }
        let session = effect.hasSessionID ? effect.sessionID : nil
        let severity: (String, String)? = switch effect.severity {
        case .mild: ("mild", "Mild")
        case .moderate: ("moderate", "Moderate")
        case .severe: ("severe", "Severe")
        case .unspecified, .UNRECOGNIZED: nil
        }
        let encounter = session.flatMap { context.encounters[$0] }
        let suspect = session.flatMap { context.administrations[$0] }
        let recorder = context.recorder(of: event)
        let resource = R4.AdverseEvent(
            id: FHIRId.make(key),
            event: R4.CodeableConcept(text: what),
            subject: context.patient,
            encounter: encounter,
            date: time(time(effect.onsetAt, effect.hasOnsetAt, or: event.time)),
            recorder: recorder,
            seriousness: effect.serious
                ? R4.CodeableConcept(R4.Coding(system: adverseEventSeriousness, code: "serious", display: "Serious"))
                : R4.CodeableConcept(R4.Coding(system: adverseEventSeriousness, code: "non-serious", display: "Non-serious")),
            severity: severity.map { R4.CodeableConcept(R4.Coding(system: adverseEventSeverity, code: $0.0, display: $0.1)) },
            outcome: resolved
                ? R4.CodeableConcept(R4.Coding(system: adverseEventOutcome, code: "resolved", display: "Resolved"))
                : R4.CodeableConcept(R4.Coding(system: adverseEventOutcome, code: "ongoing", display: "Ongoing")),
            suspectEntity: suspect.map { [R4.SuspectEntity(instance: $0)] })
        return entry("AdverseEvent", key, resource)
    }
}
