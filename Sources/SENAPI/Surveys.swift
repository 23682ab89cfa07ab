import Foundation
import SENCore

/// The survey instruments a school can answer (`GET /v1/instruments`).
public struct InstrumentList: Codable, Sendable, Equatable {
    public let instruments: [Instrument]

    public init(instruments: [Instrument]) {
        self.instruments = instruments
    }
}

/// A count or percentage, or `c` where disclosure control suppresses it.
public enum ShownValue: Codable, Equatable, Sendable {
    case value(Double)
    case suppressed

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            self = .value(number)
        } else if try container.decode(String.self) == "c" {
            self = .suppressed
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a shown value is a number or c")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .value(let v): v == v.rounded() && abs(v) < 1e15 ? try container.encode(Int(v)) : try container.encode(v)
        case .suppressed: try container.encode("c")
        }
    }

    /// As a CSV cell or a table shows it: whole numbers without a decimal point, `c` where suppressed.
    public var text: String {
        switch self {
        case .value(let v): v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
        case .suppressed: "c"
        }
    }
}

/// Item → option → `count` and `percent`.
public typealias ShownItems = [String: [String: [String: ShownValue]]]

/// One school's (or the pool's) survey in the trust view.
public struct SchoolSurvey: Codable, Sendable, Equatable {
    public let urn: Int
    public let name: String?
    public let respondents: ShownValue
    public let items: ShownItems
    /// primary (under 10 respondents), complementary, or absent when shown.
    public let suppressed: String?

    public init(urn: Int, name: String? = nil, respondents: ShownValue, items: ShownItems, suppressed: String? = nil) {
        self.urn = urn
        self.name = name
        self.respondents = respondents
        self.items = items
        self.suppressed = suppressed
    }
}

/// One school's survey as someone other than its own leaders sees it.
public struct SchoolSurveyView: Codable, Sendable, Equatable {
    public struct Survey: Codable, Sendable, Equatable {
        public let respondents: ShownValue
        public let items: ShownItems

        public init(respondents: ShownValue, items: ShownItems) {
            self.respondents = respondents
            self.items = items
        }
    }

    public let instrument: String
    public let instrumentVersion: Int
    public let term: String
    public let urn: Int
    public let version: Int
    public let minimumRespondents: Int
    public let suppressed: String?
    public let survey: Survey

    public init(instrument: String, instrumentVersion: Int, term: String, urn: Int, version: Int, minimumRespondents: Int, suppressed: String? = nil, survey: Survey) {
        self.instrument = instrument
        self.instrumentVersion = instrumentVersion
        self.term = term
        self.urn = urn
        self.version = version
        self.minimumRespondents = minimumRespondents
        self.suppressed = suppressed
        self.survey = survey
    }

    enum CodingKeys: String, CodingKey {
        case instrument, instrumentVersion, term, urn, version, minimumRespondents, suppressed, survey
    }

    /// `suppressed` is null, not missing, when the school is shown.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(instrument, forKey: .instrument)
        try container.encode(instrumentVersion, forKey: .instrumentVersion)
        try container.encode(term, forKey: .term)
        try container.encode(urn, forKey: .urn)
        try container.encode(version, forKey: .version)
        try container.encode(minimumRespondents, forKey: .minimumRespondents)
        try container.encode(suppressed, forKey: .suppressed)
        try container.encode(survey, forKey: .survey)
    }
}

/// A trust's schools' surveys for one instrument and term, under the trust's disclosure rule.
public struct TrustSurveyView: Codable, Sendable, Equatable {
    public let trustID: String
    public let instrument: String
    public let term: String
    public let minimumRespondents: Int
    public let schools: [SchoolSurvey]
    public let pooled: SchoolSurvey

    public init(trustID: String, instrument: String, term: String, minimumRespondents: Int, schools: [SchoolSurvey], pooled: SchoolSurvey) {
        self.trustID = trustID
        self.instrument = instrument
        self.term = term
        self.minimumRespondents = minimumRespondents
        self.schools = schools
        self.pooled = pooled
    }
}

/// A school's own survey return as its leaders read it back: the counts it sent (`survey`), with their version.
public struct SchoolSurveyReturn: Codable, Sendable, Equatable {
    public let instrument: String
    public let instrumentVersion: Int
    public let term: String
    public let urn: Int
    public let version: Int
    public let survey: JSONValue

    public init(instrument: String, instrumentVersion: Int, term: String, urn: Int, version: Int, survey: JSONValue) {
        self.instrument = instrument
        self.instrumentVersion = instrumentVersion
        self.term = term
        self.urn = urn
        self.version = version
        self.survey = survey
    }
}
