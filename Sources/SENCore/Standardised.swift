#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Poisson distribution, for counts against an expected number: the limits of a funnel of indirectly
/// standardised ratios and the exact interval of a trust's ratio.
public enum Poisson {
    /// P(X ≤ k) for X ~ Poisson(μ) = Q(k + 1, μ), the regularised upper incomplete gamma function.
    public static func cdf(_ k: Int, mean mu: Double) -> Double {
        if k < 0 { return 0 }
        if mu <= 0 { return 1 }
        return Statistics.regularisedUpperGamma(a: Double(k + 1), x: mu)
    }

    /// The q-quantile: the smallest r with P(X ≤ r) ≥ q (as scipy's poisson.ppf).
    public static func quantile(_ q: Double, mean mu: Double) -> Int {
        guard mu > 0 else { return 0 }
        var r = max(0, Int((mu + Binomial.normalQuantile(q) * mu.squareRoot()).rounded()))
        while r > 0, cdf(r - 1, mean: mu) >= q { r -= 1 }
        while cdf(r, mean: mu) < q { r += 1 }
        return r
    }

    /// Spiegelhalter's interpolated limit on a count (Statistics in Medicine 2005, 24:1185, appendix A.1.2): with
    /// r the q-quantile of Poisson(μ) and α = (P(X ≤ r) − q) / P(X = r), the limit is r − α (at least 0).
    public static func spiegelhalterLimit(_ q: Double, mean mu: Double) -> Double {
        guard mu > 0 else { return 0 }
        let r = quantile(q, mean: mu)
        let at = cdf(r, mean: mu)
        let below = cdf(r - 1, mean: mu)
        let alpha = at > below ? (at - q) / (at - below) : 0
        return max(0, Double(r) - alpha)
    }

    /// `spiegelhalterLimit` for several probabilities at once, in ascending order: the densities built outward
    /// from the mode by their ratio P(X = r + 1) / P(X = r) = μ / (r + 1) until they fall below 1e-18 of the
    /// mode's, summed from the lower end, and read for every probability (as `Binomial.spiegelhalterLimits`): one
    /// log-gamma density and a few hundred multiplications for a school's four limits.
    public static func spiegelhalterLimits(_ probabilities: [Double], mean mu: Double) -> [Double] {
        guard mu > 0, mu.isFinite, mu < 1e9 else { return probabilities.map { spiegelhalterLimit($0, mean: mu) } }
        let mode = Int(mu.rounded(.down))
        let peak = exp(-mu + Double(mode) * log(mu) - lgamma(Double(mode) + 1))
        guard peak > 0, peak.isFinite else { return probabilities.map { spiegelhalterLimit($0, mean: mu) } }
        return DensityWalk.quantiles(
            probabilities, mode: mode, peak: peak, highest: Int.max, down: { r in Double(r) / mu }, up: { r in mu / Double(r + 1) },
            limit: { max(0, $0) })
    }

    /// The exact (Garwood 1936) interval for a Poisson mean from an observed count: the lower end solves
    /// P(X ≥ observed; μ) = (1 − level)/2 and the upper P(X ≤ observed; μ) = (1 − level)/2 — in χ² terms
    /// χ²(α/2; 2O)/2 and χ²(1 − α/2; 2O + 2)/2. Found on the incomplete gamma function by Newton's method from
    /// Wilson and Hilferty's approximation, then by bisection to the last bit within a few ulps of it (a trust's
    /// pooled count is thousands, where bisection alone took some 60 evaluations of a slowly converging series for
    /// each end: a twentieth of a comparison's CPU time; Docs/performance.md).
    public static func exactInterval(observed: Int, z: Double) -> Statistics.Interval {
        let tail = 0.5 * erfc(z / 2.0.squareRoot())
        let o = Double(observed)
        // P(X ≥ O; μ) = 1 − Q(O, μ) rises with μ, at the rate P(X = O − 1; μ); P(X ≤ O; μ) = Q(O + 1, μ) falls, at
        // the rate P(X = O; μ).
        let lower =
            observed == 0
            ? 0
            : solve(
                increasing: true, target: tail, near: wilsonHilferty(o, -z), slope: { exp((o - 1) * log($0) - $0 - lgamma(o)) }
            ) { 1 - Statistics.regularisedUpperGamma(a: o, x: $0) }
        let upper = solve(
            increasing: false, target: tail, near: wilsonHilferty(o + 1, z), slope: { -exp(o * log($0) - $0 - lgamma(o + 1)) }
        ) { Statistics.regularisedUpperGamma(a: o + 1, x: $0) }
        return Statistics.Interval(lower: lower, upper: upper)
    }

    /// Wilson and Hilferty's approximation to the μ at which a gamma(a) variable is at normal deviate z:
    /// a(1 − 1/(9a) + z/(3√a))³.
    static func wilsonHilferty(_ a: Double, _ z: Double) -> Double {
        let t = 1 - 1 / (9 * a) + z / (3 * a.squareRoot())
        return a * t * t * t
    }

    /// The μ > 0 where a monotone function of μ equals `target`: Newton's method from `start` with the function's
    /// derivative `slope`, and once a step is within 10⁻¹³ of μ, bisection to the last bit between a few ulps
    /// either side; where that does not bracket the root (or Newton's method wanders), the search below.
    static func solve(increasing: Bool, target: Double, near start: Double, slope: (Double) -> Double, _ f: (Double) -> Double) -> Double {
        func below(_ mu: Double) -> Bool { increasing ? f(mu) < target : f(mu) > target }
        var mu = start
        if mu > 0, mu.isFinite {
            for _ in 0..<30 {
                let step = (f(mu) - target) / slope(mu)
                guard step.isFinite, mu - step > 0 else { break }
                mu -= step
                if abs(step) <= mu * 1e-13 {
                    let (low, high) = (mu * (1 - 1e-11), mu * (1 + 1e-11))
                    if below(low), !below(high) { return bisect(low, high, below) }
                    break
                }
            }
        }
        return solve(increasing: increasing, target: target, f)
    }

    /// The μ > 0 where a monotone function of μ equals `target`, by bracketing and bisection to the last bit.
    static func solve(increasing: Bool, target: Double, _ f: (Double) -> Double) -> Double {
        var low = 0.0
        var high = 1.0
        func below(_ mu: Double) -> Bool { increasing ? f(mu) < target : f(mu) > target }
        while below(high) {
            low = high
            high *= 2
            if high > 1e12 { return high }
        }
        return bisect(low, high, below)
    }

    /// Bisection of [low, high], where `below(low)` and not `below(high)`, until no double lies between them.
    static func bisect(_ low: Double, _ high: Double, _ below: (Double) -> Bool) -> Double {
        var (low, high) = (low, high)
        for _ in 0..<200 {
            let middle = (low + high) / 2
            if middle <= low || middle >= high { break }
            if below(middle) { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }
}

/// Indirect standardisation (as PHE compares areas and providers with different case mix): each school's
/// observed count against the count expected if its pupils had its own comparator's rate, E = n·p0. A ratio
/// O/E of 1 means "as its comparator"; every school, whatever its phase, sits on one funnel around 1.
public enum IndirectStandardisation {
    public struct Unit: Sendable, Equatable {
        public let observed: Int
        public let expected: Double

        public init(observed: Int, expected: Double) {
            self.observed = observed
            self.expected = expected
        }

        public var ratio: Double { expected > 0 ? Double(observed) / expected : 0 }
    }

    /// Funnel limits on the ratio for a unit expecting `expected`: Spiegelhalter's interpolated Poisson limits on
    /// the count, divided by the expected count (PHE's funnel for indirectly standardised ratios).
    public static func ratioLimits(expected: Double, z: Double) -> Statistics.Interval {
        guard expected > 0 else { return Statistics.Interval(lower: 0, upper: .infinity) }
        let tail = 0.5 * erfc(z / 2.0.squareRoot())
        let limits = Poisson.spiegelhalterLimits([tail, 1 - tail], mean: expected)
        return Statistics.Interval(lower: limits[0] / expected, upper: limits[1] / expected)
    }

    static let tail95 = 0.5 * erfc(Statistics.z95 / 2.0.squareRoot())
    static let tail998 = 0.5 * erfc(Statistics.z998 / 2.0.squareRoot())

    /// The 95% and 99.8% ratio limits together (one walk for all four).
    public static func ratioLimits95And998(expected: Double) -> (limits95: Statistics.Interval, limits998: Statistics.Interval) {
        guard expected > 0 else {
            return (Statistics.Interval(lower: 0, upper: .infinity), Statistics.Interval(lower: 0, upper: .infinity))
        }
        let l = Poisson.spiegelhalterLimits([tail998, tail95, 1 - tail95, 1 - tail998], mean: expected).map { $0 / expected }
        return (Statistics.Interval(lower: l[1], upper: l[2]), Statistics.Interval(lower: l[0], upper: l[3]))
    }

    public struct Ratio: Sendable, Equatable {
        public let observed: Int
        public let expected: Double
        public let ratio: Double
        public let limits95: Statistics.Interval
        public let limits998: Statistics.Interval
        public let flag: Statistics.Flag
    }

    /// A school's ratio with its funnel limits and flag. With `expectedRange` (the expected counts of a rounded
    /// comparator's lowest and highest true rate), a flag must hold across it: high only above the upper limit of
    /// the highest expectation, low only below the lower limit of the lowest.
    public static func ratio(_ unit: Unit, expectedRange: ClosedRange<Double>? = nil) -> Ratio {
        let (l95, l998) = ratioLimits95And998(expected: unit.expected)
        let atExpected = Statistics.flag(rate: unit.ratio, limits95: l95, limits998: l998)
        let flag: Statistics.Flag
        // Within at the expectation is within across its range; only a flag is checked at the range's ends.
        if atExpected.isOutlier, let range = expectedRange, range.lowerBound < range.upperBound, range.lowerBound > 0 {
            // In counts: lower limits at the lowest expectation, upper limits at the highest.
            let low = Poisson.spiegelhalterLimits([tail998, tail95], mean: range.lowerBound)
            let high = Poisson.spiegelhalterLimits([1 - tail95, 1 - tail998], mean: range.upperBound)
            flag = Statistics.flag(
                rate: Double(unit.observed),
                limits95: Statistics.Interval(lower: low[1], upper: high[0]),
                limits998: Statistics.Interval(lower: low[0], upper: high[1]))
        } else {
            flag = atExpected
        }
        return Ratio(observed: unit.observed, expected: unit.expected, ratio: unit.ratio, limits95: l95, limits998: l998, flag: flag)
    }

    public struct Pooled: Sendable, Equatable {
        public let observed: Int
        public let expected: Double
        public let ratio: Double
        /// Exact Poisson (Garwood) intervals on the ratio.
        public let interval95: Statistics.Interval
        public let interval998: Statistics.Interval
        /// above or below when the 95% interval excludes 1, else as_expected.
        public let verdict: String
    }

    /// The trust's indirectly standardised ratio ΣO / ΣE with exact Poisson intervals (the observed total is the
    /// Poisson count; the expected total is taken as fixed, as PHE does).
    public static func pooled(_ units: [Unit]) -> Pooled? {
        let observed = units.map(\.observed).reduce(0, +)
        let expected = units.map(\.expected).reduce(0, +)
        guard expected > 0 else { return nil }
        func interval(_ z: Double) -> Statistics.Interval {
            let i = Poisson.exactInterval(observed: observed, z: z)
            return Statistics.Interval(lower: i.lower / expected, upper: i.upper / expected)
        }
        let i95 = interval(Statistics.z95)
        return Pooled(
            observed: observed, expected: expected, ratio: Double(observed) / expected, interval95: i95,
            interval998: interval(Statistics.z998),
            verdict: i95.lower > 1 ? "above" : i95.upper < 1 ? "below" : "as_expected")
    }
}

/// A comparator published as a percentage rounded to one or two decimals stands for a range of true rates.
public enum PublishedPercent {
    /// The proportions a published percentage can stand for: ±0.05 points when it has one decimal (or none), ±0.005
    /// when it has two, ±0.0005 with three; clipped to [0, 1].
    public static func range(percent: Double) -> ClosedRange<Double> {
        func integral(_ x: Double) -> Bool { abs(x - x.rounded()) < 1e-9 }
        let half = integral(percent * 10) ? 0.05 : integral(percent * 100) ? 0.005 : 0.0005
        return max(0, (percent - half) / 100)...min(1, (percent + half) / 100)
    }
}
