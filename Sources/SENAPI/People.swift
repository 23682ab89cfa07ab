import Foundation
import SENCore

/// An invitation as `/v1/invitations` lists it. `status`: open, accepted, expired or withdrawn.
public struct InvitationBody: Codable, Sendable, Equatable {
    public let id: String
    public let email: String
    public let role: String
    public let trustID: String?
    public let urns: [Int]
    public let organisation: String?
    public let createdAt: Date
    public let expiresAt: Date
    public let acceptedAt: Date?
    public let revokedAt: Date?
    public let status: String

    public init(
        id: String, email: String, role: String, trustID: String?, urns: [Int], organisation: String?, createdAt: Date, expiresAt: Date,
        acceptedAt: Date?, revokedAt: Date?, status: String
    ) {
        self.id = id
        self.email = email
        self.role = role
        self.trustID = trustID
        self.urns = urns
        self.organisation = organisation
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.acceptedAt = acceptedAt
        self.revokedAt = revokedAt
        self.status = status
    }
}

public struct InvitationList: Codable, Sendable, Equatable {
    public let invitations: [InvitationBody]

    public init(invitations: [InvitationBody]) {
        self.invitations = invitations
    }
}

/// `POST /v1/invitations`: who, in which role; accepted by signing in with a verified email that matches.
public struct NewInvitation: Codable, Sendable, Equatable {
    public let email: String
    public let role: Role
    public let trustID: TrustID?
    public let urns: [URN]?
    /// Where set, the organisation the provider must say the person signs in for (DfE Sign-in: a URN or a UID).
    public let organisation: String?
    /// 1 to 30; 14 when absent.
    public let expiresInDays: Int?

    public init(email: String, role: Role, trustID: TrustID? = nil, urns: [URN]? = nil, organisation: String? = nil, expiresInDays: Int? = nil) {
        self.email = email
        self.role = role
        self.trustID = trustID
        self.urns = urns
        self.organisation = organisation
        self.expiresInDays = expiresInDays
    }
}

/// A membership: a person's role in a trust (or on the platform).
public struct MembershipBody: Codable, Sendable, Equatable {
    public let id: String
    public let personID: String
    public let name: String
    public let email: String
    public let role: String
    public let trustID: String?
    public let urns: [Int]
    public let grantedAt: Date
    public let lastSignInAt: Date?

    public init(id: String, personID: String, name: String, email: String, role: String, trustID: String?, urns: [Int], grantedAt: Date, lastSignInAt: Date?) {
        self.id = id
        self.personID = personID
        self.name = name
        self.email = email
        self.role = role
        self.trustID = trustID
        self.urns = urns
        self.grantedAt = grantedAt
        self.lastSignInAt = lastSignInAt
    }
}

/// A person who signed in from the trust's email domains or tenants and waits for a role.
public struct WaitingPersonBody: Codable, Sendable, Equatable {
    public let personID: String
    public let name: String
    public let email: String
    public let tenant: String?
    public let lastSignInAt: Date?

    public init(personID: String, name: String, email: String, tenant: String?, lastSignInAt: Date?) {
        self.personID = personID
        self.name = name
        self.email = email
        self.tenant = tenant
        self.lastSignInAt = lastSignInAt
    }
}

/// `GET /v1/memberships`.
public struct MembershipList: Codable, Sendable, Equatable {
    public let memberships: [MembershipBody]
    /// A trust executive's only: people waiting for a role in the trust.
    public let waiting: [WaitingPersonBody]

    public init(memberships: [MembershipBody], waiting: [WaitingPersonBody]) {
        self.memberships = memberships
        self.waiting = waiting
    }
}

/// `POST /v1/memberships`: a trust executive grants a role in its trust to a waiting person (or changes a school
/// leader's schools).
public struct NewMembership: Codable, Sendable, Equatable {
    public let personID: UUID
    public let role: Role
    public let urns: [URN]?

    public init(personID: UUID, role: Role, urns: [URN]? = nil) {
        self.personID = personID
        self.role = role
        self.urns = urns
    }
}

/// `GET` and `PUT /v1/trusts/{trust}/sign-in-sources`.
public struct SignInSourcesBody: Codable, Sendable, Equatable {
    public let emailDomains: [String]
    public let tenants: [String]

    public init(emailDomains: [String], tenants: [String]) {
        self.emailDomains = emailDomains
        self.tenants = tenants
    }
}

/// One line of the audit trail of sign-ins, invitations and memberships.
public struct IdentityEventBody: Codable, Sendable, Equatable {
    public let at: Date
    public let kind: String
    public let trustID: String?
    public let personID: String?
    public let actor: String?
    public let email: String?
    public let detail: JSONValue

    public init(at: Date, kind: String, trustID: String?, personID: String?, actor: String?, email: String?, detail: JSONValue) {
        self.at = at
        self.kind = kind
        self.trustID = trustID
        self.personID = personID
        self.actor = actor
        self.email = email
        self.detail = detail
    }
}

public struct IdentityEventList: Codable, Sendable, Equatable {
    public let events: [IdentityEventBody]

    public init(events: [IdentityEventBody]) {
        self.events = events
    }
}

/// `POST /cli/token`: the code the browser's loopback redirect carried, exchanged by `senstat login --web`.
public struct CommandLineTokenRequest: Codable, Sendable, Equatable {
    public let code: String
    public let codeVerifier: String
    public let redirectURI: String
    /// Where the token is used, for its listing (`senstat on HOSTNAME`).
    public let label: String?

    public init(code: String, codeVerifier: String, redirectURI: String, label: String?) {
        self.code = code
        self.codeVerifier = codeVerifier
        self.redirectURI = redirectURI
        self.label = label
    }

    enum CodingKeys: String, CodingKey {
        case code, codeVerifier, label
        case redirectURI = "redirectUri"
    }
}
