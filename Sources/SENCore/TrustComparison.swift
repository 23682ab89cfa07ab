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

    public static func compute(_ inputs: [Input]) -> Result { compute(inputs, splitFrom: Parallel.splitFrom) }

    /// `splitFrom`: the number of schools from which their rows are computed on two threads (tests compare both ways).
    static func compute(_ inputs: [Input], splitFrom: Int) -> Result {
        let od = Statistics.overdispersion(inputs.map { Statistics.Unit(count: $0.count, n: $0.n, target: $0.target) })
        // Widened limits only where over-dispersion was estimated and is beyond chance; otherwise they are the
        // unadjusted ones.
        let widen = od?.isOverdispersed ?? false
        let phi = widen ? max(1, od?.phi ?? 1) : 1
        let tau2 = widen ? (od?.tau2 ?? 0) : 0
        // Exact limits depend on the comparator and the roll only. Where many schools share them (a national funnel:
        // 25,000 schools, a few comparators, a few thousand rolls) each pair's are computed once, kept in a table
        // by comparator and roll; a trust's hundred schools compute theirs directly.
        // Tables reach the largest roll, at most 4,096 (a few larger schools compute their own): 32 tables at most,
        // about 5 MB.
        let largestShared = inputs.count >= 1000 ? min(inputs.lazy.map(\.n).max() ?? 0, 4_096) : -1
        // The limits widened by φ and by τ² depend on the comparator and the roll too, and are kept the same way.
        func makeTables() -> (exact: LimitsTables, phi: LimitsTables, tau2: LimitsTables) {
            (
                LimitsTables(largestShared: largestShared, Statistics.exactLimits95And998),
                LimitsTables(largestShared: largestShared) { RateComparison.arcsineLimits($0, $1, phi: phi, tau2: 0) },
                LimitsTables(largestShared: largestShared) { RateComparison.arcsineLimits($0, $1, phi: 1, tau2: tau2) }
            )
        }
        func row(_ input: Input, _ tables: inout (exact: LimitsTables, phi: LimitsTables, tau2: LimitsTables)) -> Row {
            let unadjusted = RateComparison(
                count: input.count, n: input.n, target: input.target, targetRange: input.targetRange, phi: 1, tau2: 0,
                exactLimits: { tables.exact.limits($0, $1) })
            // Not widened (the usual case): the adjusted comparisons are the unadjusted one, not computed twice more.
            return Row(
                input: input, unadjusted: unadjusted,
                phiAdjusted: phi == 1
                    ? unadjusted : RateComparison(adjusting: unadjusted, phi: phi, tau2: 0, adjustedLimits: { tables.phi.limits($0, $1) }),
                tau2Adjusted: tau2 == 0
                    ? unadjusted : RateComparison(adjusting: unadjusted, phi: 1, tau2: tau2, adjustedLimits: { tables.tau2.limits($0, $1) }))
        }
        let rows: [Row]
        if inputs.count >= splitFrom {
            // A national funnel: the schools with an even roll on one thread, an odd one on another, so that each
            // thread's tables hold different rolls and no pair's limits are computed twice.
            rows = [Row](unsafeUninitializedCapacity: inputs.count) { buffer, initialized in
                let base = buffer.baseAddress!
                Parallel.halves { half in
                    var tables = makeTables()
                    for i in inputs.indices where inputs[i].n & 1 == half {
                        (base + i).initialize(to: row(inputs[i], &tables))
                    }
                }
                initialized = inputs.count
            }
        } else {
            var tables = makeTables()
            rows = inputs.map { row($0, &tables) }
        }
        return Result(
            rows: rows, pooledCount: inputs.map(\.count).reduce(0, +), pooledN: inputs.map(\.n).reduce(0, +),
            overdispersion: od)
    }

    /// Each comparator's limits by roll, computed once per pair (up to `largestShared`; -1 for none) by `compute`.
    struct LimitsTables {
        typealias Limits = (limits95: Statistics.Interval, limits998: Statistics.Interval)
        let largestShared: Int
        let compute: (_ target: Double, _ n: Int) -> Limits
        var tables: [(target: UInt64, limits: [Limits?])] = []

        init(largestShared: Int, _ compute: @escaping (_ target: Double, _ n: Int) -> Limits) {
            self.largestShared = largestShared
            self.compute = compute
        }

        mutating func limits(_ target: Double, _ n: Int) -> Limits {
            guard n >= 0, n <= largestShared else { return compute(target, n) }
            let bits = target.bitPattern
            var slot = tables.firstIndex { $0.target == bits }
            if slot == nil, tables.count < 32 {
                tables.append((bits, Array(repeating: nil, count: largestShared + 1)))
                slot = tables.count - 1
            }
            guard let slot else { return compute(target, n) }
            if let known = tables[slot].limits[n] { return known }
            let limits = compute(target, n)
            tables[slot].limits[n] = limits
            return limits
        }
    }
}
