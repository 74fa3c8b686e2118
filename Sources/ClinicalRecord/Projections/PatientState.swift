/// One patient's current state, rebuilt from their events (voided events left out).
public struct PatientState: Sendable, Codable, Hashable {
    public struct Demographics: Sendable, Codable, Hashable {
        public var givenName = "", familyName = "", birthDate = "", sex = ""
        public var age: Int?
        public var phone: String?, email: String?
    }

    public struct History: Sendable, Codable, Hashable {
        public var conditions: [String] = []
        public var medications: [Medication] = []
        /// The contraindication and risk flags that are set, e.g. `pregnant`.
        public var flags: [String] = []
        public var recordedAt: String?
    }

    public struct Medication: Sendable, Codable, Hashable {
        public var name: String, dose: String, medicationClass: String, status: String
    }

    public struct Eligibility: Sendable, Codable, Hashable {
        public var evaluationId: String, evaluatedAt: String, eligible: Bool, treatmentResistant: Bool
        public var modalities: [String], diagnoses: [String], contraindications: [String]
    }

    public struct Consent: Sendable, Codable, Hashable {
        public var consentId: String, scope: String, formVersion: String, signedAt: String
        public var expiresAt: String?
        /// `active`, `withdrawn` or `expired`.
        public var status: String
    }

    public struct Plan: Sendable, Codable, Hashable {
        public var planId: String, modality: String, phase: String
        public var sessionsPlanned: Int, maxSessionsPerWeek: Int
        public var dosesGiven: Int
        public var dosesInLast7Days: Int
        public var startDate: String
    }

    public struct InstrumentTrend: Sendable, Codable, Hashable {
        public struct Point: Sendable, Codable, Hashable {
            public var at: String, total: Int, band: String?
            public var time: Int64
        }
        public var instrument: String
        public var baseline: Point
        public var latest: Point
        /// The latest ``PatientState/pointsKept`` points, in time order (the baseline is kept apart).
        public var points: [Point]
        public var changeFromBaseline: Int
        /// `improving`, `worsening` or `stable` (latest against the one before it).
        public var trend: String
        /// PHQ-9 only: down 50% or more from baseline.
        public var response: Bool?
        /// PHQ-9 only: latest under 5.
        public var remission: Bool?
    }

    public struct SideEffect: Sendable, Codable, Hashable {
        public var sideEffectId: String, kind: String, severity: String, onsetAt: String
        public var sessionId: String?
        public var serious: Bool
        public var resolvedAt: String?
    }

    /// Who forgot the patient, when and why: all that is left of a forgotten patient.
    public struct Forgotten: Sendable, Codable, Hashable {
        public var at: String, by: String, reason: String
    }

    public struct Session: Sendable, Codable, Hashable {
        public var sessionId: String, planId: String
        public var scheduledFor: String?
        public var check: String?
        public var dose: String?
        public var doseStartedAt: String?
        public var vitals: [String] = []
        public var sideEffects: [String] = []
        public var discharge: String?
        public var cancelled: String?
        public var remsFormSubmittedAt: String?
    }

    /// How many of the latest sessions and side effects the state shows: about three months of
    /// weekly maintenance. The rest stay in the log (export, audit); keeping the state this size
    /// keeps replay memory and snapshots the same however long a patient's history grows.
    public static let recentKept = 12
    /// How many of the latest scores per instrument the state shows (with the baseline).
    public static let pointsKept = 26

    public var patientId: String
    /// Set when the patient was forgotten (their data key destroyed): their earlier events can no
    /// longer be read, so everything else is empty.
    public var forgotten: Forgotten?
    public var demographics = Demographics()
    public var weightKg: Double?
    public var history = History()
    public var eligibility: Eligibility?
    public var activeConsentsByScope: [String: String] = [:]
    public var consents: [Consent] = []
    public var remsEnrolledAt: String?
    public var currentPlan: Plan?
    public var instruments: [InstrumentTrend] = []
    public var openSideEffects: [SideEffect] = []
    /// The latest ``recentKept`` side effects (and any older one still open); ``sideEffectCount`` counts all.
    public var sideEffects: [SideEffect] = []
    public var sideEffectCount = 0
    /// The latest ``recentKept`` sessions; ``sessionCount`` counts all.
    public var sessions: [Session] = []
    public var sessionCount = 0
    /// Events in the stream up to the as-of point, voided ones and the voids included.
    public var eventCount = 0
    public var voidedCount = 0
    public var countsByType: [String: Int] = [:]
    /// Events of types this version does not know.
    public var unknownTypeCount = 0
    /// The sequence of the last event included.
    public var lastSequence: UInt64 = 0
    /// The time the state is judged at (RFC 3339).
    public var asOf: String = ""
}
