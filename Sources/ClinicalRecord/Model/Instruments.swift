/// The scoring rules of each assessment instrument (docs/EVENTS.md): item counts, ranges, totals,
/// bands. A total is always computed here, never taken from input.
public struct InstrumentScore: Sendable, Hashable, Codable {
    /// The total score (for the C-SSRS screener: the number of yes answers).
    public let total: Int
    /// The severity band or risk level, e.g. "moderate"; `nil` for instruments without bands (CADSS).
    public let band: String?
    /// A suicide risk flag (docs/EVENTS.md, v1.1): PHQ-9 item 9 above 0, a C-SSRS screener of
    /// moderate or high risk, MADRS item 10 at 4 or more, or QIDS-SR16 item 12 at 2 or more.
    public let flagsSuicideRisk: Bool
}

extension Ketamine_V1_Instrument {
    /// The display name, e.g. "PHQ-9".
    public var displayName: String {
        switch self {
        case .phq9: "PHQ-9"
        case .gad7: "GAD-7"
        case .pcl5: "PCL-5"
        case .cssrsScreener: "C-SSRS screener"
        case .madrs: "MADRS"
        case .qidsSr16: "QIDS-SR16"
        case .cadss: "CADSS"
        case .moaas: "MOAA/S"
        case .unspecified, .UNRECOGNIZED: "unknown instrument"
        }
    }

    /// The number of items and the range of each, or `nil` for an unknown instrument.
    public var itemRule: (count: Int, range: ClosedRange<Int32>)? {
        switch self {
        case .phq9: (9, 0...3)
        case .gad7: (7, 0...3)
        case .pcl5: (20, 0...4)
        case .cssrsScreener: (6, 0...1)
        case .madrs: (10, 0...6)
        case .qidsSr16: (16, 0...3)
        case .cadss: (23, 0...4)
        case .moaas: (1, 0...5)
        case .unspecified, .UNRECOGNIZED: nil
        }
    }

    /// Whether the instrument measures depression (the baseline assessment rule's kinds).
    public var measuresDepression: Bool { self == .phq9 || self == .madrs || self == .qidsSr16 }

    /// How the outcomes of docs/EVENTS.md read this instrument: whether a lower score is better,
    /// the least baseline for which response and remission mean something, and the remission
    /// cut-off (latest at or below it). `nil` for instruments without outcomes.
    public var outcomeRule: (minimumBaseline: Int, remissionAtMost: Int)? {
        switch self {
        case .phq9: (10, 4)
        case .gad7: (10, 4)
        case .madrs: (20, 10)
        case .qidsSr16: (11, 5)
        case .pcl5, .cssrsScreener, .cadss, .moaas, .unspecified, .UNRECOGNIZED: nil
        }
    }

    /// Whether a rise in the score is an improvement (MOAA/S: higher is more alert).
    public var higherIsBetter: Bool { self == .moaas }

    /// The severity bands of a total, lowest first (docs/EVENTS.md); empty for instruments whose
    /// level is not a band of their total (the C-SSRS screener, CADSS).
    public var bands: [(range: ClosedRange<Int>, label: String)] {
        switch self {
        case .phq9: [(0...4, "none"), (5...9, "mild"), (10...14, "moderate"), (15...19, "moderately severe"), (20...27, "severe")]
        case .gad7: [(0...4, "minimal"), (5...9, "mild"), (10...14, "moderate"), (15...21, "severe")]
        case .pcl5: [(0...32, "below PTSD threshold"), (33...80, "probable PTSD")]
        case .madrs: [(0...6, "normal"), (7...19, "mild"), (20...34, "moderate"), (35...60, "severe")]
        case .qidsSr16: [(0...5, "none"), (6...10, "mild"), (11...15, "moderate"), (16...20, "severe"), (21...27, "very severe")]
        case .moaas: [(0...0, "unresponsive"), (1...4, "sedated"), (5...5, "alert")]
        case .cssrsScreener, .cadss, .unspecified, .UNRECOGNIZED: []
        }
    }

    /// The highest total the instrument can give.
    public var maximumTotal: Int {
        switch self {
        case .phq9: 27
        case .gad7: 21
        case .pcl5: 80
        case .cssrsScreener: 6
        case .madrs: 60
        case .qidsSr16: 27
        case .cadss: 92
        case .moaas: 5
        case .unspecified, .UNRECOGNIZED: 0
        }
    }

    /// The band a total falls in, when the instrument has bands.
    public func band(total: Int) -> String? {
        bands.first { $0.range.contains(total) }?.label
    }

    /// Scores items already checked against ``itemRule``.
    public func score(_ items: [Int32]) -> InstrumentScore {
        let values = items.map(Int.init)
        // A stored payload was checked on the way in; one that is not as checked (damage) scores
        // as its sum, with no band and no flag, rather than stopping a replay.
        guard let rule = itemRule, values.count == rule.count else {
            return InstrumentScore(total: values.reduce(0, +), band: nil, flagsSuicideRisk: false)
        }
        let sum = values.reduce(0, +)
        switch self {
        case .phq9:
            return InstrumentScore(total: sum, band: band(total: sum), flagsSuicideRisk: values[8] > 0)
        case .gad7, .pcl5:
            return InstrumentScore(total: sum, band: band(total: sum), flagsSuicideRisk: false)
        case .cssrsScreener:
            let yes = { (item: Int) in values[item - 1] == 1 }
            let risk = (yes(4) || yes(5) || yes(6)) ? "high" : yes(3) ? "moderate" : (yes(1) || yes(2)) ? "low" : "none"
            return InstrumentScore(total: sum, band: risk, flagsSuicideRisk: risk == "high" || risk == "moderate")
        case .madrs:
            return InstrumentScore(total: sum, band: band(total: sum), flagsSuicideRisk: values[9] >= 4)
        case .qidsSr16:
            // Domain scoring: the highest of sleep (1-4), of weight/appetite (6-9) and of
            // psychomotor (15-16); the other items as they are.
            let item = { (number: Int) in values[number - 1] }
            let sleep = (1...4).map(item).max() ?? 0
            let weight = (6...9).map(item).max() ?? 0
            let psychomotor = (15...16).map(item).max() ?? 0
            let others = [5, 10, 11, 12, 13, 14].map(item).reduce(0, +)
            let total = sleep + weight + psychomotor + others
            return InstrumentScore(total: total, band: band(total: total), flagsSuicideRisk: item(12) >= 2)
        case .cadss:
            return InstrumentScore(total: sum, band: nil, flagsSuicideRisk: false)
        case .moaas:
            return InstrumentScore(total: sum, band: band(total: sum), flagsSuicideRisk: false)
        case .unspecified, .UNRECOGNIZED:
            return InstrumentScore(total: sum, band: nil, flagsSuicideRisk: false)
        }
    }
}

extension Ketamine_V1_Score {
    /// The score's band or level: the band of its total, or the level kept with it when the
    /// instrument's level is not a band of the total (the C-SSRS screener's risk).
    public func band(of instrument: Ketamine_V1_Instrument) -> String? {
        level.isEmpty ? instrument.band(total: Int(total)) : level
    }
}
