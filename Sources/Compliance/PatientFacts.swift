import ClinicalRecord
import EventStore

// What the rules need of one patient's record, folded event by event from the payloads read in
// place: typed values, times as integers, ids kept once per entry (never one String per event).

struct DoseFact: Sendable {
    let sequence: UInt64
    let time: Int64
    let session: String
    let plan: String
    let drug: Ketamine_V1_Drug
    let route: Ketamine_V1_Route
    let setting: Ketamine_V1_Setting
    let doseMg: Double
    let weightKg: Double
    let lot: [UInt8]
    let startedAt: Int64
    let infusionMinutes: Int32?
    let devices: Int32?
    let hasPrescriberOnSite: Bool

    /// How the dose was given, as the consent scopes and plan modalities name it.
    var modality: Ketamine_V1_Modality {
        switch (drug, route) {
        case (.esketamine, _): .esketamineNasal
        case (_, .iv): .ketamineIv
        case (_, .im): .ketamineIm
        default: .ketamineNasal
        }
    }

    /// Racemic ketamine, off-label for mood disorders (IV, IM or nasal).
    var isRacemicKetamine: Bool { drug == .ketamine }
}

struct CheckFact: Sendable {
    let sequence: UInt64
    let time: Int64
    let lastSolidFoodAt: Int64
    let lastClearLiquidAt: Int64
    let escortPresent: Bool
    let systolic: Int32
    let diastolic: Int32
    let hasOverrideReason: Bool
}

struct VitalsFact: Sendable {
    let sequence: UInt64
    let measuredAt: Int64
    let systolic: Int32
    let diastolic: Int32
    let spo2: Int32
    let respiratoryRate: Int32?
    let moaas: Int32?
}

struct SideEffectFact: Sendable {
    let id: [UInt8]
    let name: String
    let kind: Ketamine_V1_SideEffectKind
    let onsetAt: Int64
}

struct DischargeFact: Sendable {
    let sequence: UInt64
    let dischargedAt: Int64
    let aldreteScore: Int32
    let escortConfirmed: Bool
    let drivingAdviceGiven: Bool
}

struct WasteFact: Sendable {
    let sequence: UInt64
    let time: Int64
    let drug: Ketamine_V1_Drug
    let lot: [UInt8]
    let amountMg: Double
    let witnessedByRecorder: Bool
    let recorder: String
}

/// Everything recorded for one session, until the session is judged.
struct SessionFacts: Sendable {
    let id: String
    /// The plan of the latest scheduling (by clinical time, then log order).
    var scheduledPlan: String?
    var scheduledAt: (time: Int64, sequence: UInt64) = (.min, 0)
    var checks: [CheckFact] = []
    var vitals: [VitalsFact] = []
    var sideEffects: [SideEffectFact] = []
    var discharges: [DischargeFact] = []
    var remsForms: [Int64] = []
    var wastes: [WasteFact] = []
    /// The doses of the session (drug and lot), kept until it is judged, for waste reconciliation.
    var doses: [(drug: Ketamine_V1_Drug, lot: [UInt8])] = []
    /// The latest clinical time of anything recorded for it.
    var lastActivity: Int64 = .min
    /// Doses of the session not yet judged, and judged.
    var pendingDoses = 0
    var judgedDoses = 0

    init(id: String) { self.id = id }
}

struct ConsentFact: Sendable {
    let id: [UInt8]
    let sequence: UInt64
    let scope: Ketamine_V1_ConsentScope
    let signedAt: Int64
    let expiresAt: Int64?
    let offLabelAcknowledged: Bool
    var withdrawals: [Int64] = []

    /// In force at `time`: signed at or before it, not expired by then, not withdrawn by then.
    func inForce(at time: Int64) -> Bool {
        signedAt <= time && (expiresAt.map { $0 > time } ?? true) && !withdrawals.contains { $0 <= time }
    }
}

struct EvaluationFact: Sendable {
    let time: Int64
    let eligible: Bool
    let modalities: [Ketamine_V1_Modality]
}

struct HistoryFact: Sendable {
    let time: Int64
    let sequence: UInt64
    let psychosis, substanceUse, pregnant, uncontrolledHypertension: Bool
    let aneurysmal, arteriovenous, intracerebralHemorrhage, hypersensitivity: Bool
    let medications: [(key: String, name: String, medicationClass: Ketamine_V1_MedicationClass)]
}

struct MedicationChangeFact: Sendable {
    let time: Int64
    let sequence: UInt64
    let key: String
    let name: String
    let medicationClass: Ketamine_V1_MedicationClass
    let change: Ketamine_V1_MedicationChange
}

struct PlanFact: Sendable {
    let id: String
    let sequence: UInt64
    let modality: Ketamine_V1_Modality
    let maxSessionsPerWeek: Int32
    let doseMg: Double?
    let indication: Ketamine_V1_Indication?
    /// Doses of the plan judged so far (their order decides the 3rd, 6th, ... dose).
    var dosesJudged = 0
}

struct AssessmentFact: Sendable {
    let sequence: UInt64
    let time: Int64
    let instrument: Ketamine_V1_Instrument
    let session: String?
    let total: Int
    /// PHQ-9 item 9, MADRS item 10, QIDS-SR16 item 12: the item that speaks of suicide.
    let suicideItem: Int
    /// The C-SSRS screener's risk level (`none`, `low`, `moderate`, `high`).
    let riskLevel: String?

    var measuresDepression: Bool { instrument.measuresDepression }
}

/// One patient's facts during a replay. Sessions are judged as the patient's record moves on:
/// once the patient's clinical clock (the latest time seen) is a settling window past a dose, its
/// session is judged and its facts dropped; assessments likewise. What is kept for the whole
/// record is small (consents, plans, enrollments, the latest history and evaluations), so replay
/// memory follows the number of patients, not the length of their histories.
struct PatientFacts: Sendable {
    /// The birth date (a registration's, when it is a real date).
    var born: (year: Int64, month: Int64, day: Int64)?
    var consents: [ConsentFact] = []
    var evaluations: [EvaluationFact] = []
    var histories: [HistoryFact] = []
    var medicationChanges: [MedicationChangeFact] = []
    var remsEnrollments: [Int64] = []
    var plans: [PlanFact] = []
    var planIndex = BytesTable<Int>()

    var assessments: [AssessmentFact] = []
    /// Assessments whose follow-up rules have been judged (the first this many of `assessments`).
    var judgedAssessments = 0

    /// Doses not yet judged, and every session with facts.
    var doses: [DoseFact] = []
    var sessions = BytesTable<SessionFacts>()
    var sessionKeys: [[UInt8]] = []
    /// Side effect id → resolution times, for side effects of sessions not yet judged.
    var resolutions = BytesTable<[Int64]>()

    // What judging earlier sessions left behind.
    var esketamineDosed = false
    /// Plans whose first dose has been judged.
    var plansDosed = Set<String>()
    /// The medications already reported as interacting, per plan.
    var interactionsReported = Set<String>()

    /// The latest clinical time among the patient's events.
    var clock: Int64 = .min
    /// The earliest dose start, waste or assessment time not yet judged.
    var pendingSince: Int64 = .max
    var findings: [PendingFinding] = []

    /// Changes the facts of session `id` in place (created on its first event).
    mutating func update(session id: Text, at time: Int64, _ change: (inout SessionFacts) -> Void) {
        if !sessions.contains(id.bytes) { sessionKeys.append(Array(id.bytes)) }
        sessions.modify(id.bytes, default: SessionFacts(id: id.string)) { facts in
            change(&facts)
            facts.lastActivity = max(facts.lastActivity, time)
        }
    }

    func plan(_ id: String) -> PlanFact? {
        Array(id.utf8).withUnsafeBytes { planIndex[$0] }.map { plans[$0] }
    }

    /// The latest medical history at or before `time`.
    func history(at time: Int64) -> HistoryFact? {
        histories.filter { $0.time <= time }.max { ($0.time, $0.sequence) < ($1.time, $1.sequence) }
    }
}

/// A finding before its event id is looked up (by sequence, once the replay is done).
struct PendingFinding: Sendable {
    let rule: Rule
    let session: String?
    let sequence: UInt64
    let message: String
    /// Reported once per rule and key (see ``Findings/report(_:at:session:once:)``).
    var onceKey: String?
}
