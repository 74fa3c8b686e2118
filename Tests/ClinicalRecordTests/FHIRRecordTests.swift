import ClinicGenerator
import ClinicalRecord
import Foundation
import Testing

/// The clinical record as FHIR R4 (docs/FHIR.md): ids that never merge two records, one Bundle
/// per patient whose references all resolve inside it, and the demo clinic's whole record
/// checked by an independent implementation of the FHIR models (the Python package
/// fhir.resources, R4B models, which tools/test installs).
struct FHIRRecordTests {
    /// Consents are judged expired at a fixed time, so that exports compare byte for byte.
    static let now = ClinicalTime.parse("2026-12-31T00:00:00Z") ?? 0

    /// Every patient's bundle, parsed.
    static func bundles(_ store: PatientRecordStore, patient: String? = nil) throws -> [[String: Any]] {
        var bundles: [[String: Any]] = []
        try store.exportFHIR(patient: patient, now: now) { line in
            #expect(line.last == UInt8(ascii: "\n") && !line.dropLast().contains(UInt8(ascii: "\n")), "one NDJSON line per bundle")
            bundles.append(try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]))
        }
        return bundles
    }

    static func entries(_ bundle: [String: Any]) -> [[String: Any]] {
        bundle["entry"] as? [[String: Any]] ?? []
    }

    static func resources(_ bundle: [String: Any], _ type: String) -> [[String: Any]] {
        entries(bundle).compactMap { $0["resource"] as? [String: Any] }.filter { $0["resourceType"] as? String == type }
    }

    /// The record's id of the bundle's patient (the Patient's identifier).
    static func patientId(_ bundle: [String: Any]) -> String? {
        let identifiers = resources(bundle, "Patient").first?["identifier"] as? [[String: Any]]
        return identifiers?.first?["value"] as? String
    }

    /// Every `reference` anywhere in a JSON tree.
    static func references(in value: Any) -> [String] {
        if let object = value as? [String: Any] {
            return object.flatMap { member -> [String] in
                if member.key == "reference", let reference = member.value as? String { return [reference] }
                return references(in: member.value)
            }
        }
        if let array = value as? [Any] { return array.flatMap { references(in: $0) } }
        return []
    }

    /// The (system, code) pairs of a CodeableConcept.
    static func codes(_ concept: Any?) -> [String] {
        ((concept as? [String: Any])?["coding"] as? [[String: Any]] ?? []).map {
            ($0["system"] as? String ?? "") + "|" + ($0["code"] as? String ?? "")
        }
    }

    static func demoStore(_ store: PatientRecordStore) throws -> [ClinicalEventInput] {
        let inputs = ClinicGenerator(seed: 42, patients: 12).allEvents()
        try store.importEvents(inputs)
        return inputs
    }

    // MARK: Ids

    @Test func idsAreTheNotesDashHexEscapingWithAHashForLongKeys() {
        // The vectors of docs/FHIR.md ("Ids"), checked with Python when they were written.
        #expect(FHIRId.make("C_1") == "C-5F1")
        #expect(FHIRId.make("C-1") == "C-2D1")
        #expect(FHIRId.make("C.1") == "C-2E1")
        #expect(FHIRId.make("PAT_000123") == "PAT-5F000123")
        #expect(FHIRId.make("patient 42") == "patient-2042")
        #expect(FHIRId.make("Müller/Ökonom") == "M-C3-BCller-2F-C3-96konom")
        // A 50-character Cyrillic key; its hash was checked
        // with Python (base64.b32encode(hashlib.sha256(key.encode()).digest()), lowercased, no padding).
        #expect(FHIRId.make(String(repeating: "Ж", count: 50)) == "h.ocx5nbukduuwl3jxuzbrj36rnduseykjqdb3f6agctrymihyjohq")
        // 64 characters is still an escaping; 65 is a hash.
        #expect(FHIRId.make(String(repeating: "a", count: 64)) == String(repeating: "a", count: 64))
        #expect(FHIRId.make(String(repeating: "a", count: 65)) == "h.mnjwdrelxhvlcqmy45xkrk37djawqxlk2yvksfdngaou6f7lblqa")
        #expect(FHIRId.make(String(repeating: "-", count: 21)).count == 63)
        #expect(FHIRId.make(String(repeating: "-", count: 22)) == "h.7kcl7x6iwkbmfiqjj26xpxlppwkeq5mxmdk3wtdlxdyfidbf5cta")
        #expect(FHIRId.make("").hasPrefix("h."))
        #expect(FHIRId.resource("Patient", "C_1") == "Patient/C-5F1")
    }

    @Test func distinctKeysNeverShareAnIdOrAFullUrl() {
        #expect(FHIRId.make("C_1") != FHIRId.make("C-1"))
        #expect(FHIRId.fullUrl("Patient", "C_1") != FHIRId.fullUrl("Patient", "C-1"))
        // Key parts are escaped before they are joined, so no two lists of parts meet.
        #expect(FHIRId.key("A/x", "B") != FHIRId.key("A", "x/B"))
        #expect(FHIRId.key("A%2Fx", "B") != FHIRId.key("A/x", "B"))
        #expect(FHIRId.key("P-0001", "session", "P-0001-S1") == "P-0001/session/P-0001-S1")
        let keys = ["C_1", "C-1", "C.1", "C 1", "C/1", "c_1", "C-5F1", "C-2D1", String(repeating: "x", count: 80), String(repeating: "x", count: 81)]
        let ids = keys.map(FHIRId.make)
        #expect(Set(ids).count == keys.count)
        let valid = /[A-Za-z0-9\-.]{1,64}/
        #expect(ids.allSatisfy { $0.wholeMatch(of: valid) != nil })
    }

    @Test func fullUrlsAreNameBasedUUIDs() {
        // uuid.uuid5(uuid.UUID("d486d1f2-94cf-4b51-85b6-a3e669f8569a"), "Patient/P-0001") in Python.
        #expect(FHIRId.fullUrl("Patient", "P-0001") == "urn:uuid:b71d082a-3ed3-57e2-86a8-48d3ddb6128a")
        #expect(FHIRId.fullUrl("Practitioner", "u-nurse-1") == "urn:uuid:178d61bb-0d61-5f34-b2d5-a425dd8ee134")
        let uuid = /urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/
        #expect(FHIRId.fullUrl("Encounter", "Müller/Ökonom").wholeMatch(of: uuid) != nil)
    }

    @Test func patientsWhoseIdsDifferOnlyInPunctuationStayApart() async throws {
        try await withRecordStore { store, _ in
            let time = ClinicalTime.parse("2026-01-05T08:00:00Z") ?? 0
            let inputs = ["C_1", "C-1"].map { patient in
                ClinicalEventInput(source: "urn:test", patientId: patient, time: time, actorId: "u-staff-1", actorRole: .staff, message: sampleRegistration())
            }
            try store.importEvents(inputs)
            let bundles = try Self.bundles(store)
            #expect(bundles.count == 2)
            let patients = bundles.compactMap { Self.resources($0, "Patient").first }
            #expect(patients.compactMap { $0["id"] as? String }.sorted() == ["C-2D1", "C-5F1"])
            #expect(Set(bundles.compactMap { Self.patientId($0) }) == ["C_1", "C-1"])
            let fullUrls = bundles.flatMap { Self.entries($0).compactMap { $0["fullUrl"] as? String } }
            #expect(Set(fullUrls).count == fullUrls.count - 1, "the one Practitioner (u-staff-1) is in both bundles, nothing else")
        }
    }

    // MARK: The demo clinic

    @Test(.enabled(if: FHIRTests.pythonHasFHIRModels, "needs python3 with fhir.resources (tools/test installs it)"),
          .timeLimit(.minutes(3)))
    func everyPatientsBundleValidatesAsFHIRAndResolvesItsReferences() async throws {
        try await withRecordStore { store, directory in
            _ = try Self.demoStore(store)
            let file = directory + "/fhir.ndjson"
            var ndjson = Data()
            let count = try store.exportFHIR(now: Self.now) { ndjson.append(contentsOf: $0) }
            #expect(count == 12)
            try ndjson.write(to: URL(fileURLWithPath: file))

            let printed = try runPython(Self.validator, [file])
            #expect(printed
                == "12 AdverseEvent,Condition,Consent,Encounter,MedicationAdministration,MedicationStatement,Observation,Patient,Practitioner")
        }
    }

    /// Validates each line as an R4B Bundle (ids limited to R4's 64 characters first), then
    /// checks what the models do not: fullUrls are unique `urn:uuid:` UUIDs, every `urn:uuid:`
    /// reference is some entry's fullUrl, every `#` reference a contained resource, no other
    /// reference leaves the bundle, and con-5 holds.
    static let validator = #"""
        import sys, json, re
        import fhir_core.constraints
        fhir_core.constraints.TYPES_ID_MAX_LENGTH = 64
        from fhir.resources.R4B.bundle import Bundle

        UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

        def refs(node):
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "reference" and isinstance(value, str):
                        yield value
                    else:
                        yield from refs(value)
            elif isinstance(node, list):
                for value in node:
                    yield from refs(value)

        problems, kinds, count = [], set(), 0
        with open(sys.argv[1], encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                bundle = Bundle.model_validate_json(line)
                assert bundle.type == "collection"
                raw = json.loads(line)
                urls = [e["fullUrl"] for e in raw["entry"]]
                known = set(urls)
                if len(known) != len(urls):
                    problems.append("line %d: fullUrls are not unique" % number)
                for e in raw["entry"]:
                    r = e["resource"]
                    kinds.add(r["resourceType"])
                    where = "line %d: %s/%s" % (number, r["resourceType"], r.get("id"))
                    if not UUID.match(e["fullUrl"]):
                        problems.append("%s: fullUrl %s" % (where, e["fullUrl"]))
                    contained = {c.get("id") for c in r.get("contained", [])}
                    for ref in refs(r):
                        if ref.startswith("urn:uuid:"):
                            if ref not in known:
                                problems.append("%s: %s resolves to no entry" % (where, ref))
                        elif ref.startswith("#"):
                            if ref[1:] not in contained:
                                problems.append("%s: %s resolves to nothing contained" % (where, ref))
                        else:
                            problems.append("%s: %s is not inside the bundle" % (where, ref))
                    if r["resourceType"] == "Condition":
                        status = [c["code"] for c in r["verificationStatus"]["coding"]]
                        if "entered-in-error" in status and "clinicalStatus" in r:
                            problems.append("%s: con-5" % where)
                count += 1
        print(count, ",".join(sorted(kinds)))
        for problem in problems[:20]:
            print(problem, file=sys.stderr)
        sys.exit(1 if problems else 0)
        """#

    @Test(.timeLimit(.minutes(3)))
    func everyReferenceIsAnEntryOfTheSameBundleAndExportsRepeatByteForByte() async throws {
        try await withRecordStore { store, _ in
            _ = try Self.demoStore(store)
            var first: [[UInt8]] = [], second: [[UInt8]] = []
            try store.exportFHIR(now: Self.now) { first.append($0) }
            try store.exportFHIR(now: Self.now) { second.append($0) }
            #expect(first.count == 12 && first == second)
            for bundle in try Self.bundles(store) {
                #expect(bundle["type"] as? String == "collection")
                let fullUrls = Set(Self.entries(bundle).compactMap { $0["fullUrl"] as? String })
                #expect(fullUrls.count == Self.entries(bundle).count)
                for resource in Self.entries(bundle).compactMap({ $0["resource"] as? [String: Any] }) {
                    let contained = Set((resource["contained"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
                    for reference in Self.references(in: resource) {
                        #expect(fullUrls.contains(reference) || reference.hasPrefix("#") && contained.contains(String(reference.dropFirst())),
                                "\(resource["resourceType"] ?? "") \(resource["id"] ?? ""): \(reference)")
                    }
                }
                // Every administration sits in its session's Encounter.
                let encounters = Set(Self.entries(bundle).filter { ($0["resource"] as? [String: Any])?["resourceType"] as? String == "Encounter" }
                    .compactMap { $0["fullUrl"] as? String })
                for administration in Self.resources(bundle, "MedicationAdministration") {
                    let context = (administration["context"] as? [String: Any])?["reference"] as? String
                    #expect(context.map { encounters.contains($0) } == true)
                }
            }
            // One patient alone gives that patient's bundle, the same bytes as in the whole export.
            var one: [[UInt8]] = []
            let written = try store.exportFHIR(patient: ClinicGenerator.patientId(3), now: Self.now) { one.append($0) }
            #expect(written == 1 && one.count == 1)
            #expect(one.first.map { first.contains($0) } == true)
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func esketamineDosesCarryRxNormAndPHQ9ScoresCarryLOINC() async throws {
        try await withRecordStore { store, _ in
            let inputs = try Self.demoStore(store)
            let esketaminePatients = Set(inputs.compactMap { input -> String? in
                guard let dose = input.message as? Ketamine_V1_DoseAdministered, dose.drug == .esketamine else { return nil }
                return input.patientId
            })
            #expect(!esketaminePatients.isEmpty)
            var phq9Seen = false
            for bundle in try Self.bundles(store) {
                guard let patient = Self.patientId(bundle) else {
                    Issue.record("a bundle without its Patient")
                    continue
                }
                let administrations = Self.resources(bundle, "MedicationAdministration")
                let medications = administrations.compactMap { ($0["contained"] as? [[String: Any]])?.first }
                #expect(medications.count == administrations.count)
                let rxnorm = medications.map { Self.codes($0["code"]).contains("http://www.nlm.nih.gov/research/umls/rxnorm|2201623") }
                if esketaminePatients.contains(patient) {
                    #expect(!administrations.isEmpty && rxnorm.allSatisfy { $0 }, "\(patient)")
                    // Each dose's lot is the contained Medication's batch.
                    #expect(medications.allSatisfy { ($0["batch"] as? [String: Any])?["lotNumber"] as? String != nil })
                    let phq9 = Self.resources(bundle, "Observation").filter { Self.codes($0["code"]).contains("http://loinc.org|44261-6") }
                    if let score = phq9.first {
                        phq9Seen = true
                        #expect(score["valueInteger"] as? Int != nil)
                        let components = score["component"] as? [[String: Any]] ?? []
                        #expect(components.count == 9)
                        #expect(components.first.map { Self.codes($0["code"]) } == ["http://loinc.org|44250-9"])
                    }
                } else {
                    // Ketamine has no confirmed RxNorm code: text only.
                    #expect(!rxnorm.contains(true), "\(patient)")
                    #expect(medications.allSatisfy { ($0["code"] as? [String: Any])?["text"] as? String != nil })
                }
            }
            #expect(phq9Seen, "a PHQ-9 total coded 44261-6 for an esketamine patient")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aVoidedVitalsReadingComesOutEnteredInError() async throws {
        try await withRecordStore { store, _ in
            let inputs = try Self.demoStore(store)
            // The generator voids a reading at session 2 of patients 2 and 9 (index mod 7 == 2)
            // and records it anew.
            let voidedIds = Set(inputs.compactMap { ($0.message as? Ketamine_V1_EntryVoided)?.voidedEventID })
            let voidedReadings = inputs.filter { $0.message is Ketamine_V1_VitalsRecorded && voidedIds.contains($0.id) }
            #expect(!voidedReadings.isEmpty)
            let parsed = try Self.bundles(store)
            let bundles = Dictionary(parsed.compactMap { bundle in Self.patientId(bundle).map { ($0, bundle) } },
                                     uniquingKeysWith: { first, _ in first })
            for reading in voidedReadings {
                let observations = Self.resources(try #require(bundles[reading.patientId]), "Observation")
                for part in ["bp", "hr", "spo2", "rr", "moaas"] {
                    let id = FHIRId.make(FHIRId.key(reading.id, part))
                    let observation = try #require(observations.first { $0["id"] as? String == id }, "\(part) of \(reading.id)")
                    #expect(observation["status"] as? String == "entered-in-error")
                }
            }
            // Nothing else is: every other Observation of those patients is final.
            let wrong = Set(voidedReadings.flatMap { reading in ["bp", "hr", "spo2", "rr", "moaas"].map { FHIRId.make(FHIRId.key(reading.id, $0)) } })
            for patient in Set(voidedReadings.map(\.patientId)) {
                let others = Self.resources(try #require(bundles[patient]), "Observation").filter { !wrong.contains($0["id"] as? String ?? "") }
                #expect(others.allSatisfy { $0["status"] as? String == "final" })
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func sessionsConsentsAndSideEffectsMapToTheirResources() async throws {
        try await withRecordStore { store, _ in
            let inputs = try Self.demoStore(store)
            let bundles = try Self.bundles(store)
            let encounters = bundles.flatMap { Self.resources($0, "Encounter") }
            #expect(encounters.contains { $0["status"] as? String == "finished" })
            #expect(encounters.allSatisfy { ($0["class"] as? [String: Any])?["system"] as? String == "http://terminology.hl7.org/CodeSystem/v3-ActCode" })
            // Patient index 5 withdraws their consent before session 4.
            let withdrawn = Self.resources(try #require(bundles.first { Self.patientId($0) == ClinicGenerator.patientId(5) }), "Consent")
            #expect(withdrawn.count == 1 && withdrawn.first?["status"] as? String == "inactive")
            #expect(((withdrawn.first?["provision"] as? [String: Any])?["period"] as? [String: Any])?["end"] as? String != nil)
            // One AdverseEvent per side effect, each suspecting its session's dose.
            let sideEffects = inputs.filter { $0.message is Ketamine_V1_SideEffectObserved }.count
            let adverseEvents = bundles.flatMap { Self.resources($0, "AdverseEvent") }
            #expect(adverseEvents.count == sideEffects)
            #expect(adverseEvents.allSatisfy { ($0["suspectEntity"] as? [[String: Any]])?.count == 1 })
            // Conditions are ICD-10-CM coded, active and confirmed.
            let conditions = bundles.flatMap { Self.resources($0, "Condition") }
            #expect(!conditions.isEmpty && conditions.allSatisfy { Self.codes($0["code"]).first?.hasPrefix("http://hl7.org/fhir/sid/icd-10-cm|") == true })
            #expect(conditions.allSatisfy { Self.codes($0["clinicalStatus"]) == ["http://terminology.hl7.org/CodeSystem/condition-clinical|active"] })
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func forgottenPatientsAreNotExported() async throws {
        try await withRecordStore { store, _ in
            _ = try Self.demoStore(store)
            let patient = ClinicGenerator.patientId(4)
            try await store.forget(patient, reason: "erasure request ER-2026-118", actorId: "u-privacy-1", actorRole: .admin, source: "urn:test")
            let bundles = try Self.bundles(store)
            #expect(bundles.count == 11)
            #expect(!bundles.contains { Self.patientId($0) == patient })
            let written = try store.exportFHIR(patient: patient) { _ in Issue.record("a forgotten patient was exported") }
            #expect(written == 0)
        }
    }
}
