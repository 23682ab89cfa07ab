import SENAPI
import SENCore

// How the server builds the benchmark's and the comparison's answers (the types are in SENAPI) from the
// statistics of SENCore: every figure rounded as the API documents it.

/// A school's comparator as the answer shows it, with the exact rate (and the range a rounded published percentage
/// stands for) that the statistics use.
struct RateTarget: Sendable {
    let comparator: Comparator
    let exactRate: Double
    let range: ClosedRange<Double>?
}

extension Interval {
    init(_ interval: Statistics.Interval) {
        self.init(lower: round5(interval.lower), upper: round5(interval.upper))
    }
}

extension ChangeBody {
    init?(count: Int, n: Int, earlier: (term: String, count: Int, n: Int)?) {
        guard let earlier, let d = ChangeOverTime.newcombe(count1: count, n1: n, count2: earlier.count, n2: earlier.n) else { return nil }
        self.init(
            fromTerm: earlier.term, fromRate: round5(Double(earlier.count) / Double(earlier.n)),
            differencePP: (d.difference * 10_000).rounded() / 100,
            interval95PP: Interval(lower: (d.interval.lower * 10_000).rounded() / 100, upper: (d.interval.upper * 10_000).rounded() / 100),
            significant: d.isSignificant)
    }
}

extension TrendTestBody {
    init?(_ trend: ChangeOverTime.Trend?) {
        guard let trend else { return nil }
        self.init(
            terms: trend.terms, chiSquare: (trend.chiSquare * 1000).rounded() / 1000,
            pValue: (trend.pValue * 100_000).rounded() / 100_000, direction: trend.direction)
    }
}

extension RatioBody {
    init(count: Int, n: Int, target: RateTarget) {
        let unit = IndirectStandardisation.Unit(observed: count, expected: Double(n) * target.exactRate)
        let range = target.range.map { Double(n) * $0.lowerBound...Double(n) * $0.upperBound }
        let r = IndirectStandardisation.ratio(unit, expectedRange: range)
        self.init(
            observed: r.observed, expected: (r.expected * 1000).rounded() / 1000, ratio: round5(r.ratio),
            limits95: Interval(r.limits95), limits998: Interval(r.limits998), flag: r.flag.rawValue)
    }
}

extension StandardisedBody {
    init?(_ units: [IndirectStandardisation.Unit]) {
        guard let p = IndirectStandardisation.pooled(units) else { return nil }
        self.init(
            schools: units.count, observed: p.observed, expected: (p.expected * 1000).rounded() / 1000, ratio: round5(p.ratio),
            interval95: Interval(p.interval95), interval998: Interval(p.interval998), verdict: p.verdict)
    }
}

extension Measure {
    init(_ c: RateComparison, target: RateTarget, change: ChangeBody?, trendTest: TrendTestBody?) {
        self.init(
            count: c.count, pupilsOnRoll: c.n, rate: round5(c.rate), wilson95: Interval(c.wilson95), wilson998: Interval(c.wilson998),
            comparator: target.comparator, differencePP: (c.differencePP * 100).rounded() / 100, z: (c.z * 1000).rounded() / 1000,
            limits95: Interval(c.limits95), limits998: Interval(c.limits998), limitsMethod: c.limitsMethod.rawValue,
            flag: c.flag.rawValue, flagAtRate: flagAtPointRate(c), ratio: RatioBody(count: c.count, n: c.n, target: target),
            change: change, trendTest: trendTest)
    }
}

/// The flag against the point rate, where the rounding of a published comparator made the shown flag weaker.
func flagAtPointRate(_ c: RateComparison) -> String? {
    guard c.targetRange != nil else { return nil }
    let atRate = Statistics.flag(rate: c.rate, limits95: c.limits95, limits998: c.limits998)
    return atRate == c.flag ? nil : atRate.rawValue
}

func round5(_ value: Double) -> Double { (value * 100_000).rounded() / 100_000 }
