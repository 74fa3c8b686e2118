import EventStore
import Foundation
import TestSupport
import Testing

struct ReadmeExampleTests {
    // README example: begin
    func readmeExample(storeDirectory: String) async throws -> [String] {
        let store = try EventStore.open(at: storeDirectory)
        defer { store.close() }

        // Durable before it returns; concurrent appends share one commit.
        let result = try await store.append(
            [NewEvent(id: "evt-1", type: 1, occurredAt: 0, actor: "u-nurse-1", payload: Array("hello".utf8))],
            to: "P-0001", expectedVersion: .noStream)
        print("stored at sequence", result.positions[0].sequence)

        // Read one stream back, then check the hash chain.
        let history = try store.events(inStream: "P-0001")
        let report = try store.verify()
        return report.isIntact ? history.map(\.id) : []
    }
    // README example: end

    @Test func theReadmeExampleRuns() async throws {
        try await withTemporaryDirectory { directory async throws in
            #expect(try await readmeExample(storeDirectory: directory + "/store") == ["evt-1"])
        }
    }

    @Test func theReadmeShowsThisExampleVerbatim() throws {
        try expectReadmeShowsExample(of: #filePath, alsoIn: "Sources/EventStore/EventStore.docc/EventStore.md")
    }
}
