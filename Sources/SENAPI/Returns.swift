import Foundation
import SENCore

/// A school's termly SEN return as the API answers it (`GET /v1/schools/{urn}/sen-returns/{term}`); its version is
/// also the ETag.
public struct ReturnBody: Codable, Sendable, Equatable {
    public let urn: Int
    public let term: String
    public let trustID: String
    public let version: Int
    /// submitted or approved.
    public let status: String
    public let late: Bool
    public let firstSubmittedAt: Date
    public let updatedAt: Date
    public let approvedAt: Date?
    /// The return itself, as the school sent it.
    public let value: JSONValue
    public let warnings: [ReturnWarning]

    enum CodingKeys: String, CodingKey {
        case urn, term, trustID, version, status, late, firstSubmittedAt, updatedAt, approvedAt, warnings
        case value = "return"
    }

    public init(
        urn: Int, term: String, trustID: String, version: Int, status: String, late: Bool, firstSubmittedAt: Date,
        updatedAt: Date, approvedAt: Date?, value: JSONValue, warnings: [ReturnWarning]
    ) {
        self.urn = urn
        self.term = term
        self.trustID = trustID
        self.version = version
        self.status = status
        self.late = late
        self.firstSubmittedAt = firstSubmittedAt
        self.updatedAt = updatedAt
        self.approvedAt = approvedAt
        self.value = value
        self.warnings = warnings
    }
}

/// Every version of one return, oldest first, each with what changed since the one before.
public struct ReturnVersions: Codable, Sendable, Equatable {
    public struct Change: Codable, Sendable, Equatable {
        public let field: String
        public let from: JSONValue?
        public let to: JSONValue?

        public init(field: String, from: JSONValue?, to: JSONValue?) {
            self.field = field
            self.from = from
            self.to = to
        }
    }

    public struct Version: Codable, Sendable, Equatable {
        public let version: Int
        public let submittedAt: Date
        public let submittedBy: String?
        /// api, import or demo.
        public let source: String
        public let late: Bool
        public let warnings: [ReturnWarning]
        public let changes: [Change]

        public init(
            version: Int, submittedAt: Date, submittedBy: String?, source: String, late: Bool, warnings: [ReturnWarning],
            changes: [Change]
        ) {
            self.version = version
            self.submittedAt = submittedAt
            self.submittedBy = submittedBy
            self.source = source
            self.late = late
            self.warnings = warnings
            self.changes = changes
        }
    }

    public let urn: Int
    public let term: String
    public let versions: [Version]

    public init(urn: Int, term: String, versions: [Version]) {
        self.urn = urn
        self.term = term
        self.versions = versions
    }
}

/// The current returns of a trust's schools for one term.
public struct TrustReturns: Codable, Sendable, Equatable {
    public let trustID: String
    public let term: String
    public let returns: [ReturnBody]

    public init(trustID: String, term: String, returns: [ReturnBody]) {
        self.trustID = trustID
        self.term = term
        self.returns = returns
    }
}

/// Which of a trust's schools have sent their return for a term.
public struct Completeness: Codable, Sendable, Equatable {
    public struct School: Codable, Sendable, Equatable {
        public let urn: Int
        public let name: String
        public let phase: String
        /// missing, submitted, late or approved.
        public let status: String
        public let late: Bool
        public let version: Int?
        public let firstSubmittedAt: Date?
        public let updatedAt: Date?
        public let approvedAt: Date?

        public init(
            urn: Int, name: String, phase: String, status: String, late: Bool, version: Int?, firstSubmittedAt: Date?,
            updatedAt: Date?, approvedAt: Date?
        ) {
            self.urn = urn
            self.name = name
            self.phase = phase
            self.status = status
            self.late = late
            self.version = version
            self.firstSubmittedAt = firstSubmittedAt
            self.updatedAt = updatedAt
            self.approvedAt = approvedAt
        }
    }

    public let trustID: String
    public let term: String
    public let censusDay: String
    public let deadline: String
    public let totals: [String: Int]
    public let schools: [School]

    public init(trustID: String, term: String, censusDay: String, deadline: String, totals: [String: Int], schools: [School]) {
        self.trustID = trustID
        self.term = term
        self.censusDay = censusDay
        self.deadline = deadline
        self.totals = totals
        self.schools = schools
    }
}

/// The answer to a trust's CSV import (`ImportReceipt`).
public typealias ImportResult = ImportReceipt
