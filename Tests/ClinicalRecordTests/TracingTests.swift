import ClinicalRecord
import Foundation
import InMemoryTracing
import Testing
import Tracing

/// Recording an event runs in the host's tracer: the event's own trace context is handed to the
/// host's instrument to extract, and the append is a child of the record's span.
struct TracingTests {
    /// The process's tracer can be bootstrapped once: every test of this process shares it.
    static let tracer: InMemoryTracer = {
        let tracer = InMemoryTracer()
        InstrumentationSystem.bootstrap(tracer)
        return tracer
    }()

    @Test func anEventsTraceparentReachesTheTracerAndTheAppendIsAChildOfTheRecord() async throws {
        let tracer = Self.tracer
        try await withRecordStore { store, _ in
            var input = ClinicalEventInput(source: "urn:test", patientId: "TRACE-1", time: ClinicalTime.parse("2026-01-05T08:00:00Z") ?? 0,
                                           actorId: "u-staff-1", actorRole: .staff, message: sampleRegistration(familyName: "Traced"))
            let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            input.traceparent = traceparent
            try await store.record(input)

            let extracted = tracer.performedContextExtractions.compactMap { $0.carrier as? [String: String] }
            #expect(extracted.contains { $0["traceparent"] == traceparent })
            let finished = tracer.finishedSpans
            let record = try #require(finished.last { $0.operationName == "PatientRecordStore.record" })
            #expect(finished.contains { $0.operationName == "EventStore.append" && $0.traceID == record.traceID && $0.parentSpanID == record.spanID })
        }
    }
}
