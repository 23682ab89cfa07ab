import Foundation
import SENCore
import SENTestSupport
import Testing

/// Exact binomial funnel limits against scipy (Tests/statistics/references.py), to 1e-9.
@Suite struct BinomialTests {
    static let ns = [1, 2, 3, 5, 8, 13, 20, 37, 50, 73, 100, 150, 200, 333, 500, 1_000, 2_000, 10_000]
    static let targets = [0.0005, 0.005, 0.012, 0.03, 0.053, 0.148, 0.35, 0.5, 0.9, 0.97]
    static let probabilities = [0.001, 0.025, 0.975, 0.999]

    @Test func spiegelhalterLimitsMatchScipyOnAGrid() async throws {
        var cases: [[String: Any]] = []
        var mine: [Double] = []
        for n in Self.ns {
            for p0 in Self.targets {
                for q in Self.probabilities {
                    cases.append(["n": n, "p0": p0, "q": q])
                    mine.append(Binomial.spiegelhalterLimit(q, n: n, target: p0))
                }
            }
        }
        let reference = try await StatisticsReference.values("binomial_limit", cases)
        #expect(reference.count == mine.count)
        var worst = 0.0
        for (index, (a, b)) in zip(mine, reference).enumerated() {
            worst = max(worst, abs(a - b))
            #expect(abs(a - b) < 1e-9, "\(cases[index]): \(a) against scipy's \(b)")
        }
        print("binomial limits: \(mine.count) compared with scipy, largest difference \(worst)")
        // And the batched walk the comparisons use, on the same grid.
        var index = 0
        for n in Self.ns {
            for p0 in Self.targets {
                for limit in Binomial.spiegelhalterLimits(Self.probabilities, n: n, target: p0) {
                    #expect(abs(limit - reference[index]) < 1e-9, "\(cases[index]): \(limit) against scipy's \(reference[index])")
                    index += 1
                }
            }
        }
    }

    /// The walk that gives all four limits at once agrees with four separate searches (and so with scipy).
    @Test func theBatchedLimitsAreTheSingleOnes() {
        let qs = Self.probabilities
        for n in Self.ns {
            for p0 in Self.targets {
                let batched = Binomial.spiegelhalterLimits(qs, n: n, target: p0)
                for (q, limit) in zip(qs, batched) {
                    // The two differ only by log-gamma's rounding at n = 10,000 (about 2e-12).
                    #expect(abs(limit - Binomial.spiegelhalterLimit(q, n: n, target: p0)) < 1e-10, "n \(n), p0 \(p0), q \(q)")
                }
            }
        }
    }

    @Test func cdfAndQuantileMatchScipy() async throws {
        var cdfCases: [[String: Any]] = []
        var ppfCases: [[String: Any]] = []
        var cdfs: [Double] = []
        var ppfs: [Double] = []
        for n in [1, 7, 40, 400, 4_000] {
            for p in [0.001, 0.03, 0.3, 0.77] {
                for k in Set([0, 1, n / 10, n / 3, n / 2, n - 1, n]) {
                    cdfCases.append(["k": k, "n": n, "p": p])
                    cdfs.append(Binomial.cdf(k, n: n, p: p))
                }
                for q in [1e-6, 0.001, 0.2, 0.5, 0.975, 0.999999] {
                    ppfCases.append(["q": q, "n": n, "p": p])
                    ppfs.append(Double(Binomial.quantile(q, n: n, p: p)))
                }
            }
        }
        let cdfReference = try await StatisticsReference.values("binomial_cdf", cdfCases)
        for (index, (a, b)) in zip(cdfs, cdfReference).enumerated() { #expect(abs(a - b) < 1e-10, "\(cdfCases[index]): \(a) vs \(b)") }
        let ppfReference = try await StatisticsReference.values("binomial_ppf", ppfCases)
        for (index, (a, b)) in zip(ppfs, ppfReference).enumerated() { #expect(a == b, "\(ppfCases[index]): \(a) vs \(b)") }
        let qs = [1e-12, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.999, 1 - 1e-12]
        let normal = try await StatisticsReference.values("normal_ppf", qs.map { ["q": $0] })
        // The normal quantile only seeds the search for the exact binomial one: 1e-8 of its size is plenty.
        for (q, b) in zip(qs, normal) { #expect(abs(Binomial.normalQuantile(q) - b) < 1e-8 * max(1, abs(b)), "\(q)") }
    }

    /// The edge cases a school can bring: a target of 0 or 1, a school of one pupil.
    @Test func edges() {
        #expect(Binomial.spiegelhalterLimit(0.999, n: 100, target: 0) == 0)
        // Every pupil at the target of 1: the lower limit interpolates just below 1, as scipy's gives.
        #expect(abs(Binomial.spiegelhalterLimit(0.001, n: 100, target: 1) - 0.99001) < 1e-12)
        #expect(Binomial.spiegelhalterLimit(0.001, n: 0, target: 0.1) == 0)
        #expect(Binomial.cdf(3, n: 10, p: 0) == 1 && Binomial.cdf(3, n: 10, p: 1) == 0)
        let limits = [0.001, 0.025, 0.975, 0.999].map { Binomial.spiegelhalterLimit($0, n: 1, target: 0.03) }
        #expect(limits == limits.sorted())
    }
}
