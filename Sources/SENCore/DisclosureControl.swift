/// Statistical disclosure control for research answers (Docs/privacy.md):
/// - a cell is shown only with at least 10 units (respondents, or pupils for SEN counts), 3 schools and 2 trusts;
/// - complementary suppression: in every group whose margin is shown (the table's total, or the parent area's
///   figure, which another query shows), either no cell or at least two are hidden, so no hidden cell is the
///   margin minus the shown ones;
/// - shown counts are rounded to the nearest 5, and percentages (one decimal) are computed from the rounded counts.
public enum DisclosureControl {
    public struct Rules: Sendable {
        public var minimumUnits = 10
        public var minimumSchools = 3
        public var minimumTrusts = 2
        public var rounding = 5

        public init() {}
    }

    /// One aggregated cell before control.
    public struct Cell: Sendable, Equatable {
        public let key: String
        /// The group whose margin this cell adds up to (nil: the table's total).
        public let parent: String?
        public let units: Int
        public let schools: Int
        public let trusts: Int
        public let values: [String: Int]

        public init(key: String, parent: String?, units: Int, schools: Int, trusts: Int, values: [String: Int]) {
            self.key = key
            self.parent = parent
            self.units = units
            self.schools = schools
            self.trusts = trusts
            self.values = values
        }
    }

    public enum Suppression: String, Sendable, Codable {
        case primary
        case complementary
    }

    public struct Controlled: Sendable, Equatable {
        public let key: String
        public let parent: String?
        /// nil when suppressed (shown as `c`).
        public let units: Int?
        public let values: [String: Int]?
        public let suppression: Suppression?

        public func percent(_ value: String) -> Double? {
            guard let units, units > 0, let count = values?[value] else { return nil }
            return (Double(count) / Double(units) * 1000).rounded() / 10
        }
    }

    public static func passes(_ cell: Cell, _ rules: Rules) -> Bool {
        cell.units >= rules.minimumUnits && cell.schools >= rules.minimumSchools && cell.trusts >= rules.minimumTrusts
    }

    public static func round(_ value: Int, to base: Int) -> Int { ((value + base / 2) / base) * base }

    /// Controls `cells` (and the table's `total`, itself subject to the thresholds).
    public static func control(_ cells: [Cell], total: Cell?, rules: Rules = Rules()) -> (cells: [Controlled], total: Controlled?) {
        var suppressed: [String: Suppression] = [:]
        for cell in cells where !passes(cell, rules) { suppressed[cell.key] = .primary }
        let totalShown = total.map { passes($0, rules) } ?? false
        // Complementary suppression, group by group, until no group has exactly one hidden cell.
        var changed = true
        while changed {
            changed = false
            let groups = Dictionary(grouping: cells, by: { $0.parent ?? "" })
            for (parent, members) in groups {
                let marginShown = parent.isEmpty ? totalShown : true
                guard marginShown else { continue }
                let hidden = members.filter { suppressed[$0.key] != nil }
                guard hidden.count == 1 else { continue }
                let candidates = members.filter { suppressed[$0.key] == nil }.sorted { ($0.units, $0.key) < ($1.units, $1.key) }
                if let smallest = candidates.first {
                    suppressed[smallest.key] = .complementary
                    changed = true
                }
            }
        }
        func controlled(_ cell: Cell, _ reason: Suppression?) -> Controlled {
            if let reason { return Controlled(key: cell.key, parent: cell.parent, units: nil, values: nil, suppression: reason) }
            return Controlled(
                key: cell.key, parent: cell.parent, units: round(cell.units, to: rules.rounding),
                values: cell.values.mapValues { round($0, to: rules.rounding) }, suppression: nil)
        }
        return (cells.map { controlled($0, suppressed[$0.key]) }, total.map { controlled($0, totalShown ? nil : .primary) })
    }

    /// A pool of several schools' counts by category (a trust's pupils by primary need) as a member school's
    /// leader may see it: they know their own school's counts, so each category is judged on the other schools'
    /// part. A category is shown only if the other schools hold at least `minimumUnits` of it; where exactly one
    /// category would be hidden, the next smallest is hidden with it (the pool's total less the shown categories
    /// would give it away); shown counts are the pool's, rounded. nil is `c`.
    public static func poolForMember(own: [String: Int], pooled: [String: Int], rules: Rules = Rules()) -> [String: Int?] {
        var rules = rules
        rules.minimumSchools = 0
        rules.minimumTrusts = 0
        let others = pooled.keys.sorted().map { key in
            Cell(key: key, parent: nil, units: max(0, pooled[key, default: 0] - own[key, default: 0]), schools: 1, trusts: 1, values: [:])
        }
        let total = Cell(key: "all", parent: nil, units: others.map(\.units).reduce(0, +), schools: 1, trusts: 1, values: [:])
        let controlled = control(others, total: total, rules: rules).cells
        return Dictionary(uniqueKeysWithValues: controlled.map { cell in
            (cell.key, cell.suppression == nil ? round(pooled[cell.key, default: 0], to: rules.rounding) : nil)
        })
    }
}

/// The discrete Laplace (two-sided geometric) mechanism: integer noise with P(k) ∝ exp(−ε|k|), ε-differentially
/// private for counts of sensitivity 1 (Ghosh, Roughgarden and Sundararajan 2009). Variance 2e^{−ε}/(1 − e^{−ε})².
///
/// Total for any input: ε that is not a positive finite number is read as the smallest positive Double, and every
/// draw is clamped to ±`bound`, so no ε and no generator can make it trap. The clamp changes the distribution only
/// beyond 2^40, which the API's smallest ε per count (about 10^-4) reaches with probability below e^-10^8.
public enum DiscreteLaplace {
    /// The largest magnitude a draw can have: counts plus noise stay far inside Int64.
    public static let bound = 1 << 40

    public static func sample(epsilon: Double, using generator: inout some RandomNumberGenerator) -> Int {
        // Each geometric is in 0...bound, so the difference is in −bound...bound: no overflow.
        geometric(epsilon, &generator) - geometric(epsilon, &generator)
    }

    /// Failures before the first success with success probability 1 − e^{−ε}, by inversion.
    static func geometric(_ epsilon: Double, _ generator: inout some RandomNumberGenerator) -> Int {
        let rate = epsilon.isFinite && epsilon > 0 ? epsilon : .leastNonzeroMagnitude
        var u = Double.random(in: 0..<1, using: &generator)
        if u == 0 { u = .leastNonzeroMagnitude }
        // −log(u) is in [0, 745]; divided by a tiny rate it can be huge or infinite, never NaN.
        let draw = (-log(u) / rate).rounded(.down)
        guard draw < Double(bound) else { return bound }
        return Int(exactly: draw) ?? bound
    }

    public static func variance(epsilon: Double) -> Double {
        let q = exp(-epsilon)
        return 2 * q / ((1 - q) * (1 - q))
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): a small seeded generator, for data and tests that must come out the
/// same on every machine. Not for anything secret.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A Double in [0, 1) from the top 53 bits.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
