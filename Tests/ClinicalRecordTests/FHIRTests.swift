@_spi(RawRecords) import ClinicalRecord
import EventStore
import Foundation
import Testing

/// The FHIR export is checked by an independent implementation of the FHIR models: the Python
/// package fhir.resources (R4B, whose AuditEvent and Bundle are R4's), which tools/test installs.
struct FHIRTests {
    /// Validates the bundle with the R4B models, then checks by hand what the models do not:
    /// the IHE BALP pattern each event claims in meta.profile (its type and subtype, agents by
    /// their DICOM or v3-ParticipationType codes with network where BALP requires it, the
    /// patient and data entities), val-audit-source for disclosures, ids and fullUrls, and that
    /// no entity describes more than the event's type.
    static let validator = #"""
        import sys, json, re
        import fhir_core.constraints
        fhir_core.constraints.TYPES_ID_MAX_LENGTH = 64
        from fhir.resources.R4B.bundle import Bundle
        raw = json.load(open(sys.argv[1]))
        bundle = Bundle.model_validate(raw)
        assert bundle.type == "collection"
        BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
        DCM = "http://dicom.nema.org/resources/ontology/DCM"
        PT = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
        UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        problems, profiles, actions, purposes = [], {}, set(), set()
        def codes(concept):
            return [(c.get("system"), c.get("code")) for c in (concept or {}).get("coding", [])]
        def agents(event, system, code):
            return [a for a in event["agent"] if (system, code) in codes(a["type"])]
        urls = [e["fullUrl"] for e in raw["entry"]]
        if len(set(urls)) != len(urls): problems.append("fullUrls repeat")
        for entry in raw["entry"]:
            e = entry["resource"]
            where = e["id"]
            if not UUID.match(entry["fullUrl"]): problems.append(where + ": fullUrl " + entry["fullUrl"])
            profile = e["meta"]["profile"][0][len(BALP):]
            profiles[profile] = profiles.get(profile, 0) + 1
            actions.add(e["action"])
            for p in e.get("purposeOfEvent", []):
                purposes.update(code for _, code in codes(p))
            sub = [code for _, code in [(c.get("system"), c["code"]) for c in e["subtype"]]]
            if profile == "PrivacyDisclosure.Source":
                if (DCM, "110106") != (e["type"]["system"], e["type"]["code"]): problems.append(where + ": type")
                if "disclose" not in sub: problems.append(where + ": subtype")
                source = agents(e, DCM, "110153")
                if len(source) != 1 or source[0]["who"] != e["source"]["observer"]: problems.append(where + ": val-audit-source")
                if len(agents(e, DCM, "110152")) != 1: problems.append(where + ": recipient agent")
            else:
                expected = {"PatientCreate": ("create", "C", "AUT"), "PatientRead": ("read", "R", "IRCP"), "PatientUpdate": ("update", "U", "AUT")}[profile]
                if e["type"]["code"] != "rest" or sub != [expected[0]] or e["action"] != expected[1]: problems.append(where + ": type/subtype/action")
                for code in ("110152", "110153"):
                    found = agents(e, DCM, code)
                    if len(found) != 1 or "network" not in found[0] or "who" not in found[0]: problems.append(where + ": agent " + code)
                users = agents(e, PT, expected[2])
                if len(users) != 1 or users[0]["requestor"] is not True or not users[0].get("role"): problems.append(where + ": user agent")
            patient = [x for x in e["entity"] if x["type"]["code"] == "1" and x.get("role", {}).get("code") == "1"]
            if len(patient) != 1 or not patient[0]["what"]["reference"].startswith("Patient/"): problems.append(where + ": patient entity")
            data = [x for x in e["entity"] if x["type"]["code"] == "2" and x.get("role", {}).get("code") == "4"]
            if len(data) != 1: problems.append(where + ": data entity")
            for x in e["entity"]:
                if "description" in x and not re.match(r"^[A-Za-z]+$", x["description"]): problems.append(where + ": description " + x["description"])
        print(len(raw["entry"]), ",".join(sorted(actions)), ",".join(sorted(purposes)),
              ",".join("%s=%d" % (k, v) for k, v in sorted(profiles.items())))
        for problem in problems[:20]: print(problem, file=sys.stderr)
        sys.exit(1 if problems else 0)
        """#

    static var pythonHasFHIRModels: Bool { pythonCanImport("fhir.resources.R4B.bundle") }

    @Test(.enabled(if: pythonHasFHIRModels, "needs python3 with fhir.resources (tools/test installs it)"))
    func theAuditTrailExportsAsAFHIRBundleThatValidates() async throws {
        try await withRecordStore { store, directory in
            try await store.importEvents(fromFile: samplePath)
            var access = Ketamine_V1_RecordAccessed()
            access.purpose = .disclosure
            access.disclosedTo = "County health department"
            access.description_p = "Adverse event report"
            try await store.record(ClinicalEventInput(source: "urn:test", patientId: "EX-IV-1", time: 0, actorId: "u-staff-1", actorRole: .staff, message: access))
            var void = Ketamine_V1_EntryVoided()
            void.voidedEventID = "5071950e-adec-6f11-7d83-6e77af67d461"
            void.reason = "wrong minute"
            try await store.record(ClinicalEventInput(source: "urn:test", patientId: "EX-IV-1", time: 0, actorId: "u-nurse-1", actorRole: .nurse, message: void))
            let file = directory + "/bundle.json"
            var audit = Ketamine_V1_RecordAccessed()
            audit.purpose = .audit
            audit.description_p = "Quarterly audit"
            try await store.record(ClinicalEventInput(source: "urn:test", patientId: "EX-IV-1", time: 0, actorId: "u-auditor-7", actorRole: .auditor, message: audit))
            try FHIRAuditBundle.json(for: try store.auditTrail(), storeId: store.events.storeId).write(to: URL(fileURLWithPath: file))

            let printed = try runPython(Self.validator, [file])
            #expect(printed
                == "131 C,R,U HCOMPL PatientCreate=128,PatientRead=1,PatientUpdate=1,PrivacyDisclosure.Source=1")
        }
    }

    @Test func eachEntryBecomesAnAuditEventWithItsAgentAndPatient() async throws {
        try await withRecordStore { store, _ in
            try store.importEvents(fromFile: samplePath)
            let data = try FHIRAuditBundle.json(for: try store.auditTrail(AuditQuery(limit: 1)), bundleId: "b-1")
            let bundle = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(bundle["resourceType"] as? String == "Bundle")
            let entries = try #require(bundle["entry"] as? [[String: Any]])
            let event = try #require(entries.first?["resource"] as? [String: Any])
            #expect(event["resourceType"] as? String == "AuditEvent")
            #expect(event["action"] as? String == "C")
            #expect((event["meta"] as? [String: Any])?["profile"] as? [String] == ["https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientCreate"])
            // The user who recorded it: v3-ParticipationType AUT, their id, their role coded.
            let agents = try #require(event["agent"] as? [[String: Any]])
            let user = try #require(agents.first { ($0["type"] as? [String: Any]).map { "\($0)".contains("AUT") } == true })
            let who = try #require(user["who"] as? [String: Any])
            #expect((who["identifier"] as? [String: Any])?["value"] as? String == who["display"] as? String)
            #expect(((user["role"] as? [[String: Any]])?.first?["coding"] as? [[String: Any]])?.first?["system"] as? String == FHIRAuditBundle.roleSystem)
            let entity = try #require((event["entity"] as? [[String: Any]])?.first)
            #expect(((entity["what"] as? [String: Any])?["reference"] as? String)?.hasPrefix("Patient/") == true)
            // The registration's summary holds the patient's name: no entity repeats it.
            let summary = try #require(try store.auditTrail(AuditQuery(limit: 1)).first?.summary)
            #expect(!String(decoding: data, as: UTF8.self).contains(summary))
        }
    }
}
