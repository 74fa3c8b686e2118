@_spi(RawRecords) import ClinicalRecord
import EventStore
import Foundation
import SwiftProtobuf
import Testing

/// The interchange read and written by the CloudEvents SDK for Python (`cloudevents`, which
/// tools/test installs): every exported line parses as a structured CloudEvent whose `sequence`
/// sorts as text in log order, and a file the SDK wrote, with `dataschema`, extension attributes
/// (`traceparent`), a media type with parameters and binary protobuf in `data_base64`, imports
/// and comes back out with the same attributes and data.
struct CloudEventsSDKTests {
    static var pythonHasCloudEvents: Bool { pythonCanImport("cloudevents.http") }

    static let reader = #"""
        import sys
        from cloudevents.http import from_json
        count, previous = 0, None
        for line in open(sys.argv[1], encoding="utf-8"):
            event = from_json(line)
            assert event["specversion"] == "1.0"
            for name in ("id", "source", "type", "subject", "time", "sequence", "chainhash"):
                assert event.get(name), (name, line[:120])
            # JSON data as an object; an event that came in as binary protobuf goes out so.
            binary = event.get("datacontenttype") == "application/protobuf"
            assert isinstance(event.data, bytes if binary else dict), line[:120]
            sequence = event["sequence"]
            assert previous is None or (previous < sequence and int(previous) < int(sequence)), (previous, sequence)
            previous = sequence
            count += 1
        print(count, previous)
        """#

    @Test(.enabled(if: pythonHasCloudEvents, "needs python3 with cloudevents (tools/test installs it)"), .timeLimit(.minutes(2)))
    func everyExportedLineIsACloudEventTheSDKReadsInOrder() async throws {
        try await withRecordStore { store, directory in
            // Past sequence 9 and 10, where numbers written without padding stop sorting as text.
            try store.importEvents(fromFile: samplePath)
            let file = directory + "/export.ndjson"
            try exportText(store).write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try runPython(Self.reader, [file]) == "128 " + CloudEventCodec.sequenceText(128))
        }
    }

    /// Writes the events with the SDK: one with JSON data under a media type with parameters,
    /// `dataschema` and W3C trace context; one whose data is the binary protobuf of the message.
    static let writer = #"""
        import sys, base64
        from cloudevents.http import CloudEvent
        from cloudevents.conversion import to_json
        protobuf = base64.b64decode(open(sys.argv[1]).read())
        common = {"source": "urn:clinic:sdk", "subject": "SDK-1", "actorid": "u-staff-1", "actorrole": "staff"}
        registered = CloudEvent({**common, "id": "sdk-1", "type": "ketamine.v1.PatientRegistered",
                                 "time": "2026-03-02t08:30:00z",
                                 "datacontenttype": "application/json; charset=utf-8",
                                 "dataschema": "https://example.org/schemas/patient-registered.json",
                                 "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                 "tracestate": "clinic=1"},
                                {"givenName": "Ana", "familyName": "Sdk", "birthDate": "1980-05-01", "sex": "SEX_FEMALE", "weightKg": 70.0})
        history = CloudEvent({**common, "id": "sdk-2", "type": "ketamine.v1.MedicalHistoryRecorded", "actorid": "u-psy-1",
                              "actorrole": "psychiatrist", "time": "2026-03-02T08:50:00Z", "datacontenttype": "application/protobuf"},
                             protobuf)
        with open(sys.argv[2], "wb") as out:
            for event in (registered, history):
                out.write(to_json(event) + b"\n")
        print(open(sys.argv[2]).read().count("data_base64"))
        """#

    @Test(.enabled(if: pythonHasCloudEvents, "needs python3 with cloudevents (tools/test installs it)"), .timeLimit(.minutes(2)))
    func aFileTheSDKWroteImportsAndComesBackWithItsAttributes() async throws {
        try await withRecordStore { store, directory in
            var history = Ketamine_V1_MedicalHistoryRecorded()
            var condition = Ketamine_V1_Condition()
            condition.code = "F33.2"
            condition.display = "Major depressive disorder, recurrent, severe"
            history.conditions = [condition]
            let protobuf = directory + "/history.b64", file = directory + "/sdk.ndjson"
            try Data(try history.serializedBytes() as [UInt8]).base64EncodedString().write(toFile: protobuf, atomically: true, encoding: .utf8)
            #expect(try runPython(Self.writer, [protobuf, file]) == "1")

            let summary = try store.importEvents(fromFile: file)
            #expect(summary.imported == 2)
            let lines = try exportText(store).split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            }
            #expect(lines.count == 2)
            let registered = try #require(lines.first)
            #expect(registered["dataschema"] as? String == "https://example.org/schemas/patient-registered.json")
            #expect(registered["traceparent"] as? String == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            #expect(registered["tracestate"] as? String == "clinic=1")
            // Lowercase t and z are RFC 3339; the export writes the canonical form.
            #expect(registered["time"] as? String == "2026-03-02T08:30:00Z")
            #expect((registered["data"] as? [String: Any])?["familyName"] as? String == "Sdk")
            // The protobuf payload became the same message.
            let stored = try #require(try store.events(ofPatient: "SDK-1").last)
            #expect(stored.type == .medicalHistoryRecorded)
            #expect((stored.message as? Ketamine_V1_MedicalHistoryRecorded) == history)
            // And the SDK reads the export back.
            let exported = directory + "/export.ndjson"
            try exportText(store).write(toFile: exported, atomically: true, encoding: .utf8)
            #expect(try runPython(Self.reader, [exported]) == "2 " + CloudEventCodec.sequenceText(2))
        }
    }
}
