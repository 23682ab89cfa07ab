import Foundation
import SENCore

// What the benchmark and the trust comparison answer (Sources/SENHTTP/Resources/openapi.yaml describes each
// field). Keys with numbers in them (`wilson_95`, `limits_99_8`) are spelled out in `CodingKeys`.

public struct Interval: Codable, Sendable, Equatable {
    public let lower: Double
    public let upper: Double

    public init(lower: Double, upper: Double) {
        self.lower = lower
        self.upper = upper
    }
}

/// The rate a school is compared with, and where it comes from.
public struct Comparator: Codable, Sendable, Equatable {
    public let level: String
    public let area: String
    public let phase: String
    public let phaseReason: String
    /// mainstream, special or alternative_provision: which schools the comparator describes.
    public let setting: String
    public let censusYear: Int
    public let requestedCensusYear: Int
    /// To five decimals; the statistics use the exact rate.
    public let rate: Double
    /// dfe_counts (pupils / total pupils of an imported DfE release) or published_percent (rounded).
    public let rateBasis: String
    public let publishedPercent: Double
    /// The true rates a rounded published percentage stands for (absent with dfe_counts); a school is flagged only
    /// when its flag holds across this range.
    public let rateRange: Interval?
    public let note: String?
    public let source: String

    public init(level: String, area: String, phase: String, phaseReason: String, setting: String, censusYear: Int, requestedCensusYear: Int, rate: Double, rateBasis: String, publishedPercent: Double, rateRange: Interval? = nil, note: String? = nil, source: String) {
        self.level = level
        self.area = area
        self.phase = phase
        self.phaseReason = phaseReason
        self.setting = setting
        self.censusYear = censusYear
        self.requestedCensusYear = requestedCensusYear
        self.rate = rate
        self.rateBasis = rateBasis
        self.publishedPercent = publishedPercent
        self.rateRange = rateRange
        self.note = note
        self.source = source
    }
}

/// This term's rate against the same term a year earlier (Newcombe's hybrid score interval, 95%).
public struct ChangeBody: Codable, Sendable, Equatable {
    public let fromTerm: String
    public let fromRate: Double
    public let differencePP: Double
    public let interval95PP: Interval
    public let significant: Bool
    public var method = "newcombe_hybrid_score"

    public init(fromTerm: String, fromRate: Double, differencePP: Double, interval95PP: Interval, significant: Bool) {
        self.fromTerm = fromTerm
        self.fromRate = fromRate
        self.differencePP = differencePP
        self.interval95PP = interval95PP
        self.significant = significant
    }

    enum CodingKeys: String, CodingKey {
        case fromTerm, fromRate, differencePP, significant, method
        case interval95PP = "interval_95_pp"
    }
}

/// The χ² test for a linear trend across the terms shown.
public struct TrendTestBody: Codable, Sendable, Equatable {
    public let terms: Int
    public let chiSquare: Double
    public let pValue: Double
    public let direction: String
    public var method = "chi_square_for_trend"

    public init(terms: Int, chiSquare: Double, pValue: Double, direction: String) {
        self.terms = terms
        self.chiSquare = chiSquare
        self.pValue = pValue
        self.direction = direction
    }
}

/// A school's indirectly standardised ratio: observed against expected (pupils × its comparator's rate), with
/// Spiegelhalter's interpolated Poisson funnel limits around 1.
public struct RatioBody: Codable, Sendable, Equatable {
    public let observed: Int
    public let expected: Double
    public let ratio: Double
    public let limits95: Interval
    public let limits998: Interval
    public let flag: String
    public var method = "poisson_funnel_around_1"

    public init(observed: Int, expected: Double, ratio: Double, limits95: Interval, limits998: Interval, flag: String) {
        self.observed = observed
        self.expected = expected
        self.ratio = ratio
        self.limits95 = limits95
        self.limits998 = limits998
        self.flag = flag
    }

    enum CodingKeys: String, CodingKey {
        case observed, expected, ratio, flag, method
        case limits95 = "limits_95"
        case limits998 = "limits_99_8"
    }
}

/// The trust's indirectly standardised ratio over every school compared (each with its own comparator).
public struct StandardisedBody: Codable, Sendable, Equatable {
    public let schools: Int
    public let observed: Int
    public let expected: Double
    public let ratio: Double
    public let interval95: Interval
    public let interval998: Interval
    /// above, below or as_expected (the 95% interval against 1).
    public let verdict: String
    public var method = "indirect_standardisation_exact_poisson"

    public init(schools: Int, observed: Int, expected: Double, ratio: Double, interval95: Interval, interval998: Interval, verdict: String) {
        self.schools = schools
        self.observed = observed
        self.expected = expected
        self.ratio = ratio
        self.interval95 = interval95
        self.interval998 = interval998
        self.verdict = verdict
    }

    enum CodingKeys: String, CodingKey {
        case schools, observed, expected, ratio, verdict, method
        case interval95 = "interval_95"
        case interval998 = "interval_99_8"
    }
}

/// One measure (SEN support or EHC plans) of one school against its comparator.
public struct Measure: Codable, Sendable, Equatable {
    public let count: Int
    public let pupilsOnRoll: Int
    public let rate: Double
    public let wilson95: Interval
    public let wilson998: Interval
    public let comparator: Comparator
    public let differencePP: Double
    public let z: Double
    public let limits95: Interval
    public let limits998: Interval
    public let limitsMethod: String
    public let flag: String
    /// The flag against the comparator rate as given, where rounding leaves `flag` weaker; else absent.
    public let flagAtRate: String?
    public let ratio: RatioBody
    /// Absent when the school sent no return for the same term a year earlier.
    public let change: ChangeBody?
    /// Absent with fewer than three of the terms shown.
    public let trendTest: TrendTestBody?

    public init(count: Int, pupilsOnRoll: Int, rate: Double, wilson95: Interval, wilson998: Interval, comparator: Comparator, differencePP: Double, z: Double, limits95: Interval, limits998: Interval, limitsMethod: String, flag: String, flagAtRate: String? = nil, ratio: RatioBody, change: ChangeBody? = nil, trendTest: TrendTestBody? = nil) {
        self.count = count
        self.pupilsOnRoll = pupilsOnRoll
        self.rate = rate
        self.wilson95 = wilson95
        self.wilson998 = wilson998
        self.comparator = comparator
        self.differencePP = differencePP
        self.z = z
        self.limits95 = limits95
        self.limits998 = limits998
        self.limitsMethod = limitsMethod
        self.flag = flag
        self.flagAtRate = flagAtRate
        self.ratio = ratio
        self.change = change
        self.trendTest = trendTest
    }

    enum CodingKeys: String, CodingKey {
        case count, pupilsOnRoll, rate, comparator, differencePP, z, limitsMethod, flag, flagAtRate, ratio, change, trendTest
        case wilson95 = "wilson_95"
        case wilson998 = "wilson_99_8"
        case limits95 = "limits_95"
        case limits998 = "limits_99_8"
    }
}

/// One primary need in a school's need profile, against the trust's and the nation's shares.
public struct NeedShare: Codable, Sendable, Equatable {
    public let need: String
    public let count: Int
    public let share: Double
    /// The school's share with its Wilson 95% interval.
    public let wilson95: Interval
    /// null (and `trust_suppressed` set) where a school leader would learn other schools' small counts.
    public let trustCount: Int?
    public let trustShare: Double?
    public let trustSuppressed: Bool
    /// higher, lower or similar: the trust's shown share outside the school's 95% interval; null when hidden.
    public let vsTrust: String?
    /// DfE's national share (null where senstat has none for this need).
    public let nationalShare: Double?
    public let vsNational: String?

    public init(need: String, count: Int, share: Double, wilson95: Interval, trustCount: Int? = nil, trustShare: Double? = nil, trustSuppressed: Bool, vsTrust: String? = nil, nationalShare: Double? = nil, vsNational: String? = nil) {
        self.need = need
        self.count = count
        self.share = share
        self.wilson95 = wilson95
        self.trustCount = trustCount
        self.trustShare = trustShare
        self.trustSuppressed = trustSuppressed
        self.vsTrust = vsTrust
        self.nationalShare = nationalShare
        self.vsNational = vsNational
    }

    enum CodingKeys: String, CodingKey {
        case need, count, share, trustCount, trustShare, trustSuppressed, vsTrust, nationalShare, vsNational
        case wilson95 = "wilson_95"
    }

    /// Every key is present: the optional ones are null rather than missing.
    public func encode(to encoder: any Encoder) throws {
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

public struct NeedProfile: Codable, Sendable, Equatable {
    public let term: String
    public let senSupport: [NeedShare]
    public let ehcPlan: [NeedShare]
    /// Where the national shares come from, or null when senstat has none.
    public let national: String?
    public let nationalCensusYear: Int?
    public let nationalNote: String

    public init(term: String, senSupport: [NeedShare], ehcPlan: [NeedShare], national: String? = nil, nationalCensusYear: Int? = nil, nationalNote: String) {
        self.term = term
        self.senSupport = senSupport
        self.ehcPlan = ehcPlan
        self.national = national
        self.nationalCensusYear = nationalCensusYear
        self.nationalNote = nationalNote
    }
}

public struct TrendPoint: Codable, Sendable, Equatable {
    public let term: String
    public let pupilsOnRoll: Int?
    public let senSupportRate: Double?
    public let ehcPlanRate: Double?

    public init(term: String, pupilsOnRoll: Int? = nil, senSupportRate: Double? = nil, ehcPlanRate: Double? = nil) {
        self.term = term
        self.pupilsOnRoll = pupilsOnRoll
        self.senSupportRate = senSupportRate
        self.ehcPlanRate = ehcPlanRate
    }
}

/// One school against DfE's rates (`GET /v1/schools/{urn}/benchmark`).
public struct SchoolBenchmark: Codable, Sendable, Equatable {
    public let urn: Int
    public let name: String
    public let term: String
    public let level: String
    public let senSupport: Measure
    public let ehcPlan: Measure
    public let needProfile: NeedProfile?
    public let trend: [TrendPoint]

    public init(urn: Int, name: String, term: String, level: String, senSupport: Measure, ehcPlan: Measure, needProfile: NeedProfile? = nil, trend: [TrendPoint]) {
        self.urn = urn
        self.name = name
        self.term = term
        self.level = level
        self.senSupport = senSupport
        self.ehcPlan = ehcPlan
        self.needProfile = needProfile
        self.trend = trend
    }
}
