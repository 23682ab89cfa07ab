import Foundation
import SENCore
import SENTestSupport
import Testing

/// Reference values computed independently (by hand and in Python with the same formulas; the formula is beside
/// each), to 4 decimal places.
@Suite struct StatisticsTests {
    func close(_ a: Double, _ b: Double, _ tolerance: Double = 0.00005) -> Bool { abs(a - b) <= tolerance }

    /// DOMAIN.md's worked example: 12 of 200 (6%) against 14.8% is below the 99.8% limit (about 7.0%); the same
    /// 6% in a school of 40 is within the limits.
    @Test func theWorkedExample() {
        let big = RateComparison(count: 12, n: 200, target: 0.148)
        // The normal approximation: p0 − z·√(p0(1−p0)/n) = 0.148 − 3.090232·0.025111 = 0.070406.
        #expect(close(Statistics.funnelLimits(target: 0.148, n: 200, z: Statistics.z998).lower, 0.070406))
        // The exact limit the comparison uses: Spiegelhalter's interpolated 0.001 quantile of Binomial(200, 0.148),
        // 0.073121 (scipy: binom.ppf(0.001, 200, 0.148) = 15, α = 0.3758; BinomialTests checks the whole grid).
        #expect(big.limitsMethod == .exactBinomial)
        #expect(close(big.limits998.lower, 0.073121))
        #expect(big.flag == .low998)
        let small = RateComparison(count: 2, n: 40, target: 0.148)  // 5%: the nearest whole-pupil 6% at n = 40 is 2.4
        #expect(small.flag == .within)
        let sixPercentOf50 = RateComparison(count: 3, n: 50, target: 0.148)
        #expect(sixPercentOf50.flag == .within)
    }

    /// Wilson: (p + z²/2n ± z√(p(1−p)/n + z²/4n²)) / (1 + z²/n).
    /// 12/200, z 1.959964: centre (0.06 + 0.009604)/1.019208 = 0.068293, half 1.959964·√(0.000282 + 0.0000240)/1.019208
    /// = 0.033640 → [0.034652, 0.101932]. 0/40, z 1.959964: [0, 0.087622].
    @Test func wilsonIntervals() {
        let a = Statistics.wilson(count: 12, n: 200, z: Statistics.z95)
        #expect(close(a.lower, 0.034652) && close(a.upper, 0.101932))
        let b = Statistics.wilson(count: 0, n: 40, z: Statistics.z95)
        #expect(b.lower == 0 && close(b.upper, 0.087622, 0.0001))
        let c = Statistics.wilson(count: 40, n: 40, z: Statistics.z998)
        #expect(c.upper == 1 && c.lower < 1)
    }

    /// z = (p − p0)/√(p0(1−p0)/n): (0.06 − 0.148)/0.025111 = −3.50467.
    @Test func zScoresAndFlags() {
        #expect(close(Statistics.zScore(count: 12, n: 200, target: 0.148), -3.50467))
        let high = RateComparison(count: 60, n: 200, target: 0.148)
        #expect(high.flag == .high998 && high.differencePP > 15)
        let slightlyHigh = RateComparison(count: 40, n: 200, target: 0.148)  // z = 2.07
        #expect(slightlyHigh.flag == .high95)
        let slightlyLow = RateComparison(count: 19, n: 200, target: 0.148)  // z = −2.11
        #expect(slightlyLow.flag == .low95)
    }

    /// φ, the χ² test, its p-value and τ² on the arcsine square-root scale against numpy/scipy (to 1e-9), on sets
    /// of 10 to 60 schools with targets of their own, including targets of 0 and 1 and counts of 0 and n.
    @Test func overdispersionMatchesScipy() async throws {
        var random = SplitMix64(seed: 5)
        var sets: [[Statistics.Unit]] = [[-4, -3, -2, -1, 0, 0, 1, 2, 3, 4].map { Statistics.Unit(count: 40 + 6 * $0, n: 400, target: 0.1) }]
        for k in [10, 11, 12, 17, 25, 60] {
            sets.append((0..<k).map { _ in
                let n = 20 + Int(random.next() % 1500)
                let target = [0.012, 0.035, 0.148, 0.134, 0.5][Int(random.next() % 5)]
                let rate = min(1, max(0, target * (0.4 + random.unit() * 1.4)))
                return Statistics.Unit(count: Int((Double(n) * rate).rounded()), n: n, target: target)
            })
        }
        // The edges: a target of 0 and of 1, no pupils counted, every pupil counted.
        sets.append((0..<12).map { i in Statistics.Unit(count: [0, 3, 100, 7][i % 4], n: 100 + i, target: [0, 0.05, 1, 0.07][i % 4]) })
        let reference = try await StatisticsReference.values(
            "overdispersion", sets.map { ["units": $0.map { ["count": $0.count, "n": $0.n, "target": $0.target] }] })
        for (index, units) in sets.enumerated() {
            let od = try #require(Statistics.overdispersion(units))
            let expected = Array(reference[(index * 4)..<(index * 4 + 4)])
            let mine = [od.phi, od.chiSquare, od.pValue, od.tau2].map { $0 ?? .nan }
            for (a, b) in zip(mine, expected) { #expect(abs(a - b) <= 1e-9 * max(1, abs(b)), "set \(index): \(mine) vs \(expected)") }
            #expect(od.units == units.count && od.degreesOfFreedom == units.count - 1)
        }
        // The constructed set is over-dispersed beyond doubt.
        #expect(try #require(Statistics.overdispersion(sets[0])).isOverdispersed)
    }

    /// Below 10 schools neither φ nor τ² is estimated (one school would decide them), and k = 2 gives none.
    @Test func tooFewSchoolsGiveNoOverdispersion() async throws {
        for k in [1, 2, 5, 9] {
            let od = try #require(Statistics.overdispersion((0..<k).map { Statistics.Unit(count: 10 + 20 * $0, n: 200, target: 0.1) }))
            #expect(od.phi == nil && od.tau2 == nil && od.pValue == nil && !od.isOverdispersed)
            #expect(od.note?.contains("\(k) school") == true)
        }
        // Twelve schools within chance: estimated, tested, not over-dispersed, nothing widened.
        let calm = (0..<12).map { Statistics.Unit(count: 40 + [0, 1, -1, 2, -2, 0][$0 % 6], n: 400, target: 0.1) }
        let od = try #require(Statistics.overdispersion(calm))
        #expect(od.phi != nil && (od.pValue ?? 0) > 0.05 && !od.isOverdispersed)
        let comparison = TrustComparison.compute(calm.enumerated().map { .init(urn: URN(100_000 + $0.offset)!, count: $0.element.count, n: 400, target: 0.1) })
        #expect(comparison.rows.allSatisfy { $0.phiAdjusted.limits998 == $0.unadjusted.limits998 && $0.phiAdjusted.limitsMethod == .exactBinomial })
    }

    /// Interpolated winsorising works with few schools: with 10, the most extreme z on each side is pulled in
    /// (floor(0.1 · 10) = 1 and the interpolated 10th percentile agree here), and the quantile is R's type 7.
    @Test func quantilesInterpolateAsRsType7() {
        let values = [1.0, 2, 3, 4, 10]
        #expect(abs(Statistics.quantile(values, 0.1) - 1.4) < 1e-12)
        #expect(abs(Statistics.quantile(values, 0.9) - 7.6) < 1e-12)
        #expect(Statistics.quantile([5], 0.3) == 5)
        #expect(abs(Statistics.chiSquareSurvival(3.841458820694124, degreesOfFreedom: 1) - 0.05) < 1e-12)
    }

    /// Quantiles found by selection are the sorted array's, exactly: random sizes (1 to 300, and 25,000), values with
    /// many ties, already sorted and reversed input, and every fraction the winsorising could ask for.
    @Test func quantilesBySelectionAreTheSortedOnes() {
        var generator = SystemRandomNumberGenerator()
        var cases: [[Double]] = []
        for size in [1, 2, 3, 5, 10, 16, 17, 33, 100, 300] {
            cases.append((0..<size).map { _ in Double.random(in: -5...5, using: &generator) })
            cases.append((0..<size).map { _ in Double(Int.random(in: -3...3, using: &generator)) })
            cases.append((0..<size).map { Double($0) })
            cases.append((0..<size).map { -Double($0) })
            cases.append(Array(repeating: 1.5, count: size))
        }
        cases.append((0..<25_000).map { _ in Double.random(in: -8...8, using: &generator).rounded() / 4 })
        for values in cases {
            let sorted = values.sorted()
            for q in [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1] {
                let pair = Statistics.quantiles(of: values, q, min(1, q + 0.8))
                #expect(pair == [Statistics.quantile(sorted, q), Statistics.quantile(sorted, min(1, q + 0.8))], "\(values.count) values, q \(q)")
            }
        }
        #expect(Statistics.quantiles(of: [], 0.1).allSatisfy { $0.isNaN })
    }

    /// Adjusted limits are wider, so fewer schools are flagged, and they are scipy's arcsine-scale limits.
    @Test func adjustedLimitsWiden() async throws {
        let inputs = [-4, -3, -2, -1, 0, 0, 1, 2, 3, 4].enumerated().map {
            TrustComparison.Input(urn: URN(100_000 + $0.offset)!, count: 40 + 6 * $0.element, n: 400, target: 0.1)
        }
        let result = TrustComparison.compute(inputs)
        #expect(result.pooledN == 4000 && result.pooledCount == 400)
        let od = try #require(result.overdispersion)
        let unadjusted = result.rows.filter { $0.unadjusted.flag.isOutlier }.count
        let phi = result.rows.filter { $0.phiAdjusted.flag.isOutlier }.count
        let tau2 = result.rows.filter { $0.tau2Adjusted.flag.isOutlier }.count
        #expect(unadjusted >= 6)
        #expect(phi < unadjusted && tau2 < unadjusted)
        let first = result.rows[0]
        #expect(first.phiAdjusted.limitsMethod == .arcsinePhi && first.tau2Adjusted.limitsMethod == .arcsineTau2)
        let reference = try await StatisticsReference.values("arcsine_limit", [
            ["p0": 0.1, "n": 400, "z": Statistics.z998, "phi": od.phi!, "tau2": 0],
            ["p0": 0.1, "n": 400, "z": Statistics.z998, "phi": 1, "tau2": od.tau2!],
        ])
        #expect(abs(first.phiAdjusted.limits998.lower - reference[0]) < 1e-12 && abs(first.phiAdjusted.limits998.upper - reference[1]) < 1e-12)
        #expect(abs(first.tau2Adjusted.limits998.lower - reference[2]) < 1e-12 && abs(first.tau2Adjusted.limits998.upper - reference[3]) < 1e-12)
    }
}

@Suite struct ComparatorTests {
    @Test(arguments: [
        ("primary", "Academy converter", ComparatorPhase.stateFundedPrimary),
        ("middle_deemed_primary", "Academy converter", .stateFundedPrimary),
        ("secondary", "Academy sponsor led", .stateFundedSecondary),
        ("middle_deemed_secondary", "Academy converter", .stateFundedSecondary),
        ("16_plus", "Academy 16-19 converter", .stateFundedSecondary),
        ("all_through", "Free schools", .allSchools),
        ("not_applicable", "Academy special converter", .special),
        ("primary", "Community special school", .special),
        ("not_applicable", "Non-maintained special school", .special),
        ("not_applicable", "Pupil referral unit", .alternativeProvision),
        ("secondary", "Academy alternative provision converter", .alternativeProvision),
        ("nursery", "Local authority nursery school", .allSchools),
    ])
    func comparatorPhase(_ phase: String, _ type: String, _ expected: ComparatorPhase) {
        let (chosen, reason) = ComparatorPhase.forSchool(phase: phase, establishmentType: type)
        #expect(chosen == expected)
        #expect(!reason.isEmpty)
        #expect((chosen.setting == .mainstream) == [.allSchools, .stateFundedPrimary, .stateFundedSecondary].contains(chosen))
    }
}

@Suite struct NationalReleaseReaderTests {
    @Test func readsDfEsLayoutAggregatesAndKeepsSymbols() async throws {
        let text = """
            time_period,geographic_level,country_name,region_name,old_la_code,la_name,phase_type_grouping,type_of_establishment,total_pupils,sen_support,ehc_plan,sen_support_percent,ehc_plan_percent
            202526,National,England,,,,Total,Total,9000000,1300000,500000,14.4,5.6
            202526,National,England,,,,State-funded special school,Total,160000,c,150000,c,93.8
            202526,National,England,,,,Pupil referral unit,Total,12000,3000,4000,25.0,33.3
            202526,National,England,,,,Independent school,Total,600000,50000,20000,8.3,3.3
            202526,Local authority,England,North West,352,Manchester,State-funded primary,Academy converter,20000,3000,700,15.0,3.5
            202526,Local authority,England,North West,352,Manchester,State-funded primary,Community school,30000,4800,1100,16.0,3.7
            202526,Local authority,England,North West,350,Bolton,State-funded primary,Total,z,z,z,z,z
            """
        let result = try NationalReleaseReader.read(Array(text.utf8))
        func rate(_ level: String, _ code: Int, _ provision: Provision) -> NationalRate? {
            result.rates.first { $0.level == level && $0.areaCode == code && $0.provision == provision }
        }
        #expect(rate("national", 970, .senSupport)?.censusYear == 2026)
        #expect(rate("national", 970, .senSupport)?.percent == 14.4)
        // Manchester's two establishment types summed: 7800 / 50000 = 15.6%, 1800 / 50000 = 3.6%.
        #expect(rate("local_authority", 352, .senSupport)?.percent == 15.6)
        #expect(rate("local_authority", 352, .ehcPlan)?.percent == 3.6)
        #expect(rate("local_authority", 350, .senSupport)?.percent == nil)
        #expect(rate("local_authority", 350, .senSupport)?.symbol == "z")
        #expect(rate("local_authority", 350, .senSupport)?.pupils == nil)
        // Counts are kept where the file has them, so the comparator can be computed from them.
        #expect(rate("national", 970, .senSupport)?.pupils == 1_300_000)
        #expect(rate("national", 970, .senSupport)?.totalPupils == 9_000_000)
        #expect(rate("local_authority", 352, .ehcPlan)?.pupils == 1800)
        #expect(rate("local_authority", 352, .ehcPlan)?.totalPupils == 50_000)
        // Special schools are a comparator of their own: the EHC rate as published, SEN support suppressed (c).
        let special = result.rates.filter { $0.phase == .special }
        #expect(special.first { $0.provision == .ehcPlan }?.percent == 93.8)
        #expect(special.first { $0.provision == .ehcPlan }?.pupils == 150_000)
        #expect(special.first { $0.provision == .senSupport }?.percent == nil)
        #expect(special.first { $0.provision == .senSupport }?.symbol == "c")
        let ap = result.rates.filter { $0.phase == .alternativeProvision }
        #expect(ap.first { $0.provision == .ehcPlan }?.percent == 33.3)
        #expect(ap.first { $0.provision == .senSupport }?.pupils == 3000)
        #expect(result.skippedRows == 1, "independent schools are part of Total, not a comparator of their own")
    }

    @Test func missingColumnsAreNamed() {
        #expect(throws: NationalReleaseReader.Failure.missingColumns(["phase_type_grouping"])) {
            try NationalReleaseReader.read(Array("time_period,geographic_level\n202526,National\n".utf8))
        }
    }
}

/// The edges a trust can bring (issue 18, item 8).
@Suite struct StatisticsEdgeTests {
    /// A term with no data draws an empty state: no NaN, no empty census year.
    @Test func anEmptyFunnelSaysSo() {
        let svg = FunnelPlot.svg(title: "SEN support by school, 2026-27-autumn", subtitle: "No returns yet", measureLabel: "SEN support", series: [], points: [])
        #expect(!svg.lowercased().contains("nan") && !svg.contains("inf"))
        #expect(svg.contains("nothing to plot"))
    }

    /// A school with no pupils on roll is a validation error, not a missing return.
    @Test func aRollOfZeroIsAnError() {
        let result = SENReturnValidator.validate(["pupils_on_roll": .text("0"), "sen_support": .text("0"), "ehc_plan": .text("0")])
        guard case .failure(let issues) = result else {
            Issue.record("a roll of 0 was accepted")
            return
        }
        #expect(issues.contains { $0.key == "pupils_on_roll" && $0.code == "minimum" })
    }

    /// A comparator of 0 or 1 does not drop a school: it has exact limits, a flag, and counts in the trust's
    /// over-dispersion.
    @Test func targetsOfZeroAndOneKeepTheSchool() async throws {
        let none = RateComparison(count: 0, n: 120, target: 0)
        #expect(none.flag == .within && none.limits998.upper == 0)
        let some = RateComparison(count: 3, n: 120, target: 0)
        #expect(some.flag == .high998)
        let all = RateComparison(count: 120, n: 120, target: 1)
        #expect(all.flag == .within)
        let units = (0..<12).map { Statistics.Unit(count: $0 == 0 ? 0 : 10 + $0, n: 200, target: $0 == 0 ? 0 : 0.08) }
        #expect(try #require(Statistics.overdispersion(units)).units == 12)
    }
}

@Suite struct FunnelLayoutTests {
    /// The boxes of the numbers placed beside the points.
    static func numberBoxes(_ svg: String) -> [(x: Double, y: Double, w: Double)] {
        svg.split(separator: "\n").flatMap { line -> [(x: Double, y: Double, w: Double)] in
            guard let range = line.range(of: "<text class=\"number\" x=\"") else { return [] }
            let rest = line[range.upperBound...]
            let parts = rest.split(separator: "\"")
            guard parts.count > 3, let x = Double(parts[0]), let y = Double(parts[2]),
                let close = rest.range(of: "</text>"), let open = rest.range(of: ">")
            else { return [] }
            let number = rest[open.upperBound..<close.lowerBound]
            return [(x - 1, y - 10, Double(number.count) * 7 + 2)]
        }
    }

    /// Forty schools crowded into one corner of the funnel, under twelve comparators: no number overlaps another,
    /// every school is listed by number, and no comparator colour repeats.
    @Test func crowdedPointsGetNumbersThatDoNotCollide() {
        var random = SplitMix64(seed: 9)
        let series = (0..<12).map { FunnelPlot.Series(label: "comparator \($0)", target: 0.1 + Double($0) * 0.005) }
        let points = (0..<40).map { i in
            FunnelPlot.Point(label: "School \(i)", n: 200 + Int(random.next() % 60), rate: 0.12 + random.unit() * 0.03, flag: .within, series: i % 12)
        }
        let svg = FunnelPlot.svg(title: "t", subtitle: "s", measureLabel: "SEN support", series: series, points: points)
        let boxes = Self.numberBoxes(svg)
        #expect(boxes.count == 40)
        var collisions = 0
        for i in boxes.indices {
            for j in boxes.indices where j > i {
                let (a, b) = (boxes[i], boxes[j])
                if a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + 12 && b.y < a.y + 12 { collisions += 1 }
            }
        }
        #expect(collisions == 0)
        for i in 1...40 { #expect(svg.contains(">\(i). School "), "school \(i) listed") }
        let colours = svg.split(separator: "\n").filter { $0.hasPrefix("<g class=\"comparator\"") }.map { line -> String in
            let after = line[line.range(of: "stroke=\"")!.upperBound...]
            return String(after.prefix { $0 != "\"" })
        }
        #expect(colours.count == 12 && Set(colours).count == 12, "\(colours)")
    }

    /// A national funnel is not numbered (numbers for thousands of schools could be neither placed nor read, and
    /// placing them grows with the square of the schools): each point keeps its name and link; the key says why.
    @Test func aNationalFunnelNamesEveryPointWithoutNumbers() {
        var random = SplitMix64(seed: 3)
        let series = [FunnelPlot.Series(label: "England", target: 0.13)]
        let count = FunnelPlot.numberedLimit + 1
        let points = (0..<count).map { i in
            FunnelPlot.Point(label: "School \(i)", n: 100 + Int(random.next() % 1500), rate: 0.05 + random.unit() * 0.2, flag: i % 50 == 0 ? .high998 : .within, series: 0, link: "/schools/\(i)")
        }
        let svg = FunnelPlot.svg(title: "t", subtitle: "s", measureLabel: "SEN support", series: series, points: points)
        #expect(Self.numberBoxes(svg).isEmpty)
        #expect(svg.contains("\(count) schools: too many to number."))
        #expect(svg.components(separatedBy: "<a href=\"/schools/").count - 1 == count)
        #expect(svg.components(separatedBy: "<title>").count - 1 >= count)
        #expect(svg.components(separatedBy: "<g ").count + svg.components(separatedBy: "<g>").count - 2 == svg.components(separatedBy: "</g>").count - 1, "every group is closed")
        #expect(svg.components(separatedBy: "<a ").count == svg.components(separatedBy: "</a>").count, "every link is closed")
        let fewer = FunnelPlot.svg(title: "t", subtitle: "s", measureLabel: "SEN support", series: series, points: Array(points.prefix(FunnelPlot.numberedLimit)))
        #expect(Self.numberBoxes(fewer).count == FunnelPlot.numberedLimit)
    }

    /// Points are ranked by roll (or expected count), then rate, then name, equal ones in their given order: the
    /// national funnel's bucketed sort (1,000 points or more, rates) and the general one (fewer, or ratios) give
    /// the ranks a plain sort of the same keys gives, with many ties on roll, rate and name.
    @Test func pointsAreRankedByRollRateAndName() {
        var random = SplitMix64(seed: 21)
        for (count, ratios) in [(3_000, false), (1_200, true), (200, false), (1_000, false)] {
            let points = (0..<count).map { i in
                let n = 20 + Int(random.next() % 40)
                let rate = Double(Int(random.next() % 6)) / Double(n)
                return FunnelPlot.Point(
                    label: ["Ash", "Beech", "Cedar", "Ash & Oak", "Élan", "ash"][Int(random.next() % 6)] + (i % 7 == 0 ? " \(i)" : ""),
                    n: n, rate: rate, flag: .within, series: 0, expected: ratios ? Double(n) * 0.1 : nil, link: "/s/\(i)")
            }
            let expected = points.indices.sorted { a, b in
                let (pa, pb) = (points[a], points[b])
                let (xa, xb) = ratios ? (pa.expected!, pb.expected!) : (Double(pa.n), Double(pb.n))
                if xa != xb { return xa < xb }
                if pa.rate != pb.rate { return pa.rate < pb.rate }
                if pa.label != pb.label { return pa.label < pb.label }
                return a < b
            }
            let svg = FunnelPlot.svg(
                title: "t", subtitle: "s", measureLabel: "m", series: [.init(label: "England", target: ratios ? 1 : 0.1)], points: points,
                kind: ratios ? .ratios : .rates)
            // Each link leads to its point; in the order drawn, the links give the ranks.
            let drawn = svg.components(separatedBy: "<a href=\"/s/").dropFirst().map { Int($0.prefix { $0.isNumber })! }
            #expect(drawn == expected, "\(count) points, ratios \(ratios)")
            let firstName = "<title>1. " + MarkupText.escape(points[expected[0]].label, apostrophe: "&apos;") + ":"
            #expect(svg.contains(firstName))
        }
    }
}

/// Change over time against statsmodels (Tests/statistics/references.py), to 1e-9.
@Suite struct ChangeOverTimeTests {
    @Test func newcombeIntervalsMatchStatsmodels() async throws {
        let pairs = [(30, 200, 20, 210), (3, 40, 0, 38), (0, 120, 0, 118), (120, 120, 100, 120), (14, 420, 31, 415), (1, 7, 6, 9)]
        let reference = try await StatisticsReference.values("newcombe", pairs.map { ["x1": $0.0, "n1": $0.1, "x2": $0.2, "n2": $0.3] })
        for (index, pair) in pairs.enumerated() {
            let d = try #require(ChangeOverTime.newcombe(count1: pair.0, n1: pair.1, count2: pair.2, n2: pair.3))
            #expect(abs(d.interval.lower - reference[2 * index]) < 1e-9, "\(pair)")
            #expect(abs(d.interval.upper - reference[2 * index + 1]) < 1e-9, "\(pair)")
        }
        #expect(ChangeOverTime.newcombe(count1: 14, n1: 420, count2: 31, n2: 415)?.isSignificant == true)
        #expect(ChangeOverTime.newcombe(count1: 30, n1: 200, count2: 20, n2: 210)?.isSignificant == false)
        #expect(ChangeOverTime.newcombe(count1: 1, n1: 0, count2: 1, n2: 3) == nil)
    }

    @Test func theTrendTestMatchesStatsmodels() async throws {
        let series: [[(count: Int, n: Int)?]] = [
            [(30, 200), (35, 205), nil, (45, 210), (50, 215)],
            [(12, 300), (12, 302), (13, 299), (11, 305), (12, 301), (12, 300)],
            [(60, 400), (52, 398), (47, 401), (40, 405)],
            [(2, 30), (0, 31), (3, 29), (5, 33), (4, 30), (6, 32), (7, 31), (9, 30), (8, 29)],
        ]
        let reference = try await StatisticsReference.values("trend", series.map { ["points": $0.map { point -> Any in point.map { [$0.count, $0.n] } ?? NSNull() }] })
        for (index, points) in series.enumerated() {
            let trend = try #require(ChangeOverTime.trend(points))
            #expect(abs(trend.chiSquare - reference[2 * index]) < 1e-9 * max(1, reference[2 * index]), "series \(index)")
            #expect(abs(trend.pValue - reference[2 * index + 1]) < 1e-9, "series \(index)")
        }
        #expect(ChangeOverTime.trend(series[0])?.direction == "rising")
        #expect(ChangeOverTime.trend(series[1])?.direction == "none")
        #expect(ChangeOverTime.trend(series[2])?.direction == "falling")
        #expect(ChangeOverTime.trend([(1, 10), (2, 10)]) == nil, "two terms are no trend")
    }
}

/// A national comparison (1,000 schools or more) computes each (comparator, roll) pair's exact limits once and
/// reuses the unadjusted comparison's rate, intervals and z for the adjusted ones: every row must be what each
/// school's own comparison gives.
@Suite struct SharedLimitsTests {
    @Test func aLargeComparisonIsEachSchoolsOwn() throws {
        var random = SplitMix64(seed: 21)
        let targets = [0.12, 0.135, 0.02, 0.97]
        let inputs = (0..<3000).map { i in
            let n = 20 + Int(random.next() % 400)
            let target = targets[i % targets.count]
            // Spread well beyond chance, so that φ and τ² widen the adjusted limits.
            let rate = min(1, max(0, target * (0.3 + 1.4 * random.unit())))
            return TrustComparison.Input(
                urn: URN(100_000 + i)!, count: Int((rate * Double(n)).rounded()), n: n, target: target,
                targetRange: i % 7 == 0 ? (target - 0.0005)...(target + 0.0005) : nil)
        }
        let result = TrustComparison.compute(inputs)
        let od = try #require(result.overdispersion)
        #expect(od.isOverdispersed, "the test needs widened limits")
        let phi = max(1, od.phi ?? 1)
        let tau2 = od.tau2 ?? 0
        for row in result.rows {
            let input = row.input
            #expect(row.unadjusted == RateComparison(count: input.count, n: input.n, target: input.target, targetRange: input.targetRange))
            #expect(row.phiAdjusted == RateComparison(count: input.count, n: input.n, target: input.target, targetRange: input.targetRange, phi: phi))
            #expect(row.tau2Adjusted == RateComparison(count: input.count, n: input.n, target: input.target, targetRange: input.targetRange, tau2: tau2))
        }
    }
}
