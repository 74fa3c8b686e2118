import ClinicalRecord
import ClinicService
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The example service against a real store in a temporary directory.
struct ClinicServiceTests {
    static func withService(_ body: (Application<RouterResponder<BasicRequestContext>>, PatientRecordStore) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "clinic-service-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try PatientRecordStore.open(at: directory + "/store", durable: false, keyFile: directory + "/master.key")
        defer { store.close() }
        let app = Application(router: ClinicService(store: store).router())
        try await body(app, store)
    }

    static let staff: HTTPFields = [HTTPField.Name("X-Actor-Id")!: "u-staff-1", HTTPField.Name("X-Actor-Role")!: "staff"]
    static let nurse: HTTPFields = [HTTPField.Name("X-Actor-Id")!: "u-nurse-1", HTTPField.Name("X-Actor-Role")!: "nurse"]

    static let registration = #"""
        {"specversion":"1.0","id":"svc-1","source":"urn:clinic:front-desk","type":"ketamine.v1.PatientRegistered","subject":"P-0001","time":"2026-02-02T08:30:00Z","actorid":"u-staff-1","actorrole":"staff","datacontenttype":"application/json","data":{"givenName":"Ana","familyName":"Ruiz","birthDate":"1980-05-01","sex":"SEX_FEMALE","weightKg":80.0}}
        """#

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    @Test func anEventIsRecordedAndARefusalIsA422NamingTheField() async throws {
        try await Self.withService { app, store in
            try await app.test(.router) { client in
                try await client.execute(uri: "/events", method: .post, headers: Self.staff, body: ByteBuffer(string: Self.registration)) { response in
                    #expect(response.status == .created)
                    let body = try Self.json(response)
                    #expect(body["sequence"] as? Int == 1)
                }
                // The same event again: already stored, nothing written.
                try await client.execute(uri: "/events", method: .post, headers: Self.staff, body: ByteBuffer(string: Self.registration)) { response in
                    #expect(response.status == .ok)
                    let body = try Self.json(response)
                    #expect(body["alreadyStored"] as? Bool == true)
                }
                // A weight of 900 kg is refused with the field and the reason.
                let heavy = Self.registration.replacingOccurrences(of: "svc-1", with: "svc-2").replacingOccurrences(of: "80.0", with: "900.0")
                    .replacingOccurrences(of: "P-0001", with: "P-0002")
                try await client.execute(uri: "/events", method: .post, headers: Self.staff, body: ByteBuffer(string: heavy)) { response in
                    #expect(response.status == .unprocessableContent)
                    let body = try Self.json(response)
                    #expect(body["field"] as? String == "data.weightKg")
                }
                // Someone else's event is not the caller's to record.
                try await client.execute(uri: "/events", method: .post, headers: Self.nurse, body: ByteBuffer(string: Self.registration)) { response in
                    #expect(response.status == .forbidden)
                }
                try await client.execute(uri: "/events", method: .post, body: ByteBuffer(string: Self.registration)) { response in
                    #expect(response.status == .unauthorized)
                }
            }
            #expect(try store.head() == 1)
        }
    }

    @Test func aPatientsRecordIsAFHIRBundleAndTheReadIsOnTheRecordFirst() async throws {
        try await Self.withService { app, store in
            try await app.test(.router) { client in
                try await client.execute(uri: "/events", method: .post, headers: Self.staff, body: ByteBuffer(string: Self.registration)) { response in
                    #expect(response.status == .created)
                }
                try await client.execute(uri: "/patients/P-0001", method: .get, headers: Self.nurse) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType] == "application/fhir+json")
                    let bundle = try Self.json(response)
                    #expect(bundle["resourceType"] as? String == "Bundle")
                }
                try await client.execute(uri: "/patients/NOBODY", method: .get, headers: Self.nurse) { response in
                    #expect(response.status == .notFound)
                }
                try await client.execute(uri: "/audit?patient=P-0001", method: .get, headers: Self.nurse) { response in
                    #expect(response.status == .ok)
                    let entries = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]])
                    // The registration, the nurse's read of the record, and the read of this trail.
                    #expect(entries.map { $0["action"] as? String } == ["create", "read", "read"])
                    #expect(entries.dropFirst().allSatisfy { $0["actorId"] as? String == "u-nurse-1" })
                }
            }
            #expect(try store.head() == 3)
        }
    }

    @Test func newEventsArriveAsServerSentEvents() async throws {
        try await Self.withService { app, _ in
            try await app.test(.router) { client in
                try await client.execute(uri: "/events", method: .post, headers: Self.staff, body: ByteBuffer(string: Self.registration)) { response in
                    #expect(response.status == .created)
                }
                try await client.execute(uri: "/patients/P-0001", method: .get, headers: Self.nurse) { response in
                    #expect(response.status == .ok)
                }
                try await client.execute(uri: "/events/live?from=1&limit=2", method: .get, headers: Self.nurse) { response in
                    #expect(response.headers[.contentType] == "text/event-stream")
                    let text = String(buffer: response.body)
                    #expect(text.hasPrefix("id: 1\nevent: PatientRegistered\ndata: {\"patient\":\"P-0001\",\"sequence\":1,\"type\":\"PatientRegistered\"}\n\n"))
                    #expect(text.contains("id: 2\nevent: RecordAccessed\n"))
                }
            }
        }
    }
}
