@_spi(RawRecords) import ClinicalRecord
import ClinicGenerator
import EventStore
import Foundation
import SwiftProtobuf
import Testing

struct RoundTripTests {
    /// One example of every event type: the generator's history covers most, the rest are added.
    static func examples() -> [ClinicalEventInput] {
        var inputs = ClinicGenerator(seed: 7, patients: 8).allEvents()
        let patient = ClinicGenerator.patientId(0)
        var details = Ketamine_V1_PatientDetailsUpdated()
        details.phone = "+1-555-0101"
        details.weightKg = 71.5
        var medication = Ketamine_V1_MedicationChanged()
        medication.name = "sertraline"
        medication.medicationClass = .ssri
        medication.change = .doseChanged
        medication.dose = "50 mg"
        var cancel = Ketamine_V1_SessionCancelled()
        cancel.sessionID = "\(patient)-S1"
        cancel.reason = "Patient unwell"
        var forgotten = Ketamine_V1_PatientForgotten()
        forgotten.reason = "erasure request ER-1"
        for message in [details, medication, cancel, forgotten] as [any SwiftProtobuf.Message] {
            inputs.append(ClinicalEventInput(source: "urn:test", patientId: patient, time: 1, actorId: "u-phys-1", actorRole: .physician, message: message))
        }
        return inputs
    }

    @Test func everyEventTypeRoundTripsThroughBinaryAndJSON() throws {
        let inputs = Self.examples()
        let covered = Set(inputs.compactMap(\.type))
        #expect(covered == Set(ClinicalEventType.allCases), "missing: \(Set(ClinicalEventType.allCases).subtracting(covered))")
        for type in ClinicalEventType.allCases {
            let message = try #require(inputs.first { $0.type == type }?.message)
            let bytes: [UInt8] = try message.serializedBytes()
            let binary = try type.messageType.init(serializedBytes: bytes)
            #expect(binary.isEqualTo(message: message), "\(type.name) binary")
            let json = try type.messageType.init(jsonString: try message.jsonString())
            #expect(json.isEqualTo(message: message), "\(type.name) JSON")
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func aGeneratedStoreOfAHundredThousandEventsRoundTrips() async throws {
        try await withRecordStore { store, directory in
            let generator = ClinicGenerator(seed: 11, patients: 1_650, months: 6)
            var written = 0
            for index in 0..<generator.patients {
                written += try store.importEvents(generator.events(forPatient: index)).imported
            }
            #expect(written >= 100_000)
            let file = directory + "/export.ndjson"
            #expect(FileManager.default.createFile(atPath: file, contents: nil))
            let out = try #require(FileHandle(forWritingAtPath: file))
            try store.exportEvents { out.write(Data($0.utf8)) }
            try out.close()
            let copy = try PatientRecordStore.open(at: directory + "/copy", durable: false)
            defer { copy.close() }
            #expect(try copy.importEvents(fromFile: file).imported == written)
            let first = try String(contentsOfFile: file, encoding: .utf8)
            let second = try exportText(copy)
            #expect(withoutStoreAssignedTimes(first) == withoutStoreAssignedTimes(second))
        }
    }

    @Test func onePatientsExportHoldsOnlyThatPatient() async throws {
        try await withRecordStore { store, _ in
            try store.importEvents(fromFile: samplePath)
            let lines = try exportText(store, patient: "EX-ESK-1").split(separator: "\n")
            #expect(!lines.isEmpty)
            #expect(lines.allSatisfy { $0.contains("\"subject\":\"EX-ESK-1\"") })
        }
    }
}
