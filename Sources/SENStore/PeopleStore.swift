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
        /// Entra ID's `tid` or Google's `hd`, where the provider gave one.
        public let tenant: String?

        public init(issuer: String, subject: String, email: String, emailVerified: Bool, name: String, organisations: [String], tenant: String? = nil) {
            self.tenant = tenant
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
            _ = try await connection.query("SELECT person_tenant_seen(\(id), \(who.tenant))", logger: logger)
            return (id, accepted, try await Self.memberships(of: id, connection: connection, logger: logger))
        }
    }

    /// A person's live memberships.
    public func memberships(of person: UUID, logger: Logger) async throws -> [Membership] {
        try await database.transaction(.none, logger: logger) { connection in
            try await Self.memberships(of: person, connection: connection, logger: logger)
        }
    }

    static func memberships(of person: UUID, connection: SQLConnection, logger: Logger) async throws -> [Membership] {
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
                    jsonb_build_object('invitation_id', \(record.id), 'role', \(role.rawValue), 'urns', to_jsonb(\(urns)), 'expires_at', \(record.expiresAt),
                        'by_role', (SELECT a.role FROM api_tokens a WHERE a.token_id = \(invitedBy))))
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
        /// The membership or token that acted (nil: the operator's command, or nobody yet signed in).
        public let actor: TokenID?
        public let email: String?
        public let detail: String
    }

    public func events(scope: TenantScope, limit: Int = 200, logger: Logger) async throws -> [Event] {
        try await database.transaction(scope, logger: logger) { connection in
            var found: [Event] = []
            let rows = try await connection.query(
                "SELECT at, kind, trust_id, person_id, actor, email, detail::text FROM identity_events ORDER BY at DESC, event_id DESC LIMIT \(limit)",
                logger: logger)
            for try await (at, kind, trust, person, actor, email, detail) in rows.decode((Date, String, TrustID?, UUID?, TokenID?, String?, String).self) {
                found.append(Event(at: at, kind: kind, trustID: trust, person: person, actor: actor, email: email, detail: detail))
            }
            return found
        }
    }

    static let invitationColumns = "invitation_id, email, role, trust_id, urns, organisation, created_at, expires_at, accepted_at, revoked_at"

    static func invitations(_ rows: SQLRows) async throws -> [InvitationRecord] {
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

/// A membership as a trust executive (their trust's) or an administrator (all) sees it, with its person.
public struct MembershipRecord: Sendable, Equatable {
    public let id: TokenID
    public let person: UUID
    public let name: String
    public let email: String
    public let role: Role
    public let trustID: TrustID?
    public let urns: [URN]
    public let grantedAt: Date
    public let lastSignInAt: Date?
}

/// A person who signed in from a trust's email domain or tenant and waits for a role in it.
public struct WaitingPerson: Sendable, Equatable {
    public let id: UUID
    public let name: String
    public let email: String
    public let tenant: String?
    public let lastSignInAt: Date?
}

/// What a trust signs in from (migration 0014).
public struct SignInSources: Sendable, Equatable {
    public var emailDomains: [String]
    public var tenants: [String]

    public init(emailDomains: [String], tenants: [String]) {
        self.emailDomains = emailDomains
        self.tenants = tenants
    }
}

extension PeopleStore {
    static let membershipColumns = "t.token_id, t.person_id, p.name, p.email, t.role, t.trust_id, t.urns, t.created_at, p.last_sign_in_at"

    /// The live memberships visible in `scope` (a trust's, or every one for the platform), by trust, role and email.
    public func memberships(scope: TenantScope, logger: Logger) async throws -> [MembershipRecord] {
        try await database.transaction(scope, logger: logger) { connection in
            try await Self.membershipRecords(
                connection.query(
                    """
                    SELECT \(unescaped: Self.membershipColumns)
                    FROM api_tokens t JOIN people p ON p.person_id = t.person_id
                    WHERE t.kind = 'membership' AND t.revoked_at IS NULL
                    ORDER BY t.trust_id NULLS FIRST, t.role, p.email
                    """, logger: logger))
        }
    }

    static func membershipRecords(_ rows: SQLRows) async throws -> [MembershipRecord] {
        var found: [MembershipRecord] = []
        for try await (id, person, name, email, role, trust, urns, granted, seen) in rows.decode(
            (TokenID, UUID, String, String, String, TrustID?, [URN], Date, Date?).self)
        {
            found.append(
                MembershipRecord(
                    id: id, person: person, name: name, email: email, role: try TokenStore.role(role), trustID: trust, urns: urns, grantedAt: granted,
                    lastSignInAt: seen))
        }
        return found
    }

    /// Removes a membership visible in `scope` (only of `onlyRoles`, where given): it and every token issued from
    /// it are revoked in one transaction, and the audit trail says who did it. Nil when there is none to see.
    public func removeMembership(id: TokenID, onlyRoles: [Role]?, actor: TokenID, scope: TenantScope, logger: Logger) async throws -> MembershipRecord? {
        let roles = (onlyRoles ?? Role.allCases).map(\.rawValue)
        return try await database.transaction(scope, logger: logger) { connection in
            let removed = try await Self.membershipRecords(
                connection.query(
                    """
                    WITH removed AS (
                        UPDATE api_tokens SET revoked_at = now()
                        WHERE token_id = \(id) AND kind = 'membership' AND revoked_at IS NULL AND role = ANY(\(roles))
                        RETURNING *)
                    SELECT \(unescaped: Self.membershipColumns) FROM removed t JOIN people p ON p.person_id = t.person_id
                    """, logger: logger)
            ).first
            guard let removed else { return nil }
            _ = try await connection.query(
                "UPDATE api_tokens SET revoked_at = now() WHERE from_membership = \(id) AND revoked_at IS NULL", logger: logger)
            _ = try await connection.query(
                """
                SELECT record_identity_event('membership_removed', \(removed.trustID), \(removed.person), \(actor), NULL, \(removed.email),
                    jsonb_build_object('membership_id', \(id), 'role', \(removed.role.rawValue), 'urns', to_jsonb(\(removed.urns)),
                        'by_role', (SELECT a.role FROM api_tokens a WHERE a.token_id = \(actor))))
                """, logger: logger)
            return removed
        }
    }

    /// The people who signed in from the trust's email domains or tenants and hold no role in it.
    public func waiting(trust: TrustID, logger: Logger) async throws -> [WaitingPerson] {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            var found: [WaitingPerson] = []
            let rows = try await connection.query(
                "SELECT person_id, name, email, tenant, last_sign_in_at FROM trust_people_waiting()", logger: logger)
            for try await (id, name, email, tenant, seen) in rows.decode((UUID, String, String, String?, Date?).self) {
                found.append(WaitingPerson(id: id, name: name, email: email, tenant: tenant, lastSignInAt: seen))
            }
            return found
        }
    }

    /// Grants `role` in `trust` to a person who waits for one there or already holds one (a school leader's schools
    /// are replaced). Nil when the person is not one the trust may see.
    public func grant(person: UUID, role: Role, urns: [URN], actor: TokenID, trust: TrustID, logger: Logger) async throws -> TokenID? {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            let rows = try await connection.query(
                "SELECT grant_membership(\(person), \(role.rawValue), \(urns), \(actor))", logger: logger)
            for try await (id,) in rows.decode((TokenID?,).self) { return id }
            return nil
        }
    }

    /// Withdraws an open invitation visible in `scope`; nil when there is none open to see.
    public func revokeInvitation(id: UUID, actor: TokenID, scope: TenantScope, logger: Logger) async throws -> InvitationRecord? {
        try await database.transaction(scope, logger: logger) { connection in
            let revoked = try await Self.invitations(
                connection.query(
                    """
                    UPDATE invitations SET revoked_at = now()
                    WHERE invitation_id = \(id) AND accepted_at IS NULL AND revoked_at IS NULL
                    RETURNING \(unescaped: Self.invitationColumns)
                    """, logger: logger)
            ).first
            guard let revoked else { return nil }
            _ = try await connection.query(
                """
                SELECT record_identity_event('invitation_revoked', \(revoked.trustID), NULL, \(actor), NULL, \(revoked.email),
                    jsonb_build_object('invitation_id', \(id), 'role', \(revoked.role.rawValue), 'by_role', (SELECT a.role FROM api_tokens a WHERE a.token_id = \(actor))))
                """, logger: logger)
            return revoked
        }
    }

    /// What `trust` signs in from.
    public func sources(trust: TrustID, scope: TenantScope, logger: Logger) async throws -> SignInSources {
        try await database.transaction(scope, logger: logger) { connection in
            var sources = SignInSources(emailDomains: [], tenants: [])
            let rows = try await connection.query(
                "SELECT kind, value FROM trust_sign_in_sources WHERE trust_id = \(trust) ORDER BY kind, value", logger: logger)
            for try await (kind, value) in rows.decode((String, String).self) {
                if kind == "email_domain" { sources.emailDomains.append(value) } else { sources.tenants.append(value) }
            }
            return sources
        }
    }

    /// Which of `sources` another trust lists already (`kind:value` -> that trust's name): a domain or tenant admits
    /// people to one trust only.
    public func sourcesListedElsewhere(_ sources: SignInSources, except trust: TrustID, logger: Logger) async throws -> [String: String] {
        try await database.transaction(.platform, logger: logger) { connection in
            var found: [String: String] = [:]
            let rows = try await connection.query(
                """
                SELECT s.kind, s.value, t.name FROM trust_sign_in_sources s JOIN trusts t ON t.trust_id = s.trust_id
                WHERE s.trust_id <> \(trust)
                  AND ((s.kind = 'email_domain' AND s.value = ANY(\(sources.emailDomains)::text[])) OR (s.kind = 'tenant' AND s.value = ANY(\(sources.tenants)::text[])))
                """, logger: logger)
            for try await (kind, value, name) in rows.decode((String, String, String).self) { found[kind + ":" + value] = name }
            return found
        }
    }

    /// Replaces what `trust` signs in from (values already checked and lower-cased), with a line in the audit trail.
    public func setSources(_ sources: SignInSources, trust: TrustID, actor: TokenID, scope: TenantScope, logger: Logger) async throws {
        try await database.transaction(scope, logger: logger) { connection in
            _ = try await connection.query("DELETE FROM trust_sign_in_sources WHERE trust_id = \(trust)", logger: logger)
            _ = try await connection.query(
                """
                INSERT INTO trust_sign_in_sources (trust_id, kind, value)
                SELECT \(trust), 'email_domain', d FROM unnest(\(sources.emailDomains)::text[]) d
                UNION SELECT \(trust), 'tenant', t FROM unnest(\(sources.tenants)::text[]) t
                """, logger: logger)
            _ = try await connection.query(
                """
                SELECT record_identity_event('sign_in_sources_changed', \(trust), NULL, \(actor), NULL, NULL,
                    jsonb_build_object('email_domains', to_jsonb(\(sources.emailDomains)::text[]), 'tenants', to_jsonb(\(sources.tenants)::text[]),
                        'by_role', (SELECT a.role FROM api_tokens a WHERE a.token_id = \(actor))))
                """, logger: logger)
        }
    }
}

// MARK: Tokens for the command line (`senstat login --web`)

extension PeopleStore {
    /// How long a token issued to `senstat login --web` lives.
    public static let commandLineTokenLifetimeDays = 90

    /// Issues an API token bound to `person` in `membership` (its role, trust and schools), if the membership is
    /// still theirs and live: revoked with it, listed on their account page. Nil when it is not.
    public func issueCommandLineToken(person: UUID, membership: TokenID, label: String, logger: Logger) async throws -> IssuedToken? {
        guard let held = try await memberships(of: person, logger: logger).first(where: { $0.id == membership }) else { return nil }
        let token = BearerToken.generate()
        let digest = ByteBuffer(bytes: TokenStore.digest(token))
        let scope: TenantScope = held.trustID.map { .trust($0) } ?? .platform
        let record = try await database.transaction(scope, logger: logger) { connection -> TokenRecord? in
            let rows = try await connection.query(
                """
                INSERT INTO api_tokens (digest, role, trust_id, urns, label, expires_at, created_by, kind, person_id, from_membership)
                SELECT \(digest), m.role, m.trust_id, m.urns, left(\(label), 200),
                       now() + make_interval(days => \(Int32(Self.commandLineTokenLifetimeDays))), m.token_id, 'token', m.person_id, m.token_id
                FROM api_tokens m
                WHERE m.token_id = \(membership) AND m.person_id = \(person) AND m.kind = 'membership' AND m.revoked_at IS NULL
                RETURNING \(unescaped: TokenStore.columns)
                """, logger: logger)
            guard let record = try await TokenStore.records(rows).first else { return nil }
            _ = try await connection.query(
                """
                SELECT record_identity_event('cli_token_issued', \(record.trustID), \(person), \(membership), NULL, NULL,
                    jsonb_build_object('token_id', \(record.id), 'label', \(record.label), 'role', \(record.role.rawValue)))
                """, logger: logger)
            return record
        }
        return record.map { IssuedToken(record: $0, token: token) }
    }

    /// The tokens issued from a membership (the person's command-line tokens in it), newest first.
    public func commandLineTokens(membership: TokenID, scope: TenantScope, logger: Logger) async throws -> [TokenRecord] {
        try await database.transaction(scope, logger: logger) { connection in
            try await TokenStore.records(
                connection.query(
                    "SELECT \(unescaped: TokenStore.columns) FROM api_tokens WHERE from_membership = \(membership) AND kind = 'token' ORDER BY created_at DESC",
                    logger: logger))
        }
    }

    /// Revokes one of a membership's command-line tokens; false when it is not one of them (or already revoked).
    public func revokeCommandLineToken(id: TokenID, membership: TokenID, scope: TenantScope, logger: Logger) async throws -> Bool {
        try await database.transaction(scope, logger: logger) { connection in
            let rows = try await connection.query(
                """
                UPDATE api_tokens SET revoked_at = now()
                WHERE token_id = \(id) AND from_membership = \(membership) AND kind = 'token' AND revoked_at IS NULL
                RETURNING token_id
                """, logger: logger)
            for try await _ in rows.decode(TokenID.self) { return true }
            return false
        }
    }
}

extension PeopleStore {
    /// The latest invitation to an email, and its state (`open`, `used`, `withdrawn`, `expired`): why a verified
    /// sign-in accepted nothing.
    public struct InvitationOutcome: Sendable, Equatable {
        public let invitation: UUID
        public let trustID: TrustID?
        public let role: String
        public let state: String
        public let organisation: String?
        public let acceptedBy: UUID?
    }

    public func invitationOutcome(email: String, logger: Logger) async throws -> InvitationOutcome? {
        try await database.transaction(.none, logger: logger) { connection in
            let rows = try await connection.query(
                "SELECT invitation_id, trust_id, role, state, organisation, accepted_by FROM invitation_outcome(\(email))", logger: logger)
            for try await (id, trust, role, state, organisation, accepted) in rows.decode((UUID, TrustID?, String, String, String?, UUID?).self) {
                return InvitationOutcome(invitation: id, trustID: trust, role: role, state: state, organisation: organisation, acceptedBy: accepted)
            }
            return nil
        }
    }
}
