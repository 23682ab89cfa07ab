import Foundation
import SENCore

// The trust comparison (`GET /v1/trusts/{trust}/comparison`): every school against its comparator. The pieces it
// shares with one school's benchmark (`Comparator`, `RatioBody`, `ChangeBody`, …) are in Benchmarks.swift.

/// One school in the trust comparison.
public struct ComparisonRow: Codable, Sendable, Equatable {
    public let urn: Int
    public let name: String
    public let phase: String
    /// mainstream, special or alternative_provision (as its comparator).
    public let setting: String
    public let pupilsOnRoll: Int
    public let count: Int
    public let rate: Double
    public let wilson95: Interval
    public let comparator: Comparator
    public let differencePP: Double
    public let z: Double
    public let limits95: Interval
    public let limits998: Interval
    public let limits998Phi: Interval
    public let limits998Tau2: Interval
    /// How limits_95 and limits_99_8 were made (exact_binomial); the φ and τ² limits are on the arcsine scale.
    public let limitsMethod: String
    public let flag: String
    public let flagAtRate: String?
    public let flagLimits: String
    public let flags: [String: String]
    public let ratio: RatioBody
    /// Against the school's return for the same term a year earlier; absent without one.
    public let change: ChangeBody?

    public init(urn: Int, name: String, phase: String, setting: String, pupilsOnRoll: Int, count: Int, rate: Double, wilson95: Interval, comparator: Comparator, differencePP: Double, z: Double, limits95: Interval, limits998: Interval, limits998Phi: Interval, limits998Tau2: Interval, limitsMethod: String, flag: String, flagAtRate: String? = nil, flagLimits: String, flags: [String: String], ratio: RatioBody, change: ChangeBody? = nil) {
        self.urn = urn
        self.name = name
        self.phase = phase
        self.setting = setting
        self.pupilsOnRoll = pupilsOnRoll
        self.count = count
        self.rate = rate
        self.wilson95 = wilson95
        self.comparator = comparator
        self.differencePP = differencePP
        self.z = z
        self.limits95 = limits95
        self.limits998 = limits998
        self.limits998Phi = limits998Phi
        self.limits998Tau2 = limits998Tau2
        self.limitsMethod = limitsMethod
        self.flag = flag
        self.flagAtRate = flagAtRate
        self.flagLimits = flagLimits
        self.flags = flags
        self.ratio = ratio
        self.change = change
    }

    enum CodingKeys: String, CodingKey {
        case urn, name, phase, setting, pupilsOnRoll, count, rate, comparator, differencePP, z, limitsMethod, flag, flagAtRate
        case flagLimits, flags, ratio, change
        case wilson95 = "wilson_95"
        case limits95 = "limits_95"
        case limits998 = "limits_99_8"
        case limits998Phi = "limits_99_8_phi"
        case limits998Tau2 = "limits_99_8_tau2"
    }
}

/// A school of the trust without a return for the term.
public struct MissingSchool: Codable, Sendable, Equatable {
    public let urn: Int
    public let name: String

    public init(urn: Int, name: String) {
        self.urn = urn
        self.name = name
    }
}

/// A school with a return but no comparator of its kind loaded (a special school or AP before DfE's file with
/// their rates is imported): its own figures, and why it is not compared.
public struct NotCompared: Codable, Sendable, Equatable {
    public let urn: Int
    public let name: String
    public let phase: String
    public let setting: String
    public let pupilsOnRoll: Int
    public let count: Int
    public let rate: Double
    public let reason: String

    public init(urn: Int, name: String, phase: String, setting: String, pupilsOnRoll: Int, count: Int, rate: Double, reason: String) {
        self.urn = urn
        self.name = name
        self.phase = phase
        self.setting = setting
        self.pupilsOnRoll = pupilsOnRoll
        self.count = count
        self.rate = rate
        self.reason = reason
    }
}

public struct Overdispersion: Codable, Sendable, Equatable {
    public let schools: Int
    /// Absent with fewer than 10 schools (`note` says so).
    public let phi: Double?
    public let tau2: Double?
    public let chiSquare: Double?
    public let degreesOfFreedom: Int
    public let pValue: Double?
    public let overdispersed: Bool
    public let method: String
    public let note: String?

    public init(schools: Int, phi: Double? = nil, tau2: Double? = nil, chiSquare: Double? = nil, degreesOfFreedom: Int, pValue: Double? = nil, overdispersed: Bool, method: String, note: String? = nil) {
        self.schools = schools
        self.phi = phi
        self.tau2 = tau2
        self.chiSquare = chiSquare
        self.degreesOfFreedom = degreesOfFreedom
        self.pValue = pValue
        self.overdispersed = overdispersed
        self.method = method
        self.note = note
    }
}

/// The trust's schools against DfE's rates (`GET /v1/trusts/{trust}/comparison`).
public struct Comparison: Codable, Sendable, Equatable {
    public let trustID: String
    public let term: String
    public let measure: String
    public let level: String
    /// Every school with a return, compared or not.
    public let pooled: [String: Double]
    /// The trust's pooled rate against the same term a year earlier, and its trend over the last nine terms
    /// (pooled over the schools with a return in each).
    public let pooledChange: ChangeBody?
    public let pooledTrendTest: TrendTestBody?
    /// The trust's indirectly standardised ratio over every compared school.
    public let standardised: StandardisedBody?
    /// Over the mainstream schools (`schools`) only.
    public let overdispersion: Overdispersion?
    /// Mainstream schools, against primary, secondary or all-school rates.
    public let schools: [ComparisonRow]
    /// Special schools and alternative provision, each against its own kind.
    public let specialistSchools: [ComparisonRow]
    public let specialistOverdispersion: Overdispersion?
    public let notCompared: [NotCompared]
    public let missing: [MissingSchool]
    public let source: String

    public init(trustID: String, term: String, measure: String, level: String, pooled: [String: Double], pooledChange: ChangeBody? = nil, pooledTrendTest: TrendTestBody? = nil, standardised: StandardisedBody? = nil, overdispersion: Overdispersion? = nil, schools: [ComparisonRow], specialistSchools: [ComparisonRow], specialistOverdispersion: Overdispersion? = nil, notCompared: [NotCompared], missing: [MissingSchool], source: String) {
        self.trustID = trustID
        self.term = term
        self.measure = measure
        self.level = level
        self.pooled = pooled
        self.pooledChange = pooledChange
        self.pooledTrendTest = pooledTrendTest
        self.standardised = standardised
        self.overdispersion = overdispersion
        self.schools = schools
        self.specialistSchools = specialistSchools
        self.specialistOverdispersion = specialistOverdispersion
        self.notCompared = notCompared
        self.missing = missing
        self.source = source
    }
}
