/// The scoring rules of each assessment instrument (EVENTS.md): item counts, ranges, totals,
/// bands. A total is always computed here, never taken from input.
public struct InstrumentScore: Sendable, Hashable, Codable {
    /// The total score (for the C-SSRS screener: the number of yes answers).
    public let total: Int
    /// The severity band or risk level, e.g. "moderate"; `nil` for instruments without bands (CADSS).
    public let band: String?
    /// PHQ-9 item 9 above 0, or a C-SSRS screener of high risk.
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

    /// Scores items already checked against ``itemRule``.
    public func score(_ items: [Int32]) -> InstrumentScore {
        let values = items.map(Int.init)
        func band(_ total: Int, _ bands: [(ClosedRange<Int>, String)]) -> String? {
            bands.first { $0.0.contains(total) }?.1
        }
        switch self {
        case .phq9:
            let total = values.reduce(0, +)
            return InstrumentScore(total: total, band: band(total, [(0...4, "none"), (5...9, "mild"), (10...14, "moderate"), (15...19, "moderately severe"), (20...27, "severe")]), flagsSuicideRisk: values[8] > 0)
        case .gad7:
            let total = values.reduce(0, +)
            return InstrumentScore(total: total, band: band(total, [(0...4, "minimal"), (5...9, "mild"), (10...14, "moderate"), (15...21, "severe")]), flagsSuicideRisk: false)
        case .pcl5:
            let total = values.reduce(0, +)
            return InstrumentScore(total: total, band: total >= 33 ? "probable PTSD" : "below PTSD threshold", flagsSuicideRisk: false)
        case .cssrsScreener:
            let yes = { (item: Int) in values[item - 1] == 1 }
            let risk = (yes(4) || yes(5) || yes(6)) ? "high" : yes(3) ? "moderate" : (yes(1) || yes(2)) ? "low" : "none"
            return InstrumentScore(total: values.reduce(0, +), band: risk, flagsSuicideRisk: risk == "high")
        case .madrs:
            let total = values.reduce(0, +)
            return InstrumentScore(total: total, band: band(total, [(0...6, "normal"), (7...19, "mild"), (20...34, "moderate"), (35...60, "severe")]), flagsSuicideRisk: false)
        case .qidsSr16:
            // Domain scoring: the highest of sleep (1-4), of weight/appetite (6-9) and of
            // psychomotor (15-16); the other items as they are.
            let item = { (number: Int) in values[number - 1] }
            let sleep = (1...4).map(item).max() ?? 0
            let weight = (6...9).map(item).max() ?? 0
            let psychomotor = (15...16).map(item).max() ?? 0
            let others = [5, 10, 11, 12, 13, 14].map(item).reduce(0, +)
            let total = sleep + weight + psychomotor + others
            return InstrumentScore(total: total, band: band(total, [(0...5, "none"), (6...10, "mild"), (11...15, "moderate"), (16...20, "severe"), (21...27, "very severe")]), flagsSuicideRisk: false)
        case .cadss:
            return InstrumentScore(total: values.reduce(0, +), band: nil, flagsSuicideRisk: false)
        case .moaas:
            let total = values[0]
            return InstrumentScore(total: total, band: total == 0 ? "unresponsive" : total < 5 ? "sedated" : "alert", flagsSuicideRisk: false)
        case .unspecified, .UNRECOGNIZED:
            return InstrumentScore(total: values.reduce(0, +), band: nil, flagsSuicideRisk: false)
        }
    }
}
