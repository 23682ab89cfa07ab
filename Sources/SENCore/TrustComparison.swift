/// A set of schools (a trust) against their comparators: each school's comparison with unadjusted limits, and
/// with limits widened for the over-dispersion the set itself shows (multiplicative φ and additive τ²).
public enum TrustComparison {
    public struct Input: Sendable {
        public let urn: URN
        public let count: Int
        public let n: Int
        public let target: Double
        /// The true rates a rounded published comparator stands for (nil when computed from counts).
        public let targetRange: ClosedRange<Double>?

        public init(urn: URN, count: Int, n: Int, target: Double, targetRange: ClosedRange<Double>? = nil) {
            self.urn = urn
            self.count = count
            self.n = n
            self.target = target
            self.targetRange = targetRange
        }
    }

    public struct Row: Sendable {
        public let input: Input
        public let unadjusted: RateComparison
        /// Limits √φ wider on the arcsine scale; the same as unadjusted unless the trust is over-dispersed.
        public let phiAdjusted: RateComparison
        /// Limits with the between-school variance τ² added (DerSimonian-Laird).
        public let tau2Adjusted: RateComparison
    }

    public struct Result: Sendable {
        public let rows: [Row]
        public let pooledCount: Int
        public let pooledN: Int
        public let overdispersion: Statistics.Overdispersion?

        public var pooledRate: Double { pooledN > 0 ? Double(pooledCount) / Double(pooledN) : 0 }
    }

    public static func compute(_ inputs: [Input]) -> Result {
        let od = Statistics.overdispersion(inputs.map { Statistics.Unit(count: $0.count, n: $0.n, target: $0.target) })
        // Widened limits only where over-dispersion was estimated and is beyond chance; otherwise they are the
        // unadjusted ones.
        let widen = od?.isOverdispersed ?? false
        let phi = widen ? max(1, od?.phi ?? 1) : 1
        let tau2 = widen ? (od?.tau2 ?? 0) : 0
        // Exact limits depend on the comparator and the roll only. Where many schools share them (a national funnel:
        // 25,000 schools, a few comparators, a few thousand rolls) each pair's are computed once, kept in a table
        // by comparator and roll; a trust's hundred schools compute theirs directly.
        typealias Limits = (limits95: Statistics.Interval, limits998: Statistics.Interval)
        // Tables reach the largest roll, at most 4,096 (a few larger schools compute their own): 32 tables at most,
        // about 5 MB.
        let largestShared = inputs.count >= 1000 ? min(inputs.lazy.map(\.n).max() ?? 0, 4_096) : -1
        var tables: [(target: UInt64, limits: [Limits?])] = []
        func exactLimits(_ target: Double, _ n: Int) -> Limits {
            guard n >= 0, n <= largestShared else { return Statistics.exactLimits95And998(target: target, n: n) }
            let bits = target.bitPattern
            var slot = tables.firstIndex { $0.target == bits }
            if slot == nil, tables.count < 32 {
                tables.append((bits, Array(repeating: nil, count: largestShared + 1)))
                slot = tables.count - 1
            }
            guard let slot else { return Statistics.exactLimits95And998(target: target, n: n) }
            if let known = tables[slot].limits[n] { return known }
            let limits = Statistics.exactLimits95And998(target: target, n: n)
            tables[slot].limits[n] = limits
            return limits
        }
        let rows = inputs.map { input in
            let unadjusted = RateComparison(
                count: input.count, n: input.n, target: input.target, targetRange: input.targetRange, phi: 1, tau2: 0, exactLimits: exactLimits)
            // Not widened (the usual case): the adjusted comparisons are the unadjusted one, not computed twice more.
            return Row(
                input: input, unadjusted: unadjusted,
                phiAdjusted: phi == 1 ? unadjusted : RateComparison(adjusting: unadjusted, phi: phi, tau2: 0),
                tau2Adjusted: tau2 == 0 ? unadjusted : RateComparison(adjusting: unadjusted, phi: 1, tau2: tau2))
        }
        return Result(
            rows: rows, pooledCount: inputs.map(\.count).reduce(0, +), pooledN: inputs.map(\.n).reduce(0, +),
            overdispersion: od)
    }
}
