/// Each patient's dosing summary: doses given and milligrams by drug and route, the latest dose.
/// It reads two event types of twenty-two, so a replay of it alone skips most of the log on
/// headers (the "narrow replay" of docs/PERFORMANCE.md).
public struct DosingProjection: PatientProjection {
    public struct Summary: Sendable, Hashable {
        public var doses = 0
        /// Milligrams by drug and route.
        public var milligrams: [DrugAndRoute: Double] = [:]
        public var latestDoseAt: Int64?
        public var wastedMg = 0.0
    }

    public struct DrugAndRoute: Sendable, Hashable {
        public var drug: Ketamine_V1_Drug
        public var route: Ketamine_V1_Route
        /// As docs/EVENTS.md writes them, e.g. `ketamine iv`.
        public var label: String { "\(drug.label) \(route.label)" }
    }

    public init() {}

    public var eventTypes: Set<ClinicalEventType> { [.doseAdministered, .drugWasted] }

    public func makeState(patientId: String) -> Summary { Summary() }

    public func apply(_ event: ReplayedEvent, voided: Bool, to state: inout Summary) {
        guard !voided else { return }
        switch event.payload {
        case .doseAdministered(let dose):
            state.doses += 1
            state.milligrams[DrugAndRoute(drug: dose.drug, route: dose.route), default: 0] += dose.doseMg
            state.latestDoseAt = max(state.latestDoseAt ?? .min, dose.startedAt)
        case .drugWasted(let waste):
            state.wastedMg += waste.amountMg
        default:
            break // declared types only
        }
    }
}
