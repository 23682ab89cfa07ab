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
        let rows = inputs.map { input in
            let unadjusted = RateComparison(count: input.count, n: input.n, target: input.target, targetRange: input.targetRange)
            // Not widened (the usual case): the adjusted comparisons are the unadjusted one, not computed twice more.
            return Row(
                input: input, unadjusted: unadjusted,
                phiAdjusted: phi == 1 ? unadjusted : RateComparison(count: input.count, n: input.n, target: input.target, targetRange: input.targetRange, phi: phi),
                tau2Adjusted: tau2 == 0 ? unadjusted : RateComparison(count: input.count, n: input.n, target: input.target, targetRange: input.targetRange, tau2: tau2))
        }
        return Result(
            rows: rows, pooledCount: inputs.map(\.count).reduce(0, +), pooledN: inputs.map(\.n).reduce(0, +),
            overdispersion: od)
    }
}
