import Foundation
import SENCore
import SENTestSupport
import Testing

/// Indirectly standardised ratios, Poisson limits and intervals, comparators rounded by publication, and need
/// mix: against scipy and statsmodels (Tests/statistics/references.py), to 1e-9.
@Suite struct StandardisedTests {
    static let means = [0.05, 0.3, 1, 2.5, 4.2, 7, 12.5, 30, 61.7, 100, 333, 1_000, 4_321]
    static let probabilities = [0.001, 0.025, 0.975, 0.999]

    @Test func poissonFunnelLimitsMatchScipy() async throws {
        var cases: [[String: Any]] = []
        var mine: [Double] = []
        for mean in Self.means {
            for q in Self.probabilities {
                cases.append(["mean": mean, "q": q])
                mine.append(Poisson.spiegelhalterLimit(q, mean: mean))
            }
        }
        let reference = try await StatisticsReference.values("poisson_limit", cases)
        #expect(reference.count == mine.count)
        for (index, (a, b)) in zip(mine, reference).enumerated() {
            #expect(abs(a - b) <= 1e-9 * max(1, b), "\(cases[index]): \(a) against scipy's \(b)")
        }
        // The walk that gives a school's four limits at once (what comparisons use), on the same grid.
        var index = 0
        for mean in Self.means {
            for limit in Poisson.spiegelhalterLimits(Self.probabilities, mean: mean) {
                #expect(abs(limit - reference[index]) <= 1e-9 * max(1, reference[index]), "\(cases[index]): \(limit) against scipy's \(reference[index])")
                index += 1
            }
        }
        // The ratio limits are these over the expected count, and tighten around 1 as it grows.
        let small = IndirectStandardisation.ratioLimits(expected: 4.2, z: Statistics.z998)
        let large = IndirectStandardisation.ratioLimits(expected: 333, z: Statistics.z998)
        #expect(abs(small.upper - reference[4 * 4 + 3] / 4.2) < 1e-9)
        #expect(small.lower < large.lower && large.lower < 1 && 1 < large.upper && large.upper < small.upper)
    }

    /// The exact (Garwood) interval, as scipy's χ² quantiles give it, for counts from 0 to 20,000.
    @Test func exactPoissonIntervalsMatchScipy() async throws {
        let observed = [0, 1, 2, 3, 5, 9, 17, 40, 99, 250, 1_000, 5_000, 20_000]
        var cases: [[String: Any]] = []
        var mine: [Double] = []
        for o in observed {
            for z in [Statistics.z95, Statistics.z998] {
                cases.append(["observed": o, "z": z])
                let interval = Poisson.exactInterval(observed: o, z: z)
                mine += [interval.lower, interval.upper]
            }
        }
        let reference = try await StatisticsReference.values("poisson_exact", cases)
        #expect(reference.count == mine.count)
        for (index, (a, b)) in zip(mine, reference).enumerated() {
            #expect(abs(a - b) <= 1e-9 * max(1, b), "\(cases[index / 2]): \(a) against scipy's \(b)")
        }
    }

    /// The trust's ratio: ΣO / ΣE, its exact interval from the pooled count, and a verdict only beyond chance.
    @Test func aTrustsStandardisedRatio() async throws {
        let units = [
            IndirectStandardisation.Unit(observed: 61, expected: 420 * 0.139),
            IndirectStandardisation.Unit(observed: 12, expected: 180 * 0.031),
            IndirectStandardisation.Unit(observed: 148, expected: 160 * 0.938),
        ]
        let pooled = try #require(IndirectStandardisation.pooled(units))
        let expected = 420 * 0.139 + 180 * 0.031 + 160 * 0.938
        #expect(pooled.observed == 221 && abs(pooled.expected - expected) < 1e-12)
        #expect(abs(pooled.ratio - 221 / expected) < 1e-15)
        let reference = try await StatisticsReference.values("poisson_exact", [["observed": 221, "z": Statistics.z95]])
        #expect(abs(pooled.interval95.lower - reference[0] / expected) < 1e-9 && abs(pooled.interval95.upper - reference[1] / expected) < 1e-9)
        #expect(pooled.verdict == (reference[0] / expected > 1 ? "above" : reference[1] / expected < 1 ? "below" : "as_expected"))
        // Twice the expected count is above beyond doubt; nothing expected gives no ratio.
        #expect(IndirectStandardisation.pooled([.init(observed: 200, expected: 100)])?.verdict == "above")
        #expect(IndirectStandardisation.pooled([.init(observed: 0, expected: 0)]) == nil)
    }

    /// A school's ratio is flagged where its count is outside the Poisson limits of its expectation.
    @Test func aSchoolsRatioFlag() {
        #expect(IndirectStandardisation.ratio(.init(observed: 30, expected: 12)).flag == .high998)
        #expect(IndirectStandardisation.ratio(.init(observed: 12, expected: 12)).flag == .within)
        #expect(IndirectStandardisation.ratio(.init(observed: 1, expected: 12)).flag == .low998)
        let r = IndirectStandardisation.ratio(.init(observed: 20, expected: 12))
        #expect(r.limits95.lower < 1 && r.limits95.upper > 1 && r.limits998.upper > r.limits95.upper)
    }

    /// A published 14.8% stands for 14.75-14.85%, a published 1.75% for 1.745-1.755%.
    @Test func roundedPercentagesStandForARange() {
        let one = PublishedPercent.range(percent: 14.8)
        #expect(abs(one.lowerBound - 0.1475) < 1e-12 && abs(one.upperBound - 0.1485) < 1e-12)
        let two = PublishedPercent.range(percent: 1.75)
        #expect(abs(two.lowerBound - 0.01745) < 1e-12 && abs(two.upperBound - 0.01755) < 1e-12)
        let whole = PublishedPercent.range(percent: 3)
        #expect(abs(whole.lowerBound - 0.0295) < 1e-12)
        #expect(PublishedPercent.range(percent: 0).lowerBound == 0)
    }

    /// A school just outside the 95% limit of a published 1.0% is not flagged when 1.05% would hold it within;
    /// the flag it would have at 1.0% is kept beside.
    @Test func aFlagMustHoldAcrossTheRoundingOfItsComparator() {
        let n = 2_000
        let range = PublishedPercent.range(percent: 1.0)
        let atRate = Statistics.exactLimits95And998(target: 0.01, n: n).limits95
        let atTop = Statistics.exactLimits95And998(target: range.upperBound, n: n).limits95
        // The smallest count above the upper 95% limit at 1.0% but not above it at 1.05%.
        let count = try? #require((0...n).first { Double($0) / Double(n) > atRate.upper && Double($0) / Double(n) <= atTop.upper })
        guard let count else { return }
        let point = RateComparison(count: count, n: n, target: 0.01)
        let robust = RateComparison(count: count, n: n, target: 0.01, targetRange: range)
        #expect(point.flag == .high95)
        #expect(robust.flag == .within)
        #expect(robust.limits95 == point.limits95, "the limits shown stay those around the published rate")
        // Far outside, the flag holds across the range.
        #expect(RateComparison(count: 80, n: n, target: 0.01, targetRange: range).flag == .high998)
        #expect(RateComparison(count: 2, n: n, target: 0.01, targetRange: range).flag == .low998)
    }

    /// The shortcut (a school within at the published rate is within across its range) gives what checking both
    /// ends of the range every time gives, for every count of schools of several sizes, rates and roundings; the
    /// same for the ratio's flag.
    @Test func theRangeFlagEqualsCheckingBothEndsAlways() {
        for percent in [0.3, 1.0, 1.75, 3.1, 14.8, 48.0] {
            let range = PublishedPercent.range(percent: percent)
            for n in [20, 75, 210, 980, 2_400] {
                for count in stride(from: 0, through: n, by: max(1, n / 200)) {
                    let rate = Double(count) / Double(n)
                    let low = Statistics.exactLimits95And998(target: range.lowerBound, n: n)
                    let high = Statistics.exactLimits95And998(target: range.upperBound, n: n)
                    let slow = Statistics.flag(
                        rate: rate, limits95: .init(lower: low.limits95.lower, upper: high.limits95.upper),
                        limits998: .init(lower: low.limits998.lower, upper: high.limits998.upper))
                    #expect(RateComparison(count: count, n: n, target: percent / 100, targetRange: range).flag == slow, "\(count)/\(n) at \(percent)%")
                    let e = Double(n) * percent / 100
                    let lowE = IndirectStandardisation.ratioLimits95And998(expected: Double(n) * range.lowerBound)
                    let highE = IndirectStandardisation.ratioLimits95And998(expected: Double(n) * range.upperBound)
                    let (eLow, eHigh) = (Double(n) * range.lowerBound, Double(n) * range.upperBound)
                    let slowRatio = Statistics.flag(
                        rate: Double(count), limits95: .init(lower: lowE.limits95.lower * eLow, upper: highE.limits95.upper * eHigh),
                        limits998: .init(lower: lowE.limits998.lower * eLow, upper: highE.limits998.upper * eHigh))
                    let ratio = IndirectStandardisation.ratio(.init(observed: count, expected: e), expectedRange: eLow...eHigh)
                    #expect(ratio.flag == slowRatio, "ratio \(count)/\(e) at \(percent)%")
                }
            }
        }
    }

    /// Need mix: the school's share with statsmodels' Wilson interval, and the reference outside it or not.
    @Test func needMixAgainstAReference() async throws {
        let cases: [(Int, Int, Double)] = [(30, 100, 0.15), (30, 100, 0.25), (2, 100, 0.15), (0, 40, 0.01), (12, 12, 0.5)]
        let reference = try await StatisticsReference.values("wilson", cases.map { ["count": $0.0, "n": $0.1, "z": Statistics.z95] })
        for (index, (count, total, share)) in cases.enumerated() {
            let mix = NeedMix.compare(count: count, total: total, reference: share)
            #expect(abs(mix.wilson95.lower - reference[index * 2]) < 1e-9 && abs(mix.wilson95.upper - reference[index * 2 + 1]) < 1e-9)
            let verdict = share < reference[index * 2] ? "higher" : share > reference[index * 2 + 1] ? "lower" : "similar"
            #expect(mix.verdict == verdict, "\(count)/\(total) against \(share)")
        }
        #expect(NeedMix.compare(count: 30, total: 100, reference: 0.15).verdict == "higher")
        #expect(NeedMix.compare(count: 2, total: 100, reference: 0.15).verdict == "lower")
    }
}

@Suite struct NationalNeedReaderTests {
    /// The layout senstat ships (census codes) and a DfE-style file (labels, time_period, other levels and phases).
    @Test func readsTheShippedLayoutAndDfEsLabels() throws {
        let shipped = """
            census_year,provision,primary_need,pupils,percent,provision_total
            2022,ehc_plan,ASD,103430,31.3,330450
            2022,ehc_plan,SEMH,49530,15,330450
            2022,sen_support,SLCN,262420,25.1,1044300
            """
        let a = try NationalNeedReader.read(Array(shipped.utf8))
        #expect(a.shares.count == 3 && a.rejections.isEmpty)
        let asd = try #require(a.shares.first { $0.need == .ASD })
        #expect(asd.provision == .ehcPlan && asd.censusYear == 2022 && asd.pupils == 103_430 && asd.provisionTotal == 330_450)
        #expect(abs((asd.share ?? 0) - 103_430.0 / 330_450.0) < 1e-15, "the share from the counts, not the rounded percent")

        let dfe = """
            time_period,time_identifier,geographic_level,country_name,region_name,phase_type_grouping,sen_provision,sen_primary_need,pupil_count,pupil_percent
            202425,Academic year,National,England,,Total,SEN support,Autistic Spectrum Disorder,100000,8.0
            202425,Academic year,National,England,,Total,SEN support,"Social, Emotional and Mental Health",250000,20.0
            202425,Academic year,National,England,,Total,SEN support,Total,1250000,100
            202425,Academic year,National,England,,Total,EHC plan,Autistic Spectrum Disorder,150000,30.0
            202425,Academic year,National,England,,State-funded primary,EHC plan,Autistic Spectrum Disorder,60000,29.0
            202425,Academic year,Regional,England,London,Total,EHC plan,Autistic Spectrum Disorder,20000,31.0
            202425,Academic year,National,England,,Total,EHC plan,Fairy dust,5,0.0
            202425,Academic year,National,England,,Total,Total,Autistic Spectrum Disorder,250000,14.0
            """
        let b = try NationalNeedReader.read(Array(dfe.utf8))
        #expect(b.shares.count == 3)
        let semh = try #require(b.shares.first { $0.need == .SEMH })
        #expect(semh.censusYear == 2025 && semh.provision == .senSupport && semh.percent == 20.0)
        #expect(b.shares.first { $0.need == .ASD && $0.provision == .ehcPlan }?.pupils == 150_000)
        #expect(b.rejections.count == 1 && b.rejections[0].row == 8 && b.rejections[0].reason.contains("Fairy dust"))
        #expect(b.skippedRows == 4, "the provision total, a phase, a region and the all-provision row")
        #expect(NationalNeedReader.recognises(header: ["time_period", "sen_primary_need"]))
        #expect(!NationalNeedReader.recognises(header: ["time_period", "phase_type_grouping"]))
    }

    @Test func aFileWithoutItsColumnsIsNamed() {
        #expect(throws: NationalReleaseReader.Failure.missingColumns(["provision", "pupils or percent"])) {
            try NationalNeedReader.read(Array("census_year,primary_need\n2022,ASD\n".utf8))
        }
    }
}
