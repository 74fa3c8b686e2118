@_spi(RawRecords) @testable import ClinicalRecord
@_spi(RawRecords) @testable import EventStore
import Foundation
import LMDB
import TestSupport
import Testing

/// The record's side of the store's integrity: ids compared as bytes, indexes and markers that
/// verify or refuse, and forgetting that leaves no copy of the key in the live file.
struct RecordIntegrityTests {
    static let nfc = "Jos\u{E9}"
    static let nfd = "Jose\u{301}"

    /// Finding 4: "José" precomposed and decomposed are one Swift `String` but two LMDB keys.
    /// Ids the writer gives must be NFC; a store that holds both (written before the rule, or
    /// through the log directly) is read as two patients everywhere: replay, export, state.
    @Test func precomposedAndDecomposedIdsAreTwoPatientsAndNewDecomposedIdsAreRefused() async throws {
        #expect(Self.nfc == Self.nfd && Array(Self.nfc.utf8) != Array(Self.nfd.utf8))
        try await withRecordStore { store, directory in
            let registration = sampleRegistration()
            func input(_ patient: String, id: String) -> ClinicalEventInput {
                ClinicalEventInput(id: id, source: "urn:test", patientId: patient, time: 1_700_000_000_000_000_000,
                                   actorId: "u-staff-1", actorRole: .staff, message: registration)
            }
            // The rule on the way in, on both paths.
            await #expect(throws: EventValidationError.self) { try await store.record(input(Self.nfd, id: "nfd-1")) }
            do {
                try await store.record(input(Self.nfd, id: "nfd-1"))
            } catch let error as EventValidationError {
                #expect(error.field == "subject" && error.reason.contains("NFC"))
            }
            let line = try exportLine(of: input(Self.nfd, id: "nfd-2"))
            let file = directory + "/nfd.ndjson"
            try line.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(throws: EventValidationError.self) { try store.importEvents(fromFile: file) }

            // A store holding both spellings, written through the log.
            try await store.record(input(Self.nfc, id: "nfc-1"))
            let event = try EventCodec.newEvent(for: input(Self.nfd, id: "nfd-3"), type: .patientRegistered)
            try await store.events.append([event], to: Self.nfd, expectedVersion: .noStream)
            #expect(try store.events.streamVersion(Self.nfc) == 1 && store.events.streamVersion(Self.nfd) == 1)

            var replay = ClinicalReplay()
            let states = replay.add(PatientStateProjection())
            let result = try await replay.run(store)
            var patients: [[UInt8]] = []
            result.forEachState(of: states) { patient, state in
                patients.append(Array(patient.utf8))
                #expect(state.patientId.utf8.elementsEqual(patient.utf8))
            }
            #expect(Set(patients) == [Array(Self.nfc.utf8), Array(Self.nfd.utf8)])
            #expect(result.unreadable.isEmpty)
            let exported = try exportText(store)
            #expect(exported.split(separator: "\n").count == 2, "\(exported)")
            #expect(try store.patientState(Self.nfc)?.registration?.givenName == "Ana")
            #expect(try store.patientState(Self.nfd)?.registration?.givenName == "Ana")
            #expect(try store.events(ofPatient: Self.nfd).map(\.id) == ["nfd-3"])
            #expect(try store.disclosures(of: Self.nfd).isEmpty)
        }
    }

    func exportLine(of input: ClinicalEventInput) throws -> String {
        #"{"specversion":"1.0","id":"\#(input.id)","source":"urn:test","type":"ketamine.v1.PatientRegistered","subject":"\#(input.patientId)","time":"2023-11-14T22:13:20Z","actorid":"u-staff-1","actorrole":"staff","data":{"givenName":"Ana","familyName":"Ruiz","birthDate":"1980-05-01","sex":"SEX_FEMALE","weightKg":70}}"# + "\n"
    }

    /// Finding 5: a changed entry in the clinical-references index passed verify (and then let
    /// validation accept vitals for a session never scheduled). Verify now rebuilds the index
    /// from the log and names the entries that differ.
    @Test func verifyFindsAChangedEntryInTheClinicalReferences() async throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/store"
            do {
                let store = try PatientRecordStore.open(at: path, durable: false)
                try store.importEvents(fromFile: Sample.path)
                #expect(try store.verify().isIntact)
                store.close()
            }
            // One byte of a session's key changed, as a flip on disk would: S1 becomes S9.
            let env = try Environment(path: path)
            let index = try #require(try env.openDatabase(named: References.index, create: false))
            let real = References.key(patient: "EX-IV-1", kind: .session, id: "EX-IV-1-S1")
            var forged = real
            forged[forged.count - 1] = UInt8(ascii: "9")
            try env.write { txn in
                let value = try #require(try txn.bytes(forKey: real, in: index))
                try txn.delete(forKey: real, in: index)
                try txn.put(value, forKey: forged, in: index)
            }
            let store = try PatientRecordStore.open(at: path, readOnly: true)
            let result = try store.verify()
            #expect(result.log.isIntact)
            #expect(!result.isIntact)
            #expect(result.problems.contains { $0.contains("lacks the entry EX-IV-1 / session / EX-IV-1-S1") }, "\(result.problems)")
            #expect(result.problems.contains { $0.contains("EX-IV-1-S9, which no event defines") }, "\(result.problems)")
        }
    }

    /// Finding 5: a changed byte in the master-key-check entry made a sealed store open with no
    /// key, and new PHI was then written unsealed. The sealing marker now refuses that.
    @Test(arguments: ["master-key-check", "sealing"])
    func aSealedStoreWhoseMarkerIsDamagedIsRefusedNotOpenedUnsealed(entry: String) async throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/store"
            do {
                let store = try PatientRecordStore.open(at: path, durable: false)
                try store.importEvents(fromFile: Sample.path)
                store.close()
            }
            let env = try Environment(path: path)
            let meta = try #require(try env.openDatabase(named: "meta", create: false))
            try env.write { txn in
                let value = try #require(try txn.bytes(forKey: Array(entry.utf8), in: meta))
                try txn.delete(forKey: Array(entry.utf8), in: meta)
                var renamed = Array(entry.utf8)
                renamed[renamed.count - 2] ^= 0x01
                try txn.put(value, forKey: renamed, in: meta)
            }
            for readOnly in [false, true] {
                #expect {
                    try PatientRecordStore.open(at: path, readOnly: readOnly, sealing: false)
                } throws: { error in
                    (error as? EventStoreError)?.code == .damaged && "\(error)".contains("restore")
                }
            }
        }
    }

    /// Finding 7: right after forget, the old wrapped key sat in a free page of the live file and
    /// decrypted the forgotten patient's entries. Now no 16-byte piece of it is anywhere in the file.
    @Test func forgettingLeavesNoPieceOfTheKeyInTheLiveFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            let store = try PatientRecordStore.open(at: path)
            defer { store.close() }
            try await store.importEvents(fromFile: Sample.path)
            let env = store.events
            let wrapped = try env.read { reader in
                try #require(try reader.txn.bytes(forKey: Array("EX-IV-1".utf8), in: reader.layout.sealing!.keys)).prefix(61)
            }
            try await store.forget("EX-IV-1", reason: "erasure request ER-1", actorId: "privacy-officer", actorRole: .admin, source: "urn:test")
            let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb")))
            for start in stride(from: 1, to: wrapped.count - 16, by: 4) {
                let piece = Array(wrapped[wrapped.startIndex + start ..< wrapped.startIndex + start + 16])
                #expect(!contains(file, piece), "a piece of the destroyed key is in the live file")
            }
            #expect(try store.verify().isIntact)
        }
    }

    func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= haystack.count else { return false }
        var index = 0
        while index <= haystack.count - needle.count {
            if haystack[index] == first && haystack[index ..< index + needle.count].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}
