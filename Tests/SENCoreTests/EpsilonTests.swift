import Foundation
import SENCore
import Testing

@Suite struct EpsilonTests {
    @Test func parsesPlainDecimalsExactly() {
        #expect(Epsilon(parsing: "0.5")?.micro == 500_000)
        #expect(Epsilon(parsing: "1")?.micro == 1_000_000)
        #expect(Epsilon(parsing: "0.000001")?.micro == 1)
        #expect(Epsilon(parsing: "1000")?.micro == 1_000_000_000)
        #expect(Epsilon(parsing: "0.1")?.description == "0.1")
        #expect(Epsilon(parsing: "2.50")?.description == "2.5")
        #expect(Epsilon(micro: 0).description == "0")
    }

    /// Every text a query string can carry that is not a plain decimal within range is refused, not approximated.
    @Test(arguments: [
        "", "1e-300", "1e300", "1E-3", "nan", "NaN", "inf", "-inf", "Infinity", "-0.5", "+0.5", ".5", "5.", "0.0000001",
        "1001", "99999999999999999999", "0x1p-3", "0,5", " 0.5", "0.5 ", "١", "0.5.1", "0.1234567",
    ])
    func refusesAnythingElse(_ text: String) {
        #expect(Epsilon(parsing: text) == nil)
    }

    @Test func precisionIsChosenByTheCaller() {
        #expect(Epsilon(parsing: "0.0001", decimals: 3) == nil)
        #expect(Epsilon(parsing: "0.001", decimals: 3)?.micro == 1_000)
    }

    /// The charge of an answer is its ε; each count is noised at ε / sensitivity, and the sensitivity is what one
    /// person can move: units and the values they count in, in their cell and in the total.
    @Test func privacyLossSplitsEpsilonAcrossTheCountsOnePersonMoves() {
        #expect(PrivacyLoss.sensitivity(valuesPerUnit: 1) == 4)
        #expect(PrivacyLoss.sensitivity(valuesPerUnit: 4) == 10)
        #expect(PrivacyLoss.epsilonPerCount(Epsilon(micro: 1_000_000), sensitivity: 4) == 0.25)
        // Summed over the counts one person moves, the losses are the answer's ε (Docs/privacy.md).
        let epsilon = Epsilon(micro: 300_000)
        for values in 1...12 {
            let sensitivity = PrivacyLoss.sensitivity(valuesPerUnit: values)
            let perCount = PrivacyLoss.epsilonPerCount(epsilon, sensitivity: sensitivity)
            #expect(abs(perCount * Double(sensitivity) - epsilon.value) < 1e-12)
        }
    }
}

@Suite struct DiscreteLaplaceSafetyTests {
    /// Property: for any ε a caller could pass, including the ones that trapped (1e-300) and ones that are not
    /// numbers at all, and any seed, a draw returns and stays within ±bound.
    @Test(arguments: [
        1e-300, 1e-320, Double.leastNonzeroMagnitude, 1e-12, 1e-6, 0.0025, 0.01, 1, 10, 1e300, Double.greatestFiniteMagnitude,
        0, -0.0, -1, -1e300, Double.infinity, -Double.infinity, Double.nan,
    ])
    func neverTrapsAndStaysBounded(_ epsilon: Double) {
        for seed in [0, 1, 42, UInt64.max, 0x9E37_79B9_7F4A_7C15] as [UInt64] {
            var generator = SplitMix64(seed: seed)
            for _ in 0..<2_000 {
                let draw = DiscreteLaplace.sample(epsilon: epsilon, using: &generator)
                #expect(abs(draw) <= DiscreteLaplace.bound)
            }
        }
    }

    /// A generator that returns 0 and one that returns all ones: the two ends of inversion sampling.
    @Test func extremeGeneratorOutputs() {
        struct Constant: RandomNumberGenerator {
            let value: UInt64
            mutating func next() -> UInt64 { value }
        }
        for value in [0, UInt64.max] {
            var generator = Constant(value: value)
            for epsilon in [1e-300, 0.01, 1, 1e300] {
                let draw = DiscreteLaplace.sample(epsilon: epsilon, using: &generator)
                #expect(draw == 0, "both geometrics equal on a constant generator")
            }
        }
        // A tiny ε with u near 0 draws at the clamp, not past it.
        var tiny = Constant(value: 0)
        #expect(abs(DiscreteLaplace.sample(epsilon: 1e-300, using: &tiny)) <= DiscreteLaplace.bound)
    }

    /// The smallest ε per count the API can ask for (0.01 split over a 12-option multiple-choice item's 26 counts)
    /// still gives noise of the expected size, not the clamp.
    @Test func theSmallestRealScaleIsUnclamped() {
        var generator = SplitMix64(seed: 3)
        let perCount = 0.01 / 26
        let draws = (0..<4_000).map { _ in DiscreteLaplace.sample(epsilon: perCount, using: &generator) }
        #expect(draws.allSatisfy { abs($0) < DiscreteLaplace.bound })
        let sd = (draws.map { Double($0 * $0) }.reduce(0, +) / Double(draws.count)).squareRoot()
        let expected = DiscreteLaplace.variance(epsilon: perCount).squareRoot()
        #expect(abs(sd / expected - 1) < 0.1)
    }
}
