import Foundation

/// A frozen release of a term's returns, which researchers may query.
public struct ReleaseBody: Codable, Sendable, Equatable {
    public let term: String
    public let releasedAt: Date
    public let schools: Int

    public init(term: String, releasedAt: Date, schools: Int) {
        self.term = term
        self.releasedAt = releasedAt
        self.schools = schools
    }
}

public struct ReleaseList: Codable, Sendable, Equatable {
    public let releases: [ReleaseBody]

    public init(releases: [ReleaseBody]) {
        self.releases = releases
    }
}

/// One cell of a research answer: its units (pupils or respondents), values and percentages, or `c`.
public struct ResearchCell: Codable, Sendable, Equatable {
    public let key: String
    public let parent: String?
    public let units: ShownValue
    public let values: [String: ShownValue]
    public let percent: [String: ShownValue]
    /// primary, complementary, or null when shown.
    public let suppressed: String?

    public init(key: String, parent: String? = nil, units: ShownValue, values: [String: ShownValue], percent: [String: ShownValue], suppressed: String? = nil) {
        self.key = key
        self.parent = parent
        self.units = units
        self.values = values
        self.percent = percent
        self.suppressed = suppressed
    }

    enum CodingKeys: String, CodingKey {
        case key, parent, units, values, percent, suppressed
    }

    /// Every key is present: `parent` and `suppressed` are null rather than missing.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(parent, forKey: .parent)
        try container.encode(units, forKey: .units)
        try container.encode(values, forKey: .values)
        try container.encode(percent, forKey: .percent)
        try container.encode(suppressed, forKey: .suppressed)
    }
}

/// A researcher's aggregate answer (`GET /v1/research/...`), under disclosure control or differential privacy.
public struct ResearchAnswer: Codable, Sendable, Equatable {
    public let term: String
    public let query: String
    public let groupBy: String
    public let units: String
    /// sdc or dp.
    public let privacy: String
    public let epsilon: Double?
    /// With DP: the answer's L1 sensitivity (counts one pupil or respondent moves) and the ε each count's noise
    /// uses, ε / sensitivity.
    public let sensitivity: Int?
    public let epsilonPerCount: Double?
    public let rules: String
    public let cells: [ResearchCell]
    public let total: ResearchCell

    public init(term: String, query: String, groupBy: String, units: String, privacy: String, epsilon: Double? = nil, sensitivity: Int? = nil, epsilonPerCount: Double? = nil, rules: String, cells: [ResearchCell], total: ResearchCell) {
        self.term = term
        self.query = query
        self.groupBy = groupBy
        self.units = units
        self.privacy = privacy
        self.epsilon = epsilon
        self.sensitivity = sensitivity
        self.epsilonPerCount = epsilonPerCount
        self.rules = rules
        self.cells = cells
        self.total = total
    }
}
