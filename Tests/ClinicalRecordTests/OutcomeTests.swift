import ClinicalRecord
import Foundation
import SwiftProtobuf
import Testing

/// Treatment outcomes at their edges (docs/COMPLIANCE.md, outcomes): the baseline is the current
/// course's (the latest score at or before the current plan's first dose), response is the latest
/// at least 50% below it, remission the latest at or below the instrument's cut-off, and neither
/// applies below a moderate baseline. Every band cut-off of every instrument.
struct OutcomeTests {
    static let day = ClinicalTime.day
    static let start = ClinicalTime.parse("2026-02-02T09:00:00Z") ?? 0

    /// Item scores that give `total` for `instrument` (QIDS-SR16 by its domains).
    static func items(_ instrument: Ketamine_V1_Instrument, total: Int) -> [Int32] {
        func spread(_ total: Int, count: Int, max: Int) -> [Int32] {
            var items = [Int32](repeating: 0, count: count)
            var left = total
            for index in items.indices where left > 0 {
                items[index] = Int32(Swift.min(max, left))
                left -= Int(items[index])
            }
            precondition(left == 0, "\(total) does not fit \(count) items of at most \(max)")
            return items
        }
        switch instrument {
        case .phq9: return spread(total, count: 8, max: 3) + [0]
        case .gad7: return spread(total, count: 7, max: 3)
        case .madrs: return spread(total, count: 9, max: 6) + [0]
        case .qidsSr16:
            // Item 5, then 10 to 14 (item 12 left at 0), as they are; then one item of each domain.
            let others = spread(Swift.min(total, 15), count: 5, max: 3)
            var items = [Int32](repeating: 0, count: 16)
            for (offset, item) in [5, 10, 11, 13, 14].enumerated() { items[item - 1] = others[offset] }
            var left = total - Swift.min(total, 15)
            for item in [1, 6, 15] where left > 0 {
                items[item - 1] = Int32(Swift.min(3, left))
                left -= Int(items[item - 1])
            }
            return items
        case .moaas: return [Int32(total)]
        default: preconditionFailure("no items for \(instrument)")
        }
    }

    /// One patient's outcome for `instrument`: scores at days from the start, plans (id, the day
    /// of their first dose).
    static func outcome(_ instrument: Ketamine_V1_Instrument, scores: [(day: Int64, total: Int)],
                        plans: [(id: String, firstDose: Int64)] = [("PL1", 5)]) async throws -> InstrumentOutcome {
        try await withRecordStore { store, _ in
            var inputs: [ClinicalEventInput] = []
            func add(_ day: Int64, _ minutes: Int64, _ role: ActorRole, _ message: any SwiftProtobuf.Message) {
                inputs.append(ClinicalEventInput(source: "urn:test", patientId: "P-1", time: start + day * Self.day + minutes * 60_000_000_000,
                                                 actorId: "u-\(role.rawValue)", actorRole: role, message: message))
            }
            add(0, 0, .staff, sampleRegistration(familyName: "Test", weightKg: 80))
            var events: [(Int64, Int64, ActorRole, any SwiftProtobuf.Message)] = []
            for (day, total) in scores {
                var assessment = Ketamine_V1_AssessmentRecorded()
                assessment.assessmentID = "A-\(day)-\(total)"
                assessment.instrument = instrument
                assessment.itemScores = items(instrument, total: total)
                events.append((day, 30, .nurse, assessment))
            }
            for (index, plan) in plans.enumerated() {
                var planned = Ketamine_V1_TreatmentPlanned()
                planned.planID = plan.id
                planned.modality = .ketamineIv
                planned.phase = index == 0 ? .induction : .maintenance
                planned.sessionsPlanned = 6
                planned.maxSessionsPerWeek = 2
                planned.doseMgPerKg = 0.5
                planned.startDate = String(ClinicalTime.format(start + plan.firstDose * day).prefix(10))
                events.append((plan.firstDose - 1, 0, .psychiatrist, planned))
                var scheduled = Ketamine_V1_SessionScheduled()
                scheduled.sessionID = "\(plan.id)-S1"
                scheduled.planID = plan.id
                scheduled.scheduledFor = ClinicalTime.timestamp(start + plan.firstDose * day)
                events.append((plan.firstDose - 1, 5, .staff, scheduled))
                var dose = Ketamine_V1_DoseAdministered()
                dose.sessionID = scheduled.sessionID
                dose.planID = plan.id
                dose.drug = .ketamine
                dose.route = .iv
                dose.doseMg = 40
                dose.weightKg = 80
                dose.infusionMinutes = 40
                dose.setting = .clinic
                dose.lotNumber = "LOT-1"
                dose.startedAt = ClinicalTime.timestamp(start + plan.firstDose * day + 60 * 60_000_000_000)
                events.append((plan.firstDose, 60, .nurse, dose))
            }
            for (day, minutes, role, message) in events.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) { add(day, minutes, role, message) }
            try store.importEvents(inputs)
            let state = try #require(try store.patientState("P-1"))
            return try #require(state.instruments.first { $0.instrument == instrument })
        }
    }

    @Test func aPhq9BaselineBelowModerateMakesTheOutcomesNotApplicable() async throws {
        let nine = try await Self.outcome(.phq9, scores: [(1, 9), (20, 2)])
        #expect(nine.baseline?.total == 9 && nine.response == .notApplicable && nine.remission == .notApplicable)
        let ten = try await Self.outcome(.phq9, scores: [(1, 10), (20, 5)])
        #expect(ten.response == .yes && ten.remission == .no)
    }

    @Test(arguments: [
        (Ketamine_V1_Instrument.phq9, 15, 4, InstrumentOutcome.Verdict.yes), (.phq9, 15, 5, .no),
        (.madrs, 30, 10, .yes), (.madrs, 30, 11, .no),
        (.qidsSr16, 16, 5, .yes), (.qidsSr16, 16, 6, .no),
        (.gad7, 15, 4, .yes), (.gad7, 15, 5, .no),
    ] as [(Ketamine_V1_Instrument, Int, Int, InstrumentOutcome.Verdict)])
    func remissionIsTheLatestAtOrBelowTheCutOff(instrument: Ketamine_V1_Instrument, baseline: Int, latest: Int, remission: InstrumentOutcome.Verdict) async throws {
        let outcome = try await Self.outcome(instrument, scores: [(1, baseline), (20, latest)])
        #expect(outcome.baseline?.total == Int32(baseline) && outcome.latest.total == Int32(latest))
        #expect(outcome.remission == remission)
    }

    @Test(arguments: [
        (Ketamine_V1_Instrument.madrs, 19, InstrumentOutcome.Verdict.notApplicable), (.madrs, 20, .yes),
        (.qidsSr16, 10, .notApplicable), (.qidsSr16, 11, .yes),
        (.gad7, 9, .notApplicable), (.gad7, 10, .yes),
    ] as [(Ketamine_V1_Instrument, Int, InstrumentOutcome.Verdict)])
    func eachInstrumentNeedsAModerateBaseline(instrument: Ketamine_V1_Instrument, baseline: Int, response: InstrumentOutcome.Verdict) async throws {
        let outcome = try await Self.outcome(instrument, scores: [(1, baseline), (20, 0)])
        #expect(outcome.response == response)
    }

    @Test func responseIsAtLeastHalfOfTheBaselineGone() async throws {
        // 20 to 10 is 50%: a response; 20 to 11 is 45%; 23 to 11 is 52% and 23 to 12 48%.
        #expect(try await Self.outcome(.phq9, scores: [(1, 20), (20, 10)]).response == .yes)
        #expect(try await Self.outcome(.phq9, scores: [(1, 20), (20, 11)]).response == .no)
        #expect(try await Self.outcome(.phq9, scores: [(1, 23), (20, 11)]).response == .yes)
        #expect(try await Self.outcome(.phq9, scores: [(1, 23), (20, 12)]).response == .no)
    }

    @Test func theBaselineIsTheCurrentCoursesNotTheEarliestEver() async throws {
        // An early mild score, a first course, then a relapse to 22 before a second course, which
        // brings it to 10: a response to the current course (22 to 10), where the earliest score
        // (8) would make it "not applicable".
        let outcome = try await Self.outcome(.phq9, scores: [(1, 8), (20, 6), (40, 22), (60, 10)], plans: [("PL1", 5), ("PL2", 45)])
        #expect(outcome.baseline?.total == 22)
        #expect(outcome.response == .yes)
        #expect(outcome.changeFromBaseline == -12)
        // A score recorded the day of the first dose, before it, is the baseline; one after it is not.
        let sameDay = try await Self.outcome(.phq9, scores: [(2, 18), (5, 16), (30, 7)], plans: [("PL1", 5)])
        #expect(sameDay.baseline?.total == 16)
    }

    @Test func aRiseInMoaasIsAnImprovement() async throws {
        let outcome = try await Self.outcome(.moaas, scores: [(1, 0), (2, 2)])
        #expect(outcome.trend == .improving)
        #expect(outcome.response == nil && outcome.remission == nil)
    }

    @Test(arguments: [
        (Ketamine_V1_Instrument.phq9, [(4, "none"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"), (15, "moderately severe"), (19, "moderately severe"), (20, "severe"), (27, "severe")]),
        (.gad7, [(4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"), (15, "severe"), (21, "severe")]),
        (.pcl5, [(0, "below PTSD threshold"), (32, "below PTSD threshold"), (33, "probable PTSD"), (80, "probable PTSD")]),
        (.madrs, [(6, "normal"), (7, "mild"), (19, "mild"), (20, "moderate"), (34, "moderate"), (35, "severe"), (60, "severe")]),
        (.qidsSr16, [(5, "none"), (6, "mild"), (10, "mild"), (11, "moderate"), (15, "moderate"), (16, "severe"), (20, "severe"), (21, "very severe"), (27, "very severe")]),
        (.moaas, [(0, "unresponsive"), (1, "sedated"), (4, "sedated"), (5, "alert")]),
    ] as [(Ketamine_V1_Instrument, [(Int, String)])])
    func everyBandCutOff(instrument: Ketamine_V1_Instrument, cutOffs: [(Int, String)]) {
        for (total, band) in cutOffs {
            #expect(instrument.band(total: total) == band, "\(instrument) \(total)")
        }
        // Past the instrument's range there is no band.
        #expect(instrument.band(total: instrument.maximumTotal + 1) == nil)
    }

    @Test func scoresGiveTheTotalsTheBandsAreReadFrom() {
        for (instrument, totals) in [(Ketamine_V1_Instrument.phq9, [0, 9, 10, 24]), (.gad7, [4, 5, 21]), (.madrs, [19, 20, 54]), (.qidsSr16, [5, 6, 11, 21, 24])] {
            for total in totals {
                #expect(instrument.score(Self.items(instrument, total: total)).total == total, "\(instrument) \(total)")
            }
        }
    }
}
