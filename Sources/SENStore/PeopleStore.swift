import Foundation
import Logging
import PostgresNIO
import SENCore

/// A membership a person holds: one role (and trust, and schools), stored as an api_tokens row of kind
/// 'membership' (migration 0013), whose id is the principal's token id when the person acts in it.
public struct Membership: Sendable, Equatable {
    public let id: TokenID
    public let role: Role
    public let trustID: TrustID?
    public let trustName: String?
    public let urns: [URN]
}

/// An invitation as listed (never with more than its own trust's rows visible).
public struct InvitationRecord: Sendable, Equatable {
    public let id: UUID
    public let email: String
    public let role: Role
    public let trustID: TrustID?
    public let urns: [URN]
    public let organisation: String?
    public let createdAt: Date
    public let expiresAt: Date
    public let acceptedAt: Date?
    public let revokedAt: Date?
}

/// People who sign in with an identity provider, their memberships, invitations, and the audit trail of sign-ins
/// (Docs/security.md "People, memberships and tokens").
public struct PeopleStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// What the provider said about who signed in, after every check of the id_token.
    public struct SignedIn: Sendable {
        public let issuer: String
        public let subject: String
        public let email: String
        public let emailVerified: Bool
        public let name: String
        public let organisations: [String]

        public init(issuer: String, subject: String, email: String, emailVerified: Bool, name: String, organisations: [String]) {
            self.issuer = issuer
            self.subject = subject
            self.email = email
            self.emailVerified = emailVerified
            self.name = name
            self.organisations = organisations
        }
    }

    /// Records the person (new or returning), accepts every open invitation their verified email matches, and
    /// returns the person and their live memberships.
    public func signedIn(_ who: SignedIn, logger: Logger) async throws -> (person: UUID, accepted: Int, memberships: [Membership]) {
        try await database.transaction(.none, logger: logger) { connection in
            var person: (UUID, Int)?
            let rows = try await connection.query(
                """
                SELECT person_id, accepted FROM person_signed_in(\(who.issuer), \(who.subject), \(who.email), \(who.emailVerified), \(who.name), \(who.organisations))
                """, logger: logger)
            for try await (id, accepted) in rows.decode((UUID, Int32).self) { person = (id, Int(accepted)) }
            guard let (id, accepted) = person else { throw CorruptRow(table: "people", detail: "person_signed_in returned no row") }
            return (id, accepted, try await Self.memberships(of: id, connection: connection, logger: logger))
        }
    }

    /// A person's live memberships.
    public func memberships(of person: UUID, logger: Logger) async throws -> [Membership] {
        try await database.transaction(.none, logger: logger) { connection in
            try await Self.memberships(of: person, connection: connection, logger: logger)
        }
    }

    static func memberships(of person: UUID, connection: PostgresConnection, logger: Logger) async throws -> [Membership] {
        var found: [Membership] = []
        let rows = try await connection.query(
            "SELECT token_id, role, trust_id, trust_name, urns FROM person_memberships(\(person))", logger: logger)
        for try await (id, role, trust, name, urns) in rows.decode((TokenID, String, TrustID?, String?, [URN]).self) {
            found.append(Membership(id: id, role: try TokenStore.role(role), trustID: trust, trustName: name, urns: urns))
        }
        return found
    }

    /// "Name (email)" of a person, for their own account page.
    public func person(_ id: UUID, logger: Logger) async throws -> String? {
        try await database.transaction(.none, logger: logger) { connection in
            let rows = try await connection.query("SELECT name, email FROM person_profile(\(id))", logger: logger)
            for try await (name, email) in rows.decode((String, String).self) { return name.isEmpty ? email : "\(name) (\(email))" }
            return nil
        }
    }

    /// Invites `email` to `role` (with `trust` and `urns` for the trust roles), valid for `days`. `invitedBy`: the
    /// inviting principal's token or membership; nil for the operator. Written in `scope` (the trust's, or the
    /// platform's), so row-level security decides whether the inviter may.
    public func invite(
        email: String, role: Role, trust: TrustID?, urns: [URN], organisation: String?, days: Int, invitedBy: TokenID?, scope: TenantScope,
        logger: Logger
    ) async throws -> InvitationRecord {
        try await database.transaction(scope, logger: logger) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO invitations (email, role, trust_id, urns, organisation, invited_by, expires_at)
                VALUES (lower(\(email)), \(role.rawValue), \(trust), \(urns), \(organisation), \(invitedBy), now() + make_interval(days => \(Int32(days))))
                RETURNING \(unescaped: Self.invitationColumns)
                """, logger: logger)
            guard let record = try await Self.invitations(rows).first else { throw CorruptRow(table: "invitations", detail: "insert returned no row") }
            _ = try await connection.query(
                """
                SELECT record_identity_event('invitation_created', \(trust), NULL, \(invitedBy), NULL, \(record.email),
                    jsonb_build_object('invitation_id', \(record.id), 'role', \(role.rawValue), 'urns', to_jsonb(\(urns)), 'expires_at', \(record.expiresAt)))
                """, logger: logger)
            return record
        }
    }

    /// The invitations visible in `scope`, newest first.
    public func invitations(scope: TenantScope, logger: Logger) async throws -> [InvitationRecord] {
        try await database.transaction(scope, logger: logger) { connection in
            try await Self.invitations(
                connection.query("SELECT \(unescaped: Self.invitationColumns) FROM invitations ORDER BY created_at DESC", logger: logger))
        }
    }

    /// Writes one line of the audit trail (sign-in, refusal, sign-out, removal).
    public func record(
        _ kind: String, trust: TrustID? = nil, person: UUID? = nil, actor: TokenID? = nil, issuer: String? = nil, email: String? = nil,
        detail: [String: String] = [:], logger: Logger
    ) async throws {
        let json = String(decoding: try JSONEncoder().encode(detail), as: UTF8.self)
        try await database.transaction(.none, logger: logger) { connection in
            _ = try await connection.query(
                "SELECT record_identity_event(\(kind), \(trust), \(person), \(actor), \(issuer), \(email), \(json)::jsonb)", logger: logger)
        }
    }

    /// One line of the audit trail as a trust executive (their trust's lines) or an admin (all) sees it.
    public struct Event: Sendable, Equatable {
        public let at: Date
        public let kind: String
        public let trustID: TrustID?
        public let person: UUID?
        public let email: String?
        public let detail: String
    }

    public func events(scope: TenantScope, limit: Int = 200, logger: Logger) async throws -> [Event] {
        try await database.transaction(scope, logger: logger) { connection in
            var found: [Event] = []
            let rows = try await connection.query(
                "SELECT at, kind, trust_id, person_id, email, detail::text FROM identity_events ORDER BY at DESC, event_id DESC LIMIT \(limit)",
                logger: logger)
            for try await (at, kind, trust, person, email, detail) in rows.decode((Date, String, TrustID?, UUID?, String?, String).self) {
                found.append(Event(at: at, kind: kind, trustID: trust, person: person, email: email, detail: detail))
            }
            return found
        }
    }

    static let invitationColumns = "invitation_id, email, role, trust_id, urns, organisation, created_at, expires_at, accepted_at, revoked_at"

    static func invitations(_ rows: PostgresRowSequence) async throws -> [InvitationRecord] {
        var found: [InvitationRecord] = []
        for try await (id, email, role, trust, urns, organisation, created, expires, accepted, revoked) in rows.decode(
            (UUID, String, String, TrustID?, [URN], String?, Date, Date, Date?, Date?).self)
        {
            found.append(
                InvitationRecord(
                    id: id, email: email, role: try TokenStore.role(role), trustID: trust, urns: urns, organisation: organisation, createdAt: created,
                    expiresAt: expires, acceptedAt: accepted, revokedAt: revoked))
        }
        return found
    }
}
