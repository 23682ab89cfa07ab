import Hummingbird
import SENCore
import SENStore

/// What the benchmark, the trust comparison and the national import answer (Resources/openapi.yaml describes
/// each field).
extension BenchmarkController {
    struct Interval: Encodable {
        let lower: Double
        let upper: Double
        init(_ interval: Statistics.Interval) {
            lower = round5(interval.lower)
            upper = round5(interval.upper)
        }

        init(lower: Double, upper: Double) {
            self.lower = lower
            self.upper = upper
        }
    }

    struct Comparator: Encodable {
        let level: String
        let area: String
        let phase: String
        let phaseReason: String
        /// mainstream, special or alternative_provision: which schools the comparator describes.
        let setting: String
        let censusYear: Int
        let requestedCensusYear: Int
        /// To five decimals; the statistics use `exactRate`.
        let rate: Double
        /// dfe_counts (pupils / total pupils of an imported DfE release) or published_percent (rounded).
        let rateBasis: String
        let publishedPercent: Double
        /// The true rates a rounded published percentage stands for (absent with dfe_counts); a school is flagged
        /// only when its flag holds across this range.
        let rateRange: Interval?
        let note: String?
        let source: String
        /// Not encoded: the rate and range the statistics use.
        let exactRate: Double
        let range: ClosedRange<Double>?

        enum CodingKeys: String, CodingKey {
            case level, area, phase, setting, rate, note, source
            case phaseReason = "phase_reason"
            case censusYear = "census_year"
            case requestedCensusYear = "requested_census_year"
            case rateBasis = "rate_basis"
            case publishedPercent = "published_percent"
            case rateRange = "rate_range"
        }
    }

    /// This term's rate against the same term a year earlier (Newcombe's hybrid score interval, 95%).
    struct ChangeBody: Encodable {
        let fromTerm: String
        let fromRate: Double
        let differencePP: Double
        let interval95PP: Interval
        let significant: Bool
        let method = "newcombe_hybrid_score"

        enum CodingKeys: String, CodingKey {
            case significant, method
            case fromTerm = "from_term"
            case fromRate = "from_rate"
            case differencePP = "difference_pp"
            case interval95PP = "interval_95_pp"
        }

        init?(count: Int, n: Int, earlier: (term: String, count: Int, n: Int)?) {
            guard let earlier, let d = ChangeOverTime.newcombe(count1: count, n1: n, count2: earlier.count, n2: earlier.n) else { return nil }
            fromTerm = earlier.term
            fromRate = round5(Double(earlier.count) / Double(earlier.n))
            differencePP = (d.difference * 10_000).rounded() / 100
            interval95PP = Interval(lower: (d.interval.lower * 10_000).rounded() / 100, upper: (d.interval.upper * 10_000).rounded() / 100)
            significant = d.isSignificant
        }
    }

    /// The χ² test for a linear trend across the terms shown.
    struct TrendTestBody: Encodable {
        let terms: Int
        let chiSquare: Double
        let pValue: Double
        let direction: String
        let method = "chi_square_for_trend"

        enum CodingKeys: String, CodingKey {
            case terms, direction, method
            case chiSquare = "chi_square"
            case pValue = "p_value"
        }

        init?(_ trend: ChangeOverTime.Trend?) {
            guard let trend else { return nil }
            terms = trend.terms
            chiSquare = (trend.chiSquare * 1000).rounded() / 1000
            pValue = (trend.pValue * 100_000).rounded() / 100_000
            direction = trend.direction
        }
    }

    /// A school's indirectly standardised ratio: observed against expected (pupils × its comparator's rate), with
    /// Spiegelhalter's interpolated Poisson funnel limits around 1.
    struct RatioBody: Encodable {
        let observed: Int
        let expected: Double
        let ratio: Double
        let limits95: Interval
        let limits998: Interval
        let flag: String
        let method = "poisson_funnel_around_1"

        enum CodingKeys: String, CodingKey {
            case observed, expected, ratio, flag, method
            case limits95 = "limits_95"
            case limits998 = "limits_99_8"
        }

        init(count: Int, n: Int, comparator: Comparator) {
            let unit = IndirectStandardisation.Unit(observed: count, expected: Double(n) * comparator.exactRate)
            let range = comparator.range.map { Double(n) * $0.lowerBound...Double(n) * $0.upperBound }
            let r = IndirectStandardisation.ratio(unit, expectedRange: range)
            observed = r.observed
            expected = (r.expected * 1000).rounded() / 1000
            ratio = round5(r.ratio)
            limits95 = Interval(r.limits95)
            limits998 = Interval(r.limits998)
            flag = r.flag.rawValue
        }
    }

    /// The trust's indirectly standardised ratio over every school compared (each with its own comparator).
    struct StandardisedBody: Encodable {
        let schools: Int
        let observed: Int
        let expected: Double
        let ratio: Double
        let interval95: Interval
        let interval998: Interval
        /// above, below or as_expected (the 95% interval against 1).
        let verdict: String
        let method = "indirect_standardisation_exact_poisson"

        enum CodingKeys: String, CodingKey {
            case schools, observed, expected, ratio, verdict, method
            case interval95 = "interval_95"
            case interval998 = "interval_99_8"
        }

        init?(_ units: [IndirectStandardisation.Unit]) {
            guard let p = IndirectStandardisation.pooled(units) else { return nil }
            schools = units.count
            observed = p.observed
            expected = (p.expected * 1000).rounded() / 1000
            ratio = round5(p.ratio)
            interval95 = Interval(p.interval95)
            interval998 = Interval(p.interval998)
            verdict = p.verdict
        }
    }

    struct Measure: Encodable {
        let count: Int
        let pupilsOnRoll: Int
        let rate: Double
        let wilson95: Interval
        let wilson998: Interval
        let comparator: Comparator
        let differencePP: Double
        let z: Double
        let limits95: Interval
        let limits998: Interval
        let limitsMethod: String
        let flag: String
        /// The flag against the comparator rate as given, where rounding leaves `flag` weaker; else absent.
        let flagAtRate: String?
        let ratio: RatioBody
        /// Absent when the school sent no return for the same term a year earlier.
        let change: ChangeBody?
        /// Absent with fewer than three of the terms shown.
        let trendTest: TrendTestBody?

        enum CodingKeys: String, CodingKey {
            case count, rate, comparator, z, flag, change, ratio
            case pupilsOnRoll = "pupils_on_roll"
            case wilson95 = "wilson_95"
            case wilson998 = "wilson_99_8"
            case differencePP = "difference_pp"
            case limits95 = "limits_95"
            case limits998 = "limits_99_8"
            case limitsMethod = "limits_method"
            case flagAtRate = "flag_at_rate"
            case trendTest = "trend_test"
        }

        init(_ c: RateComparison, comparator: Comparator, change: ChangeBody?, trendTest: TrendTestBody?) {
            self.change = change
            self.trendTest = trendTest
            count = c.count
            pupilsOnRoll = c.n
            rate = round5(c.rate)
            wilson95 = Interval(c.wilson95)
            wilson998 = Interval(c.wilson998)
            self.comparator = comparator
            differencePP = (c.differencePP * 100).rounded() / 100
            z = (c.z * 1000).rounded() / 1000
            limits95 = Interval(c.limits95)
            limits998 = Interval(c.limits998)
            limitsMethod = c.limitsMethod.rawValue
            flag = c.flag.rawValue
            flagAtRate = flagAtPointRate(c)
            ratio = RatioBody(count: c.count, n: c.n, comparator: comparator)
        }
    }

    struct NeedShare: Encodable {
        let need: String
        let count: Int
        let share: Double
        /// The school's share with its Wilson 95% interval.
        let wilson95: Interval
        /// null (and `trust_suppressed` set) where a school leader would learn other schools' small counts.
        let trustCount: Int?
        let trustShare: Double?
        let trustSuppressed: Bool
        /// higher, lower or similar: the trust's shown share outside the school's 95% interval; null when hidden.
        let vsTrust: String?
        /// DfE's national share (null where senstat has none for this need).
        let nationalShare: Double?
        let vsNational: String?

        enum CodingKeys: String, CodingKey {
            case need, count, share
            case wilson95 = "wilson_95"
            case trustCount = "trust_count"
            case trustShare = "trust_share"
            case trustSuppressed = "trust_suppressed"
            case vsTrust = "vs_trust"
            case nationalShare = "national_share"
            case vsNational = "vs_national"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(need, forKey: .need)
            try container.encode(count, forKey: .count)
            try container.encode(share, forKey: .share)
            try container.encode(wilson95, forKey: .wilson95)
            try container.encode(trustCount, forKey: .trustCount)
            try container.encode(trustShare, forKey: .trustShare)
            try container.encode(trustSuppressed, forKey: .trustSuppressed)
            try container.encode(vsTrust, forKey: .vsTrust)
            try container.encode(nationalShare, forKey: .nationalShare)
            try container.encode(vsNational, forKey: .vsNational)
        }
    }

    struct NeedProfile: Encodable {
        let term: String
        let senSupport: [NeedShare]
        let ehcPlan: [NeedShare]
        /// Where the national shares come from, or null when senstat has none.
        let national: String?
        let nationalCensusYear: Int?
        let nationalNote: String

        enum CodingKeys: String, CodingKey {
            case term, national
            case senSupport = "sen_support"
            case ehcPlan = "ehc_plan"
            case nationalCensusYear = "national_census_year"
            case nationalNote = "national_note"
        }
    }

    struct TrendPoint: Encodable {
        let term: String
        let pupilsOnRoll: Int?
        let senSupportRate: Double?
        let ehcPlanRate: Double?

        enum CodingKeys: String, CodingKey {
            case term
            case pupilsOnRoll = "pupils_on_roll"
            case senSupportRate = "sen_support_rate"
            case ehcPlanRate = "ehc_plan_rate"
        }
    }

    struct SchoolBenchmark: ResponseEncodable {
        let urn: Int
        let name: String
        let term: String
        let level: String
        let senSupport: Measure
        let ehcPlan: Measure
        let needProfile: NeedProfile?
        let trend: [TrendPoint]

        enum CodingKeys: String, CodingKey {
            case urn, name, term, level, trend
            case senSupport = "sen_support"
            case ehcPlan = "ehc_plan"
            case needProfile = "need_profile"
        }
    }

    /// One school in the trust comparison.
    struct ComparisonRow: Encodable {
        let urn: Int
        let name: String
        let phase: String
        /// mainstream, special or alternative_provision (as its comparator).
        let setting: String
        let pupilsOnRoll: Int
        let count: Int
        let rate: Double
        let wilson95: Interval
        let comparator: Comparator
        let differencePP: Double
        let z: Double
        let limits95: Interval
        let limits998: Interval
        let limits998Phi: Interval
        let limits998Tau2: Interval
        /// How limits_95 and limits_99_8 were made (exact_binomial); the φ and τ² limits are on the arcsine scale.
        let limitsMethod: String
        let flag: String
        let flagAtRate: String?
        let flagLimits: String
        let flags: [String: String]
        let ratio: RatioBody
        /// Against the school's return for the same term a year earlier; absent without one.
        let change: ChangeBody?

        enum CodingKeys: String, CodingKey {
            case urn, name, phase, setting, count, rate, comparator, z, flag, flags, ratio, change
            case pupilsOnRoll = "pupils_on_roll"
            case wilson95 = "wilson_95"
            case differencePP = "difference_pp"
            case limits95 = "limits_95"
            case limits998 = "limits_99_8"
            case limits998Phi = "limits_99_8_phi"
            case limits998Tau2 = "limits_99_8_tau2"
            case limitsMethod = "limits_method"
            case flagAtRate = "flag_at_rate"
            case flagLimits = "flag_limits"
        }
    }

    struct Missing: Encodable {
        let urn: Int
        let name: String
    }

    /// A school with a return but no comparator of its kind loaded (a special school or AP before DfE's file with
    /// their rates is imported): its own figures, and why it is not compared.
    struct NotCompared: Encodable {
        let urn: Int
        let name: String
        let phase: String
        let setting: String
        let pupilsOnRoll: Int
        let count: Int
        let rate: Double
        let reason: String

        enum CodingKeys: String, CodingKey {
            case urn, name, phase, setting, count, rate, reason
            case pupilsOnRoll = "pupils_on_roll"
        }
    }

    struct Overdispersion: Encodable {
        let schools: Int
        /// Absent with fewer than 10 schools (`note` says so).
        let phi: Double?
        let tau2: Double?
        let chiSquare: Double?
        let degreesOfFreedom: Int
        let pValue: Double?
        let overdispersed: Bool
        let method: String
        let note: String?

        enum CodingKeys: String, CodingKey {
            case schools, phi, tau2, overdispersed, method, note
            case chiSquare = "chi_square"
            case degreesOfFreedom = "degrees_of_freedom"
            case pValue = "p_value"
        }
    }

    struct Comparison: ResponseEncodable {
        let trustID: String
        let term: String
        let measure: String
        let level: String
        /// Every school with a return, compared or not.
        let pooled: [String: Double]
        /// The trust's pooled rate against the same term a year earlier, and its trend over the last nine terms
        /// (pooled over the schools with a return in each).
        let pooledChange: ChangeBody?
        let pooledTrendTest: TrendTestBody?
        /// The trust's indirectly standardised ratio over every compared school.
        let standardised: StandardisedBody?
        /// Over the mainstream schools (`schools`) only.
        let overdispersion: Overdispersion?
        /// Mainstream schools, against primary, secondary or all-school rates.
        let schools: [ComparisonRow]
        /// Special schools and alternative provision, each against its own kind.
        let specialistSchools: [ComparisonRow]
        let specialistOverdispersion: Overdispersion?
        let notCompared: [NotCompared]
        let missing: [Missing]
        let source: String

        enum CodingKeys: String, CodingKey {
            case term, measure, level, pooled, standardised, overdispersion, schools, missing, source
            case pooledChange = "pooled_change"
            case pooledTrendTest = "pooled_trend_test"
            case trustID = "trust_id"
            case specialistSchools = "specialist_schools"
            case specialistOverdispersion = "specialist_overdispersion"
            case notCompared = "not_compared"
        }
    }

    struct NationalImportBody: ResponseEncodable {
        /// sen_phase_type (rates by phase and area) or primary_need (national shares by type of need).
        let kind: String
        let rates, new, changed, unchanged, skippedRows: Int
        let rejections: [GIASRegisterReader.Rejection]

        enum CodingKeys: String, CodingKey {
            case kind, rates, new, changed, unchanged, rejections
            case skippedRows = "skipped_rows"
        }
    }
}

/// The flag against the point rate, where the rounding of a published comparator made the shown flag weaker.
func flagAtPointRate(_ c: RateComparison) -> String? {
    guard c.targetRange != nil else { return nil }
    let atRate = Statistics.flag(rate: c.rate, limits95: c.limits95, limits998: c.limits998)
    return atRate == c.flag ? nil : atRate.rawValue
}

func round5(_ value: Double) -> Double { (value * 100_000).rounded() / 100_000 }
