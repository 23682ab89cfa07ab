import Foundation
import Testing

@testable import SENCore

/// The exact Poisson interval found by Newton's method and a short bisection is the one bisection alone finds from
/// nothing, from one pupil to two million, to 10⁻¹¹ of its value: the incomplete gamma function is itself only so
/// exact at large counts, and either search stops at a different point of that last uncertainty (scipy holds both to
/// 1e-9: StandardisedTests).
@Suite struct PoissonIntervalTests {
    @Test func newtonsStartGivesBisectionsInterval() {
        let counts = Array(0...60) + [99, 250, 999, 1_000, 1_901, 5_000, 20_000, 123_457, 2_000_000]
        for observed in counts {
            for z in [1.0, Statistics.z95, Statistics.z998, 4.5] {
                let tail = 0.5 * erfc(z / 2.0.squareRoot())
                let o = Double(observed)
                let lower = observed == 0 ? 0 : Poisson.solve(increasing: true, target: tail) { 1 - Statistics.regularisedUpperGamma(a: o, x: $0) }
                let upper = Poisson.solve(increasing: false, target: tail) { Statistics.regularisedUpperGamma(a: o + 1, x: $0) }
                let interval = Poisson.exactInterval(observed: observed, z: z)
                #expect(abs(interval.lower - lower) <= 1e-11 * lower, "\(observed), z \(z): lower \(interval.lower) against \(lower)")
                #expect(abs(interval.upper - upper) <= 1e-11 * upper, "\(observed), z \(z): upper \(interval.upper) against \(upper)")
                #expect(interval.lower < o || observed == 0)
                #expect(interval.upper > o)
            }
        }
    }

    /// Where Newton's method cannot start (a start at or below zero) or does not settle, the search from nothing.
    @Test func aBadStartFallsBackToTheSearch() {
        let tail = 0.025
        let f: (Double) -> Double = { Statistics.regularisedUpperGamma(a: 41, x: $0) }
        let plain = Poisson.solve(increasing: false, target: tail, f)
        for start in [-5.0, 0, .nan, .infinity] {
            #expect(Poisson.solve(increasing: false, target: tail, near: start, slope: { _ in -1 }, f) == plain)
        }
        // A slope of the wrong sign sends Newton's method away: still the same root.
        let wandered = Poisson.solve(increasing: false, target: tail, near: 40, slope: { _ in 1 }, f)
        #expect(abs(wandered - plain) <= 1e-11 * plain)
    }
}
