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
        let tail = 0.5 * erfc(z / 2.0.squareRoot())
        return Interval(
            lower: Binomial.spiegelhalterLimit(tail, n: n, target: p0), upper: Binomial.spiegelhalterLimit(1 - tail, n: n, target: p0))
    }

    /// How a comparison's limits were made, as the API states it (`limits_method`).
    public enum LimitsMethod: String, Sendable, Codable {
        /// Spiegelhalter's interpolated exact binomial limits (`exactLimits`).
        case exactBinomial = "exact_binomial"
        /// Normal approximation with variance inflated by φ (`funnelLimits` with phi).
        case normalPhi = "normal_phi"
        /// Normal approximation with the between-school variance τ² added (`funnelLimits` with tau2).
        case normalTau2 = "normal_tau2"
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

    /// Over-dispersion among units, each with its own target (Spiegelhalter 2005, "Handling over-dispersion of
    /// performance indicators", BMJ Qual Saf 14:347): z-scores winsorised at 10% at each end give the
    /// multiplicative φ = Σz²/k; the additive between-unit variance is DerSimonian-Laird's
    /// τ² = (kφ − (k − 1)) / (Σw − Σw²/Σw) with w = 1/s², s² = p0(1−p0)/n, and 0 when kφ ≤ k − 1.
    public struct Overdispersion: Sendable, Equatable {
        public let units: Int
        public let phi: Double
        public let tau2: Double
        /// φ > 1: the spread of the schools is wider than chance alone explains.
        public var isOverdispersed: Bool { phi > 1 }
    }

    public struct Unit: Sendable {
        public let count: Int
        public let n: Int
        public let target: Double

        public init(count: Int, n: Int, target: Double) {
            self.count = count
            self.n = n
            self.target = target
        }
    }

    public static func overdispersion(_ units: [Unit], winsorise fraction: Double = 0.10) -> Overdispersion? {
        let valid = units.filter { $0.n > 0 && $0.target > 0 && $0.target < 1 }
        guard valid.count >= 2 else { return nil }
        let k = valid.count
        let z = valid.map { zScore(count: $0.count, n: $0.n, target: $0.target) }
        let sorted = z.sorted()
        let cut = Int((Double(k) * fraction).rounded(.down))
        let low = sorted[cut]
        let high = sorted[k - 1 - cut]
        let phi = z.map { min(max($0, low), high) }.map { $0 * $0 }.reduce(0, +) / Double(k)
        let weights = valid.map { Double($0.n) / ($0.target * (1 - $0.target)) }
        let sumW = weights.reduce(0, +)
        let sumW2 = weights.map { $0 * $0 }.reduce(0, +)
        let excess = Double(k) * phi - Double(k - 1)
        let tau2 = excess > 0 ? excess / (sumW - sumW2 / sumW) : 0
        return Overdispersion(units: k, phi: phi, tau2: tau2)
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

    /// Unadjusted (φ = 1, τ² = 0): exact binomial limits. Adjusted for over-dispersion: the normal approximation
    /// with the inflated variance, as Spiegelhalter (2005) adjusts it.
    public init(count: Int, n: Int, target: Double, phi: Double = 1, tau2: Double = 0) {
        self.count = count
        self.n = n
        self.rate = n > 0 ? Double(count) / Double(n) : 0
        self.wilson95 = Statistics.wilson(count: count, n: n, z: Statistics.z95)
        self.wilson998 = Statistics.wilson(count: count, n: n, z: Statistics.z998)
        self.target = target
        self.differencePP = (rate - target) * 100
        self.z = Statistics.zScore(count: count, n: n, target: target)
        if phi == 1 && tau2 == 0 {
            self.limits95 = Statistics.exactLimits(target: target, n: n, z: Statistics.z95)
            self.limits998 = Statistics.exactLimits(target: target, n: n, z: Statistics.z998)
            self.limitsMethod = .exactBinomial
        } else {
            self.limits95 = Statistics.funnelLimits(target: target, n: n, z: Statistics.z95, phi: phi, tau2: tau2)
            self.limits998 = Statistics.funnelLimits(target: target, n: n, z: Statistics.z998, phi: phi, tau2: tau2)
            self.limitsMethod = tau2 > 0 ? .normalTau2 : .normalPhi
        }
        self.flag = Statistics.flag(rate: rate, limits95: limits95, limits998: limits998)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
