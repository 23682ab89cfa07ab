import SENCore
import Testing

/// Reference values computed independently (by hand and in Python with the same formulas; the formula is beside
/// each), to 4 decimal places.
@Suite struct StatisticsTests {
    func close(_ a: Double, _ b: Double, _ tolerance: Double = 0.00005) -> Bool { abs(a - b) <= tolerance }

    /// DOMAIN.md's worked example: 12 of 200 (6%) against 14.8% is below the 99.8% limit (about 7.0%); the same
    /// 6% in a school of 40 is within the limits.
    @Test func theWorkedExample() {
        let big = RateComparison(count: 12, n: 200, target: 0.148)
        // The normal approximation: p0 − z·√(p0(1−p0)/n) = 0.148 − 3.090232·0.025111 = 0.070406.
        #expect(close(Statistics.funnelLimits(target: 0.148, n: 200, z: Statistics.z998).lower, 0.070406))
        // The exact limit the comparison uses: Spiegelhalter's interpolated 0.001 quantile of Binomial(200, 0.148),
        // 0.073121 (scipy: binom.ppf(0.001, 200, 0.148) = 15, α = 0.3758; BinomialTests checks the whole grid).
        #expect(big.limitsMethod == .exactBinomial)
        #expect(close(big.limits998.lower, 0.073121))
        #expect(big.flag == .low998)
        let small = RateComparison(count: 2, n: 40, target: 0.148)  // 5%: the nearest whole-pupil 6% at n = 40 is 2.4
        #expect(small.flag == .within)
        let sixPercentOf50 = RateComparison(count: 3, n: 50, target: 0.148)
        #expect(sixPercentOf50.flag == .within)
    }

    /// Wilson: (p + z²/2n ± z√(p(1−p)/n + z²/4n²)) / (1 + z²/n).
    /// 12/200, z 1.959964: centre (0.06 + 0.009604)/1.019208 = 0.068293, half 1.959964·√(0.000282 + 0.0000240)/1.019208
    /// = 0.033640 → [0.034652, 0.101932]. 0/40, z 1.959964: [0, 0.087622].
    @Test func wilsonIntervals() {
        let a = Statistics.wilson(count: 12, n: 200, z: Statistics.z95)
        #expect(close(a.lower, 0.034652) && close(a.upper, 0.101932))
        let b = Statistics.wilson(count: 0, n: 40, z: Statistics.z95)
        #expect(b.lower == 0 && close(b.upper, 0.087622, 0.0001))
        let c = Statistics.wilson(count: 40, n: 40, z: Statistics.z998)
        #expect(c.upper == 1 && c.lower < 1)
    }

    /// z = (p − p0)/√(p0(1−p0)/n): (0.06 − 0.148)/0.025111 = −3.50467.
    @Test func zScoresAndFlags() {
        #expect(close(Statistics.zScore(count: 12, n: 200, target: 0.148), -3.50467))
        let high = RateComparison(count: 60, n: 200, target: 0.148)
        #expect(high.flag == .high998 && high.differencePP > 15)
        let slightlyHigh = RateComparison(count: 40, n: 200, target: 0.148)  // z = 2.07
        #expect(slightlyHigh.flag == .high95)
        let slightlyLow = RateComparison(count: 19, n: 200, target: 0.148)  // z = −2.11
        #expect(slightlyLow.flag == .low95)
    }

    /// Constructed so the answer is known: ten schools of 400 with target 0.1 (s = 0.015, w = 4444.4) and
    /// z = −4, −3, −2, −1, 0, 0, 1, 2, 3, 4 (counts 40 + 6z). Winsorising 10% clips ±4 to ±3: Σz² = 46, φ = 4.6.
    /// τ² = (kφ − (k−1)) / (Σw − Σw²/Σw) = (46 − 9) / (44444.4 − 4444.4) = 37/40000 = 0.000925.
    @Test func overdispersionOnAKnownSet() throws {
        let units = [-4, -3, -2, -1, 0, 0, 1, 2, 3, 4].map { Statistics.Unit(count: 40 + 6 * $0, n: 400, target: 0.1) }
        let od = try #require(Statistics.overdispersion(units))
        #expect(close(od.phi, 4.6, 1e-9))
        #expect(close(od.tau2, 0.000925, 1e-9))
        #expect(od.isOverdispersed)
        // No spread beyond chance: τ² is 0.
        let calm = [0, 0, 1, -1].map { Statistics.Unit(count: 40 + 6 * $0, n: 400, target: 0.1) }
        #expect(try #require(Statistics.overdispersion(calm)).tau2 == 0)
    }

    /// Adjusted limits are wider, so fewer schools are flagged; the flags say which limits they used.
    @Test func adjustedLimitsWiden() {
        let inputs = [-4, -3, -2, -1, 0, 0, 1, 2, 3, 4].enumerated().map {
            TrustComparison.Input(urn: URN(100_000 + $0.offset)!, count: 40 + 6 * $0.element, n: 400, target: 0.1)
        }
        let result = TrustComparison.compute(inputs)
        #expect(result.pooledN == 4000 && result.pooledCount == 400)
        let unadjusted = result.rows.filter { $0.unadjusted.flag.isOutlier }.count
        let phi = result.rows.filter { $0.phiAdjusted.flag.isOutlier }.count
        let tau2 = result.rows.filter { $0.tau2Adjusted.flag.isOutlier }.count
        #expect(unadjusted == 6)  // |z| ≥ 2
        #expect(phi < unadjusted && tau2 < unadjusted)
        let first = result.rows[0]
        // √φ wider: 0.1 ± 3.090232·√(4.6)·0.015
        #expect(close(first.phiAdjusted.limits998.lower, 0.1 - 3.090232 * 4.6.squareRoot() * 0.015, 1e-6))
        #expect(close(first.tau2Adjusted.limits998.lower, max(0, 0.1 - 3.090232 * (0.000225 + 0.000925).squareRoot()), 1e-6))
    }
}

@Suite struct ComparatorTests {
    @Test(arguments: [
        ("primary", "Academy converter", ComparatorPhase.stateFundedPrimary),
        ("middle_deemed_primary", "Academy converter", .stateFundedPrimary),
        ("secondary", "Academy sponsor led", .stateFundedSecondary),
        ("middle_deemed_secondary", "Academy converter", .stateFundedSecondary),
        ("16_plus", "Academy 16-19 converter", .stateFundedSecondary),
        ("all_through", "Free schools", .allSchools),
        ("not_applicable", "Academy special converter", .allSchools),
        ("primary", "Community special school", .allSchools),
        ("not_applicable", "Pupil referral unit", .allSchools),
        ("secondary", "Academy alternative provision converter", .allSchools),
        ("nursery", "Local authority nursery school", .allSchools),
    ])
    func comparatorPhase(_ phase: String, _ type: String, _ expected: ComparatorPhase) {
        let (chosen, reason) = ComparatorPhase.forSchool(phase: phase, establishmentType: type)
        #expect(chosen == expected)
        #expect(!reason.isEmpty)
    }
}

@Suite struct NationalReleaseReaderTests {
    @Test func readsDfEsLayoutAggregatesAndKeepsSymbols() throws {
        let text = """
            time_period,geographic_level,country_name,region_name,old_la_code,la_name,phase_type_grouping,type_of_establishment,total_pupils,sen_support,ehc_plan,sen_support_percent,ehc_plan_percent
            202526,National,England,,,,Total,Total,9000000,1300000,500000,14.4,5.6
            202526,National,England,,,,State-funded special school,Total,160000,c,150000,c,93.8
            202526,Local authority,England,North West,352,Manchester,State-funded primary,Academy converter,20000,3000,700,15.0,3.5
            202526,Local authority,England,North West,352,Manchester,State-funded primary,Community school,30000,4800,1100,16.0,3.7
            202526,Local authority,England,North West,350,Bolton,State-funded primary,Total,z,z,z,z,z
            """
        let result = try NationalReleaseReader.read(Array(text.utf8))
        func rate(_ level: String, _ code: Int, _ provision: Provision) -> NationalRate? {
            result.rates.first { $0.level == level && $0.areaCode == code && $0.provision == provision }
        }
        #expect(rate("national", 970, .senSupport)?.censusYear == 2026)
        #expect(rate("national", 970, .senSupport)?.percent == 14.4)
        // Manchester's two establishment types summed: 7800 / 50000 = 15.6%, 1800 / 50000 = 3.6%.
        #expect(rate("local_authority", 352, .senSupport)?.percent == 15.6)
        #expect(rate("local_authority", 352, .ehcPlan)?.percent == 3.6)
        #expect(rate("local_authority", 350, .senSupport)?.percent == nil)
        #expect(rate("local_authority", 350, .senSupport)?.symbol == "z")
        #expect(result.skippedRows == 1, "special schools are part of Total, not a phase of their own")
    }

    @Test func missingColumnsAreNamed() {
        #expect(throws: NationalReleaseReader.Failure.missingColumns(["phase_type_grouping"])) {
            try NationalReleaseReader.read(Array("time_period,geographic_level\n202526,National\n".utf8))
        }
    }
}
