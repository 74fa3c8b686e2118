import ClinicalRecord
import EventStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The routes of a clinic service that embeds a ``PatientRecordStore``:
///
/// - `POST /events`: one event as a CloudEvents JSON object (the store's interchange format).
///   201 with its position; 422 with the field and the reason when the store refuses it (nothing
///   is written); 403 when the caller is not the event's actor.
/// - `GET /patients/{id}`: the patient's clinical record as a FHIR R4 Bundle. The read is
///   recorded (a `RecordAccessed`) before anything is sent.
/// - `GET /audit?patient={id}`: that patient's audit trail as JSON, recorded as a read too.
/// - `GET /events/live?from={sequence}&limit={n}`: the log's new events as Server-Sent Events,
///   from `subscribe(from:)` (headers only: sequence, type, patient; no payload). Without
///   `limit` the stream stays open and follows new commits.
///
/// Who calls is taken from `X-Actor-Id` and `X-Actor-Role` (a real service takes them from its
/// authentication); the purpose of a read from `X-Purpose-Of-Use` (default `treatment`).
///
/// The store's calls that take a write transaction (recording, recording a read) block the
/// calling thread for one durable commit (about a millisecond); the store groups concurrent
/// commits.
public struct ClinicService: Sendable {
    public let store: PatientRecordStore
    /// The `source` of the reads this service records.
    public let source: String

    public init(store: PatientRecordStore, source: String = "urn:clinic:clinic-service") {
        self.store = store
        self.source = source
    }

    /// Who is calling, from the request's headers.
    struct Caller {
        let id: String
        let role: ActorRole
        let purpose: Ketamine_V1_AccessPurpose
    }

    static func caller(_ request: Request) throws -> Caller {
        guard let id = request.headers[HTTPField.Name("X-Actor-Id")!], !id.isEmpty,
              let roleText = request.headers[HTTPField.Name("X-Actor-Role")!], let role = ActorRole(rawValue: roleText) else {
            throw HTTPError(.unauthorized, message: "X-Actor-Id and X-Actor-Role (one of \(ActorRole.allCases.map(\.rawValue).joined(separator: ", "))) are required")
        }
        let purpose: Ketamine_V1_AccessPurpose
        switch request.headers[HTTPField.Name("X-Purpose-Of-Use")!] ?? "treatment" {
        case "treatment": purpose = .treatment
        case "payment": purpose = .payment
        case "operations": purpose = .operations
        case "audit": purpose = .audit
        case "patient_request": purpose = .patientRequest
        case let other: throw HTTPError(.badRequest, message: "X-Purpose-Of-Use \(other) is not treatment, payment, operations, audit or patient_request")
        }
        return Caller(id: id, role: role, purpose: purpose)
    }

    static func json(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("events") { request, context in try await self.record(request, context) }
        router.get("patients/:id") { request, context in try await self.patient(request, context) }
        router.get("audit") { request, context in try await self.audit(request, context) }
        router.get("events/live") { request, context in try await self.live(request, context) }
        return router
    }

    func record(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try Self.caller(request)
        let body = try await request.body.collect(upTo: 1 << 20)
        let input: ClinicalEventInput
        do {
            input = try CloudEventCodec.decode(Array(buffer: body))
        } catch {
            return Self.json(.unprocessableContent, ["field": error.field, "reason": error.reason])
        }
        guard input.actorId == caller.id, input.actorRole == caller.role else {
            return Self.json(.forbidden, ["reason": "the event's actor is not the caller"])
        }
        do {
            let recorded = try await store.record(input)
            return Self.json(recorded.wasAlreadyStored ? .ok : .created,
                             ["sequence": recorded.sequence, "streamVersion": recorded.streamVersion, "alreadyStored": recorded.wasAlreadyStored])
        } catch let error as EventValidationError {
            context.logger.info("event refused", metadata: ["field": "\(error.field)"])
            return Self.json(.unprocessableContent, ["field": error.field, "reason": error.reason])
        }
    }

    func patient(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try Self.caller(request)
        let id = try context.parameters.require("id")
        guard try store.patientState(id) != nil else { throw HTTPError(.notFound, message: "no record of patient \(id)") }
        // On the record before it is shown.
        try store.recordRead(RecordRead(actorId: caller.id, actorRole: caller.role, purpose: caller.purpose,
                                        description: "Record read as FHIR by the clinic service", source: source), of: [id])
        var bundle: [UInt8] = []
        try store.exportFHIR(patient: id) { bundle = $0 }
        return Response(status: .ok, headers: [.contentType: "application/fhir+json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bundle)))
    }

    func audit(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try Self.caller(request)
        guard let patient = request.uri.queryParameters.get("patient") else { throw HTTPError(.badRequest, message: "?patient= is required") }
        try store.recordRead(RecordRead(actorId: caller.id, actorRole: caller.role, purpose: caller.purpose,
                                        description: "Audit trail read by the clinic service", source: source), of: [patient])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(try store.auditTrail(AuditQuery(patientId: patient)))
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    func live(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try Self.caller(request)
        let from = request.uri.queryParameters.get("from", as: UInt64.self) ?? 1
        let limit = request.uri.queryParameters.get("limit", as: Int.self)
        let subscription = store.subscribe(from: from)
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: ResponseBody { writer in
            var sent = 0
            for try await event in subscription {
                if let limit, sent >= limit { break }
                let type = ClinicalEventType(rawValue: event.type)?.name ?? "type \(event.type)"
                let data = (try? JSONSerialization.data(withJSONObject: ["sequence": event.sequence, "type": type, "patient": event.streamId], options: [.sortedKeys])) ?? Data()
                try await writer.write(ByteBuffer(string: "id: \(event.sequence)\nevent: \(type)\ndata: " + String(decoding: data, as: UTF8.self) + "\n\n"))
                sent += 1
                if let limit, sent >= limit { break }
            }
            try await writer.finish(nil)
        })
    }
}
