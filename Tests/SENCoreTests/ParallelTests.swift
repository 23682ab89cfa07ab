import Foundation
@testable import SENCore
import Testing

/// A national funnel's statistics and SVG are computed on two threads (`Parallel`, from `Parallel.splitFrom`
/// schools): the results are exactly those of one thread.
@Suite struct ParallelTests {
    /// Schools around a few comparators with between-school spread (so that φ and τ² widen the limits), rolls from
    /// tiny to beyond the shared tables' 4,096, and, with `evenOnly`, every roll even (one thread gets no school).
    static func inputs(_ count: Int, seed: UInt64, evenOnly: Bool = false) -> [TrustComparison.Input] {
        var random = SplitMix64(seed: seed)
        let targets = [0.118, 0.136, 0.152, 0.021]
        return (0..<count).map { i in
            var n = i % 97 == 0 ? 4_000 + Int(random.next() % 400) : 5 + Int(random.next() % 1_800)
            if evenOnly { n &= ~1 }
            let target = targets[Int(random.next() % UInt64(targets.count))]
            let spread = target * (0.5 + random.unit())
            let count = min(n, Int((Double(n) * spread).rounded()))
            return TrustComparison.Input(urn: URN(100_000 + i)!, count: count, n: n, target: target)
        }
    }

    @Test(arguments: [(6_000, false), (4_000, true), (4_001, false)])
    func theRowsAreThoseOfOneThread(count: Int, evenOnly: Bool) {
        let inputs = Self.inputs(count, seed: UInt64(count), evenOnly: evenOnly)
        let split = TrustComparison.compute(inputs, splitFrom: Parallel.splitFrom)
        let single = TrustComparison.compute(inputs, splitFrom: .max)
        #expect(split.overdispersion?.isOverdispersed == true, "the adjusted limits are exercised")
        #expect(split.rows.count == inputs.count)
        #expect(split.rows.map(\.input.urn) == inputs.map(\.urn))
        #expect(split.rows.map(\.unadjusted) == single.rows.map(\.unadjusted))
        #expect(split.rows.map(\.phiAdjusted) == single.rows.map(\.phiAdjusted))
        #expect(split.rows.map(\.tau2Adjusted) == single.rows.map(\.tau2Adjusted))
        // And each row is the school's own comparison, computed alone (the limits' tables change nothing).
        for index in stride(from: 0, to: inputs.count, by: 379) {
            let input = inputs[index]
            let alone = RateComparison(count: input.count, n: input.n, target: input.target)
            #expect(split.rows[index].unadjusted == alone)
            let phi = max(1, split.overdispersion?.phi ?? 1)
            #expect(split.rows[index].phiAdjusted == RateComparison(adjusting: alone, phi: phi, tau2: 0))
            #expect(split.rows[index].tau2Adjusted == RateComparison(adjusting: alone, phi: 1, tau2: split.overdispersion?.tau2 ?? 0))
        }
    }

    @Test func theSVGIsThatOfOneThread() {
        let result = TrustComparison.compute(Self.inputs(5_001, seed: 9))
        let targets = Array(Set(result.rows.map(\.input.target))).sorted()
        let series = targets.map { FunnelPlot.Series(label: "England \($0)", target: $0) }
        let points = result.rows.map { row in
            FunnelPlot.Point(
                label: "School \(row.input.urn.value) & <\"co\">", n: row.unadjusted.n, rate: row.unadjusted.rate, flag: row.unadjusted.flag,
                series: targets.firstIndex(of: row.input.target)!, link: row.input.urn.value % 3 == 0 ? "/schools/\(row.input.urn.value)" : nil)
        }
        func svg(_ splitFrom: Int) -> [UInt8] {
            FunnelPlot.svgBytes(
                title: "t", subtitle: "s", measureLabel: "SEN support", series: series, points: points, kind: .rates, emptyText: nil, splitFrom: splitFrom)
        }
        let split = svg(Parallel.splitFrom)
        #expect(split == svg(.max))
        let text = String(decoding: split, as: UTF8.self)
        #expect(text.components(separatedBy: "<g class=\"school ").count - 1 == points.count)
        #expect(text.hasSuffix("</svg>\n") || text.hasSuffix("</svg>"))
    }
}
