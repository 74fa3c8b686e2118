import ClinicGenerator
import ClinicalRecord
import Testing

struct GeneratorTests {
    @Test func theSameSeedGivesTheSameHistoryAndAnotherSeedAnother() {
        let first = ClinicGenerator(seed: 3, patients: 6).allEvents()
        let again = ClinicGenerator(seed: 3, patients: 6).allEvents()
        let other = ClinicGenerator(seed: 4, patients: 6).allEvents()
        #expect(first.map(\.id) == again.map(\.id))
        #expect(first.map(\.time) == again.map(\.time))
        #expect(first.map(\.id) != other.map(\.id))
        #expect(first.map(\.time) == first.map(\.time).sorted())
    }

    @Test func theDemoClinicCoversEveryModalityAndRecordsCleanly() async throws {
        try await withRecordStore { store, _ in
            let inputs = ClinicGenerator(seed: 42, patients: 40).allEvents()
            let summary = try store.importEvents(inputs)
            #expect(summary.imported == inputs.count)
            let doses = inputs.compactMap { $0.message as? Ketamine_V1_DoseAdministered }
            #expect(Set(doses.map(\.route)) == [.iv, .im, .intranasal])
            #expect(Set(doses.map(\.drug)) == [.ketamine, .esketamine])
            #expect(inputs.contains { $0.message is Ketamine_V1_ConsentWithdrawn })
            #expect(inputs.contains { $0.message is Ketamine_V1_EntryVoided })
            #expect(inputs.contains { ($0.message as? Ketamine_V1_RecordAccessed)?.purpose == .disclosure })
            let improving = try (0..<40).compactMap { try store.patientState(ClinicGenerator.patientId($0)) }
                .compactMap { $0.instruments.first { $0.instrument == .phq9 } }
                .filter { ($0.changeFromBaseline ?? 0) < 0 }
            #expect(improving.count > 20, "most patients' PHQ-9 should improve")
        }
    }
}
