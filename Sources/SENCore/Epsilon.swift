/// A differential-privacy loss ε, held exactly as a whole number of micro-ε (millionths), so that a ledger of
/// charges adds up without rounding and no charge can round down to nothing (Docs/privacy.md).
public struct Epsilon: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let microPerUnit: Int64 = 1_000_000
    /// The smallest ε one query may spend: below it the noise swamps any count a release holds.
    public static let queryMinimum = Epsilon(micro: 10_000)
    /// The largest ε one query may spend, whatever the budget.
    public static let queryMaximum = Epsilon(micro: 10 * microPerUnit)
    /// Decimal places a query's ε may have: the ledger's own precision, so a charge is exactly what was asked.
    public static let queryDecimals = 6

    public let micro: Int64

    public init(micro: Int64) {
        self.micro = micro
    }

    /// Parses a plain decimal (`0.25`, `1`, `.5` is refused) with at most `decimals` places and at most 1,000 in
    /// whole units: no sign, exponent, `nan` or `inf`, so every value has one exact reading.
    public init?(parsing text: some StringProtocol, decimals: Int = 6) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, (1...4).contains(whole.count), whole.allSatisfy(\.isASCIIDigit) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard parts.count == 1 || (1...decimals).contains(fraction.count), fraction.allSatisfy(\.isASCIIDigit),
            let units = Int64(whole), units <= 1_000
        else { return nil }
        let padded = fraction + String(repeating: "0", count: 6 - fraction.count)
        guard let part = Int64(padded) else { return nil }
        micro = units * Self.microPerUnit + part
    }

    public var value: Double { Double(micro) / Double(Self.microPerUnit) }

    /// `0.5`, `1`, `0.000001`: the shortest exact decimal.
    public var description: String {
        let whole = micro / Self.microPerUnit
        var fraction = String(micro % Self.microPerUnit)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? String(whole) : "\(whole).\(fraction)"
    }

    public static func < (a: Epsilon, b: Epsilon) -> Bool { a.micro < b.micro }

    public static func - (a: Epsilon, b: Epsilon) -> Epsilon { Epsilon(micro: a.micro - b.micro) }
}

extension Character {
    var isASCIIDigit: Bool { asciiValue.map { (48...57).contains($0) } ?? false }
}

/// The privacy loss of one DP answer. An answer noises, in every cell and in the total, the cell's units and each of
/// its values. Adding or removing one pupil (or respondent) moves, by 1 each, the units and the values it counts in,
/// in its own cell and in the total: an L1 sensitivity of 2 × (1 + values it counts in). So an answer that is to
/// cost ε noises each count at ε / sensitivity, and the ledger charges ε (Docs/privacy.md).
public enum PrivacyLoss {
    /// `valuesPerUnit`: 1 for SEN (a pupil is on SEN support or has a plan, not both) and single-choice items; the
    /// number of options for a multiple-choice item.
    public static func sensitivity(valuesPerUnit: Int) -> Int { 2 * (1 + max(1, valuesPerUnit)) }

    public static func epsilonPerCount(_ epsilon: Epsilon, sensitivity: Int) -> Double {
        epsilon.value / Double(max(1, sensitivity))
    }
}
