import ClinicalRecord
import Testing

struct InstrumentTests {
    @Test(arguments: [
        (Ketamine_V1_Instrument.phq9, [Int32](repeating: 0, count: 9), 0, "none"),
        (.phq9, [3, 3, 3, 3, 3, 0, 0, 0, 0], 15, "moderately severe"),
        (.phq9, [3, 3, 3, 3, 3, 3, 3, 3, 3], 27, "severe"),
        (.gad7, [2, 2, 2, 2, 1, 1, 0], 10, "moderate"),
        (.pcl5, [Int32](repeating: 2, count: 16) + [1, 0, 0, 0], 33, "probable PTSD"),
        (.madrs, [Int32](repeating: 2, count: 10), 20, "moderate"),
        (.madrs, [Int32](repeating: 6, count: 10), 60, "severe"),
        (.cadss, [Int32](repeating: 1, count: 23), 23, nil),
    ] as [(Ketamine_V1_Instrument, [Int32], Int, String?)])
    func totalsAndBandsAreComputed(instrument: Ketamine_V1_Instrument, items: [Int32], total: Int, band: String?) {
        let score = instrument.score(items)
        #expect(score.total == total)
        #expect(score.band == band)
    }

    @Test func phq9ItemNineFlagsSuicidalIdeation() {
        #expect(Ketamine_V1_Instrument.phq9.score([0, 0, 0, 0, 0, 0, 0, 0, 1]).flagsSuicideRisk)
        #expect(!Ketamine_V1_Instrument.phq9.score([3, 3, 3, 3, 3, 3, 3, 3, 0]).flagsSuicideRisk)
    }

    @Test(arguments: [
        ([Int32]([0, 0, 0, 0, 0, 0]), "none"), ([1, 0, 0, 0, 0, 0], "low"), ([0, 1, 0, 0, 0, 0], "low"),
        ([1, 1, 1, 0, 0, 0], "moderate"), ([0, 0, 0, 1, 0, 0], "high"), ([0, 0, 0, 0, 1, 0], "high"), ([0, 0, 0, 0, 0, 1], "high"),
    ])
    func cssrsRiskFollowsTheHighestYes(items: [Int32], risk: String) {
        let score = Ketamine_V1_Instrument.cssrsScreener.score(items)
        #expect(score.band == risk)
        // v1.1: a moderate or high risk flags suicide risk.
        #expect(score.flagsSuicideRisk == (risk == "high" || risk == "moderate"))
    }

    @Test func qidsScoresByDomainTakingTheHighestItemOfEach() {
        // Sleep items 1-4: highest 3; weight 6-9: highest 2; psychomotor 15-16: highest 1;
        // the rest (5, 10-14) as they are: 1 + 5 * 1.
        let items: [Int32] = [3, 1, 2, 0, 1, 2, 1, 0, 2, 1, 1, 1, 1, 1, 0, 1]
        let score = Ketamine_V1_Instrument.qidsSr16.score(items)
        #expect(score.total == 3 + 2 + 1 + 6)
        #expect(score.band == "moderate")
    }

    @Test func everyInstrumentStatesItsItemCountAndRange() {
        #expect(Ketamine_V1_Instrument.phq9.itemRule?.count == 9)
        #expect(Ketamine_V1_Instrument.pcl5.itemRule?.range == 0...4)
        #expect(Ketamine_V1_Instrument.cadss.itemRule?.count == 23)
        #expect(Ketamine_V1_Instrument.moaas.itemRule?.range == 0...5)
        #expect(Ketamine_V1_Instrument.unspecified.itemRule == nil)
    }
}
