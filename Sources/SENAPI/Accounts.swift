import Foundation
import SENCore

/// A bearer token as `/v1/tokens` lists it; `token` is there only in the answer to the POST that created it.
public struct TokenBody: Codable, Sendable, Equatable {
    public let id: String
    public let role: String
    public let trustID: String?
    public let urns: [Int]
    public let label: String
    public let createdAt: Date
    public let expiresAt: Date?
    public let lastUsedAt: Date?
    public let revokedAt: Date?
    public let token: String?

    public init(id: String, role: String, trustID: String? = nil, urns: [Int], label: String, createdAt: Date, expiresAt: Date? = nil, lastUsedAt: Date? = nil, revokedAt: Date? = nil, token: String? = nil) {
        self.id = id
        self.role = role
        self.trustID = trustID
        self.urns = urns
        self.label = label
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
        self.token = token
    }
}

public struct TokenList: Codable, Sendable, Equatable {
    public let tokens: [TokenBody]

    public init(tokens: [TokenBody]) {
        self.tokens = tokens
    }
}

/// `POST /v1/tokens`.
public struct NewToken: Codable, Sendable, Equatable {
    public let role: Role
    public let trustID: TrustID?
    public let urns: [URN]?
    public let label: String?
    /// ISO 8601, read by the server itself so that a bad value is reported at /expires_at.
    public let expiresAt: String?

    public init(role: Role, trustID: TrustID? = nil, urns: [URN]? = nil, label: String? = nil, expiresAt: String? = nil) {
        self.role = role
        self.trustID = trustID
        self.urns = urns
        self.label = label
        self.expiresAt = expiresAt
    }
}

/// `GET /v1/me`: who the token belongs to.
public struct Me: Codable, Sendable, Equatable {
    public let tokenID: String
    public let role: String
    public let trustID: String?
    public let urns: [Int]

    public init(tokenID: String, role: String, trustID: String? = nil, urns: [Int]) {
        self.tokenID = tokenID
        self.role = role
        self.trustID = trustID
        self.urns = urns
    }
}
