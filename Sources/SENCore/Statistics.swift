/// Honest comparisons of a school's rate with a comparator rate, as UK public health does them: Wilson intervals
/// for the school's own rate, Spiegelhalter funnel-plot limits around the comparator, and over-dispersion
/// estimated from the schools themselves. Pure functions; formulas and references beside each.
public enum Statistics {
    /// Two-sided standard normal quantiles: 95% (1.959964) and 99.8% (3.090232).
    public static let z95 = 1.959_963_984_540_054
    public static let z998 = 3.090_232_306_167_813

    public struct Interval: Sendable, Equatable, Codable {
        public let lower: Double
        public let upper: Double

        public init(lower: Double, upper: Double) {
            self.lower = lower
            self.upper = upper
        }
    }

    /// Wilson score interval (Wilson 1927; Newcombe 1998):
    /// (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n).
    public static func wilson(count: Int, n: Int, z: Double) -> Interval {
        guard n > 0 else { return Interval(lower: 0, upper: 1) }
        let n = Double(n)
        let p = Double(count) / n
        let z2 = z * z
        let denominator = 1 + z2 / n
        let centre = (p + z2 / (2 * n)) / denominator
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / denominator
        return Interval(lower: max(0, centre - half), upper: min(1, centre + half))
    }

    /// Funnel-plot control limits around a target p0 for a unit of size n (Spiegelhalter 2005, normal
    /// approximation to the binomial): p0 ± z·√(p0(1−p0)/n · φ + τ²), clipped to [0, 1]. With φ = 1 and τ² = 0
    /// these are the unadjusted limits.
    public static func funnelLimits(target p0: Double, n: Int, z: Double, phi: Double = 1, tau2: Double = 0) -> Interval {
        guard n > 0 else { return Interval(lower: 0, upper: 1) }
        let sd = (p0 * (1 - p0) / Double(n) * phi + tau2).squareRoot()
        return Interval(lower: max(0, p0 - z * sd), upper: min(1, p0 + z * sd))
    }

    /// Exact funnel-plot limits around p0 for a unit of size n: the interpolated binomial quantiles of
    /// Spiegelhalter (2005, appendix A.1.1) at Φ(−z) and Φ(z) — 0.025 and 0.975 for 95%, 0.001 and 0.999 for
    /// 99.8%. Right where the normal approximation is not (n·p0(1−p0) below about 9, as for EHC plans in small
    /// schools), and a low flag is possible whenever the lower limit is above 0.
    public static func exactLimits(target p0: Double, n: Int, z: Double) -> Interval {
        guard n > 0 else { return Interval(lower: 0, upper: 1) }
        // A target of 0 or 1 leaves no room for chance: the limits are the target itself (the interpolation would
        // put them a hair inside and flag a school that is exactly on target).
        if p0 <= 0 { return Interval(lower: 0, upper: 0) }
        if p0 >= 1 { return Interval(lower: 1, upper: 1) }
        let tail = 0.5 * erfc(z / 2.0.squareRoot())
        let limits = Binomial.spiegelhalterLimits([tail, 1 - tail], n: n, target: p0)
        return Interval(lower: limits[0], upper: limits[1])
    }

    /// The 95% and 99.8% exact limits together (one walk of the distribution for all four).
    public static func exactLimits95And998(target p0: Double, n: Int) -> (limits95: Interval, limits998: Interval) {
        guard n > 0, p0 > 0, p0 < 1 else {
            return (exactLimits(target: p0, n: n, z: z95), exactLimits(target: p0, n: n, z: z998))
        }
        let tail95 = 0.5 * erfc(z95 / 2.0.squareRoot())
        let tail998 = 0.5 * erfc(z998 / 2.0.squareRoot())
        let l = Binomial.spiegelhalterLimits([tail998, tail95, 1 - tail95, 1 - tail998], n: n, target: p0)
        return (Interval(lower: l[1], upper: l[2]), Interval(lower: l[0], upper: l[3]))
    }

    /// How a comparison's limits were made, as the API states it (`limits_method`).
    public enum LimitsMethod: String, Sendable, Codable {
        /// Spiegelhalter's interpolated exact binomial limits (`exactLimits`).
        case exactBinomial = "exact_binomial"
        /// On the arcsine square-root scale, the variance inflated by φ (`arcsineLimits` with phi).
        case arcsinePhi = "arcsine_phi"
        /// On the arcsine square-root scale, the between-school variance τ² added (`arcsineLimits` with tau2).
        case arcsineTau2 = "arcsine_tau2"
    }

    /// z-score of an observed proportion against the target: (p − p0) / √(p0(1−p0)/n).
    public static func zScore(count: Int, n: Int, target p0: Double) -> Double {
        guard n > 0, p0 > 0, p0 < 1 else { return 0 }
        return (Double(count) / Double(n) - p0) / (p0 * (1 - p0) / Double(n)).squareRoot()
    }

    public enum Flag: String, Sendable, Codable, CaseIterable {
        case high998 = "high_99_8"
        case high95 = "high_95"
        case within
        case low95 = "low_95"
        case low998 = "low_99_8"

        public var isOutlier: Bool { self != .within }
    }

    /// Where a rate falls against 95% and 99.8% limits.
    public static func flag(rate: Double, limits95: Interval, limits998: Interval) -> Flag {
        if rate > limits998.upper { return .high998 }
        if rate > limits95.upper { return .high95 }
        if rate < limits998.lower { return .low998 }
        if rate < limits95.lower { return .low95 }
        return .within
    }

    /// Over-dispersion among units, each with its own target, on the arcsine square-root scale Spiegelhalter uses
    /// for proportions (Spiegelhalter 2005, "Handling over-dispersion of performance indicators", BMJ Qual Saf
    /// 14:347; the NHS-R FunnelPlotR package): y = asin(√(x/n)) with variance 1/(4n), z = (y − asin(√p0))·2√n.
    /// - φ = Σz_w²/k, the z-scores winsorised at their 10th and 90th percentiles, interpolated as R's quantile type
    ///   7 (so even 5 units are winsorised: floor(0.1·k) would be 0);
    /// - the test: kφ against χ² on k − 1 degrees of freedom (p-value); adjusted limits are offered only when
    ///   p < 0.05;
    /// - τ² by DerSimonian-Laird on the same scale: (kφ − (k − 1)) / (Σw − Σw²/Σw), w = 4n, and 0 when kφ ≤ k − 1;
    /// - with fewer than `minimumUnits` schools, neither φ nor τ² is estimated: one school would decide them.
    public struct Overdispersion: Sendable, Equatable {
        public let units: Int
        public let phi: Double?
        public let tau2: Double?
        /// kφ, on k − 1 degrees of freedom, and its upper-tail p-value.
        public let chiSquare: Double?
        public let degreesOfFreedom: Int
        public let pValue: Double?
        /// Why φ and τ² are not given, or not used.
        public let note: String?
        /// φ > 1 beyond chance (p < 0.05): the spread of the schools is wider than chance alone explains, and the
        /// widened limits apply.
        public var isOverdispersed: Bool { (pValue ?? 1) < 0.05 && (phi ?? 0) > 1 }
    }

    /// Fewer schools than this give no φ or τ² (FunnelPlotR and Spiegelhalter warn of estimates from a handful).
    public static let minimumUnitsForOverdispersion = 10

    public struct Unit: Sendable {
        public let count: Int
        public let n: Int
        public let target: Double

        public init(count: Int, n: Int, target: Double) {
            self.count = count
            self.n = n
            self.target = target
        }

        /// The unit's z-score on the arcsine square-root scale: (asin√(x/n) − asin√p0) · 2√n.
        public var arcsineZ: Double {
            let y = asin((Double(count) / Double(n)).squareRoot())
            let y0 = asin(min(1, max(0, target)).squareRoot())
            return (y - y0) * 2 * Double(n).squareRoot()
        }
    }

    public static func overdispersion(_ units: [Unit], winsorise fraction: Double = 0.10) -> Overdispersion? {
        let valid = units.filter { $0.n > 0 && $0.count >= 0 && $0.count <= $0.n && $0.target >= 0 && $0.target <= 1 }
        guard !valid.isEmpty else { return nil }
        let k = valid.count
        guard k >= minimumUnitsForOverdispersion else {
            return Overdispersion(
                units: k, phi: nil, tau2: nil, chiSquare: nil, degreesOfFreedom: k - 1, pValue: nil,
                note: "\(k) school\(k == 1 ? "" : "s"): over-dispersion is estimated from \(minimumUnitsForOverdispersion) or more, so the limits are not widened")
        }
        let z = valid.map(\.arcsineZ)
        let bounds = quantiles(of: z, fraction, 1 - fraction)
        let (low, high) = (bounds[0], bounds[1])
        let phi = z.map { min(max($0, low), high) }.map { $0 * $0 }.reduce(0, +) / Double(k)
        let chiSquare = Double(k) * phi
        let pValue = chiSquareSurvival(chiSquare, degreesOfFreedom: Double(k - 1))
        let weights = valid.map { 4 * Double($0.n) }
        let sumW = weights.reduce(0, +)
        let sumW2 = weights.map { $0 * $0 }.reduce(0, +)
        let excess = chiSquare - Double(k - 1)
        let tau2 = excess > 0 ? excess / (sumW - sumW2 / sumW) : 0
        let significant = pValue < 0.05 && phi > 1
        return Overdispersion(
            units: k, phi: phi, tau2: tau2, chiSquare: chiSquare, degreesOfFreedom: k - 1, pValue: pValue,
            note: significant ? nil : "no over-dispersion beyond chance (p = \((pValue * 1000).rounded() / 1000)): the limits are not widened")
    }

    /// The q-quantile of sorted values, interpolated linearly between order statistics (R's type 7, numpy's
    /// default): h = (k − 1)q, x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]).
    public static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard let first = sorted.first else { return .nan }
        guard sorted.count > 1 else { return first }
        let h = Double(sorted.count - 1) * min(1, max(0, q))
        let below = Int(h.rounded(.down))
        let above = min(below + 1, sorted.count - 1)
        return sorted[below] + (h - Double(below)) * (sorted[above] - sorted[below])
    }

    /// The q-quantiles of unsorted values (`qs` ascending), each as `quantile(values.sorted(), q)` gives it, found by
    /// selection rather than a full sort: a national funnel's 25,000 z-scores need four order statistics, and
    /// sorting them all was a fifth of its statistics' time.
    public static func quantiles(of values: [Double], _ qs: Double...) -> [Double] {
        guard values.count > 1 else { return qs.map { _ in values.first ?? .nan } }
        var a = values
        let last = a.count - 1
        var settled = 0  // a[..<settled] holds the smallest `settled` values, each at its sorted place
        var answers: [Double] = []
        answers.reserveCapacity(qs.count)
        a.withUnsafeMutableBufferPointer { a in
            func orderStatistic(_ k: Int) -> Double {
                if k >= settled {
                    select(&a, k, from: settled)
                    settled = k + 1
                }
                return a[k]
            }
            for q in qs {
                let h = Double(last) * min(1, max(0, q))
                let below = Int(h.rounded(.down))
                let x = orderStatistic(below)
                let y = orderStatistic(min(below + 1, last))
                answers.append(x + (h - Double(below)) * (y - x))
            }
        }
        return answers
    }

    /// Puts the k-th smallest of `a[from...]` at `a[k]`, smaller or equal ones before it and larger or equal after
    /// (Hoare's selection, median-of-three pivots; a range that keeps failing to shrink is sorted instead, so no
    /// input makes it quadratic). Every value must be ordered (no NaN).
    static func select(_ a: inout UnsafeMutableBufferPointer<Double>, _ k: Int, from: Int) {
        var low = from
        var high = a.count - 1
        var budget = 2 * (Int.bitWidth - a.count.leadingZeroBitCount) + 4
        while high > low {
            if budget == 0 || high - low < 16 {
                var range = UnsafeMutableBufferPointer(rebasing: a[low...high])
                range.sort()
                return
            }
            budget -= 1
            let middle = low + (high - low) / 2
            if a[middle] < a[low] { a.swapAt(middle, low) }
            if a[high] < a[low] { a.swapAt(high, low) }
            if a[high] < a[middle] { a.swapAt(high, middle) }
            let pivot = a[middle]
            var i = low
            var j = high
            while i <= j {
                while a[i] < pivot { i += 1 }
                while pivot < a[j] { j -= 1 }
                if i <= j {
                    a.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            // Now a[low...j] <= pivot <= a[i...high], and any a[j+1..<i] equal the pivot.
            if k <= j {
                high = j
            } else if k >= i {
                low = i
            } else {
                return
            }
        }
    }

    /// P(X > x) for X ~ χ² with ν degrees of freedom: the regularised upper incomplete gamma Q(ν/2, x/2).
    public static func chiSquareSurvival(_ x: Double, degreesOfFreedom nu: Double) -> Double {
        guard x > 0 else { return 1 }
        return regularisedUpperGamma(a: nu / 2, x: x / 2)
    }

    /// Q(a, x) by its series (x < a + 1) or continued fraction (Numerical Recipes, gammp/gammq).
    static func regularisedUpperGamma(a: Double, x: Double) -> Double {
        let logFront = -x + a * log(x) - lgamma(a)
        if x < a + 1 {
            var sum = 1 / a
            var term = sum
            var ap = a
            for _ in 0..<10_000 {
                ap += 1
                term *= x / ap
                sum += term
                if abs(term) < abs(sum) * 1e-16 { break }
            }
            return max(0, 1 - sum * exp(logFront))
        }
        let tiny = 1e-300
        var b = x + 1 - a
        var c = 1 / tiny
        var d = 1 / b
        var h = d
        for i in 1...10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return exp(logFront) * h
    }

    /// Limits on the arcsine square-root scale, back-transformed: sin²(asin√p0 ± z·√(φ/(4n) + τ²)).
    public static func arcsineLimits(target p0: Double, n: Int, z: Double, phi: Double = 1, tau2: Double = 0) -> Interval {
        guard n > 0 else { return Interval(lower: 0, upper: 1) }
        let centre = asin(min(1, max(0, p0)).squareRoot())
        let sd = (phi / (4 * Double(n)) + tau2).squareRoot()
        func back(_ y: Double) -> Double { pow(sin(min(Double.pi / 2, max(0, y))), 2) }
        return Interval(lower: back(centre - z * sd), upper: back(centre + z * sd))
    }
}

/// Everything about one school's rate against its comparator.
public struct RateComparison: Sendable, Equatable {
    public let count: Int
    public let n: Int
    public let rate: Double
    public let wilson95: Statistics.Interval
    public let wilson998: Statistics.Interval
    public let target: Double
    /// Percentage points above (+) or below (−) the comparator.
    public let differencePP: Double
    public let z: Double
    public let limits95: Statistics.Interval
    public let limits998: Statistics.Interval
    public let limitsMethod: Statistics.LimitsMethod
    public let flag: Statistics.Flag

    /// Where the comparator is a published percentage rounded to one or two decimals, the range of true rates it
    /// stands for; nil when it was computed from DfE's counts.
    public let targetRange: ClosedRange<Double>?

    /// Unadjusted (φ = 1, τ² = 0): exact binomial limits. Adjusted for over-dispersion: on the arcsine square-root
    /// scale with the inflated variance, where the over-dispersion was estimated (Spiegelhalter 2005).
    ///
    /// With `targetRange` (a rounded published rate), the limits shown are those around `target`, and a school is
    /// flagged only when the flag holds for every rate in the range: above the upper limit of the range's top, or
    /// below the lower limit of its bottom (both limits rise with the target).
    public init(count: Int, n: Int, target: Double, targetRange: ClosedRange<Double>? = nil, phi: Double = 1, tau2: Double = 0) {
        self.init(count: count, n: n, target: target, targetRange: targetRange, phi: phi, tau2: tau2, exactLimits: Statistics.exactLimits95And998)
    }

    /// `exactLimits`: the unadjusted limits for (target, n), from a table where many schools share them (a national
    /// funnel: 25,000 schools, far fewer distinct rolls and comparators).
    init(
        count: Int, n: Int, target: Double, targetRange: ClosedRange<Double>?, phi: Double, tau2: Double,
        exactLimits: (_ target: Double, _ n: Int) -> (limits95: Statistics.Interval, limits998: Statistics.Interval)
    ) {
        self.count = count
        self.n = n
        self.rate = n > 0 ? Double(count) / Double(n) : 0
        self.wilson95 = Statistics.wilson(count: count, n: n, z: Statistics.z95)
        self.wilson998 = Statistics.wilson(count: count, n: n, z: Statistics.z998)
        self.target = target
        self.targetRange = targetRange
        self.differencePP = (rate - target) * 100
        self.z = Statistics.zScore(count: count, n: n, target: target)
        (limits95, limits998, limitsMethod, flag) = Self.limits(
            rate: rate, n: n, target: target, targetRange: targetRange, phi: phi, tau2: tau2, exactLimits: exactLimits,
            adjustedLimits: { Self.arcsineLimits($0, $1, phi: phi, tau2: tau2) })
    }

    /// The same school's comparison with over-dispersion allowed for: what does not depend on φ and τ² (rate,
    /// Wilson intervals, z) is `unadjusted`'s, not computed again.
    init(adjusting unadjusted: RateComparison, phi: Double, tau2: Double) {
        self.init(adjusting: unadjusted, phi: phi, tau2: tau2) { Self.arcsineLimits($0, $1, phi: phi, tau2: tau2) }
    }

    /// `adjustedLimits`: the limits for (target, n) with this φ and τ², from a table where many schools share them
    /// (a national funnel).
    init(
        adjusting unadjusted: RateComparison, phi: Double, tau2: Double,
        adjustedLimits: (_ target: Double, _ n: Int) -> (limits95: Statistics.Interval, limits998: Statistics.Interval)
    ) {
        self.count = unadjusted.count
        self.n = unadjusted.n
        self.rate = unadjusted.rate
        self.wilson95 = unadjusted.wilson95
        self.wilson998 = unadjusted.wilson998
        self.target = unadjusted.target
        self.targetRange = unadjusted.targetRange
        self.differencePP = unadjusted.differencePP
        self.z = unadjusted.z
        (limits95, limits998, limitsMethod, flag) = Self.limits(
            rate: rate, n: n, target: target, targetRange: targetRange, phi: phi, tau2: tau2,
            exactLimits: Statistics.exactLimits95And998, adjustedLimits: adjustedLimits)
    }

    /// The 95% and 99.8% limits on the arcsine square-root scale, with φ and τ².
    static func arcsineLimits(_ p0: Double, _ n: Int, phi: Double, tau2: Double) -> (limits95: Statistics.Interval, limits998: Statistics.Interval) {
        (
            Statistics.arcsineLimits(target: p0, n: n, z: Statistics.z95, phi: phi, tau2: tau2),
            Statistics.arcsineLimits(target: p0, n: n, z: Statistics.z998, phi: phi, tau2: tau2)
        )
    }

    /// `exactLimits` and `adjustedLimits`: the limits for (target, n), exact binomial ones where φ = 1 and τ² = 0,
    /// else arcsine ones with this φ and τ².
    private static func limits(
        rate: Double, n: Int, target: Double, targetRange: ClosedRange<Double>?, phi: Double, tau2: Double,
        exactLimits: (_ target: Double, _ n: Int) -> (limits95: Statistics.Interval, limits998: Statistics.Interval),
        adjustedLimits: (_ target: Double, _ n: Int) -> (limits95: Statistics.Interval, limits998: Statistics.Interval)
    ) -> (Statistics.Interval, Statistics.Interval, Statistics.LimitsMethod, Statistics.Flag) {
        func limits(_ p0: Double) -> (Statistics.Interval, Statistics.Interval) {
            phi == 1 && tau2 == 0 ? exactLimits(p0, n) : adjustedLimits(p0, n)
        }
        let (limits95, limits998) = limits(target)
        let method: Statistics.LimitsMethod = phi == 1 && tau2 == 0 ? .exactBinomial : tau2 > 0 ? .arcsineTau2 : .arcsinePhi
        let atTarget = Statistics.flag(rate: rate, limits95: limits95, limits998: limits998)
        // Within at the target is within across the range (the range's limits are wider); only a flag is checked.
        guard atTarget.isOutlier, let range = targetRange, range.lowerBound < range.upperBound else {
            return (limits95, limits998, method, atTarget)
        }
        let (low95, low998) = limits(range.lowerBound)
        let (high95, high998) = limits(range.upperBound)
        let flag = Statistics.flag(
            rate: rate, limits95: Statistics.Interval(lower: low95.lower, upper: high95.upper),
            limits998: Statistics.Interval(lower: low998.lower, upper: high998.upper))
        return (limits95, limits998, method, flag)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Change over time: is a rate different from an earlier one beyond chance, and is there a trend across terms?
public enum ChangeOverTime {
    /// The difference p1 − p2 of two independent proportions with Newcombe's hybrid score interval (Newcombe 1998,
    /// "Interval estimation for the difference between independent proportions", Statistics in Medicine 17:873,
    /// method 10): with Wilson intervals (l1, u1) and (l2, u2),
    /// [d − √((p1 − l1)² + (u2 − p2)²), d + √((u1 − p1)² + (p2 − l2)²)].
    public struct Difference: Sendable, Equatable {
        public let difference: Double
        public let interval: Statistics.Interval
        /// The interval excludes 0: the change is beyond chance at this level.
        public var isSignificant: Bool { interval.lower > 0 || interval.upper < 0 }
    }

    public static func newcombe(count1: Int, n1: Int, count2: Int, n2: Int, z: Double = Statistics.z95) -> Difference? {
        guard n1 > 0, n2 > 0 else { return nil }
        let p1 = Double(count1) / Double(n1)
        let p2 = Double(count2) / Double(n2)
        let w1 = Statistics.wilson(count: count1, n: n1, z: z)
        let w2 = Statistics.wilson(count: count2, n: n2, z: z)
        let d = p1 - p2
        let lower = d - ((p1 - w1.lower) * (p1 - w1.lower) + (w2.upper - p2) * (w2.upper - p2)).squareRoot()
        let upper = d + ((w1.upper - p1) * (w1.upper - p1) + (p2 - w2.lower) * (p2 - w2.lower)).squareRoot()
        return Difference(difference: d, interval: Statistics.Interval(lower: lower, upper: upper))
    }

    /// The χ² test for a linear trend in proportions across ordered terms (Cochran 1954, Armitage 1955), as PHE
    /// Fingertips tests trends: scores t = 1…T, t̄ = Σnₜt/N, p̄ = X/N,
    /// X² = [Σxₜ(t − t̄)]² / (p̄(1 − p̄) Σnₜ(t − t̄)²) on 1 degree of freedom.
    public struct Trend: Sendable, Equatable {
        public let terms: Int
        public let chiSquare: Double
        public let pValue: Double
        /// rising or falling when p < 0.05, else none.
        public let direction: String
    }

    /// `points` in time order; terms with no return are left out (nil) but keep their place in the scores.
    public static func trend(_ points: [(count: Int, n: Int)?]) -> Trend? {
        let scored = points.enumerated().compactMap { index, point in point.flatMap { $0.n > 0 ? (t: Double(index + 1), x: Double($0.count), n: Double($0.n)) : nil } }
        guard scored.count >= 3 else { return nil }
        let total = scored.map(\.n).reduce(0, +)
        let tBar = scored.map { $0.n * $0.t }.reduce(0, +) / total
        let pBar = scored.map(\.x).reduce(0, +) / total
        let numerator = scored.map { $0.x * ($0.t - tBar) }.reduce(0, +)
        let spread = scored.map { $0.n * ($0.t - tBar) * ($0.t - tBar) }.reduce(0, +)
        guard pBar > 0, pBar < 1, spread > 0 else {
            return Trend(terms: scored.count, chiSquare: 0, pValue: 1, direction: "none")
        }
        let chiSquare = numerator * numerator / (pBar * (1 - pBar) * spread)
        let pValue = Statistics.chiSquareSurvival(chiSquare, degreesOfFreedom: 1)
        let direction = pValue < 0.05 ? (numerator > 0 ? "rising" : "falling") : "none"
        return Trend(terms: scored.count, chiSquare: chiSquare, pValue: pValue, direction: direction)
    }
}
