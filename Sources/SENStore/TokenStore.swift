import Crypto
import Foundation
import Logging
import NIOCore
import PostgresNIO
import SENCore

/// A token as listed: everything but the secret, which is never stored.
public struct TokenRecord: Sendable, Equatable {
    public let id: TokenID
    public let role: Role
    public let trustID: TrustID?
    public let urns: [URN]
    public let label: String
    public let createdAt: Date
    public let expiresAt: Date?
    public let lastUsedAt: Date?
    public let revokedAt: Date?
}

/// A newly issued token: the record, and the secret, returned this once.
public struct IssuedToken: Sendable {
    public let record: TokenRecord
    public let token: String
}

/// Issues, lists, revokes and authenticates bearer tokens. Only SHA-256 digests reach the database.
public struct TokenStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public static func digest(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Data(token.utf8))) }

    /// What a request carries once its token is known: the principal, and the primary's WAL position after the
    /// token's last write (nil if it has not written since the server began noting writes).
    public struct Session: Sendable {
        public let principal: Principal
        public let lastWritePosition: String?
        /// The token's schools in the order stored, as `confirm_token` compares them.
        let storedURNs: [URN]

        /// A confirmation of this session's token, for a request that uses the session again (`TokenConfirmation`).
        public func confirmation(digest: [UInt8]) -> TokenConfirmation {
            TokenConfirmation(digest: digest, principal: principal, storedURNs: storedURNs)
        }
    }

    /// The session for a well-formed, known, unexpired, unrevoked token; nil otherwise.
    public func session(for token: String, logger: Logger) async throws -> Session? {
        guard BearerToken.isWellFormed(token) else { return nil }
        let digest = Self.digest(token)
        // One statement, so no explicit transaction (and no tenant to set): this runs before every request.
        let client = database.client
        let rows = try await database.withDeadline {
            var found: [(TokenID, String, TrustID?, [URN], ByteBuffer, String?)] = []
            let result = try await client.collect(
                "SELECT token_id, role, trust_id, urns, digest, last_write_lsn::text FROM authenticate_token(\(ByteBuffer(bytes: digest)))",
                logger: logger)
            for try await row in result.decode((TokenID, String, TrustID?, [URN], ByteBuffer, String?).self) { found.append(row) }
            return found
        }
        // The lookup is by digest, a one-way function of the secret; comparing again in constant time costs
        // nothing and keeps the check independent of how the index compares.
        guard let (id, roleText, trust, urns, stored, position) = rows.first,
            BearerToken.constantTimeEqual(Array(buffer: stored), digest)
        else { return nil }
        let principal = Principal(tokenID: id, role: try Self.role(roleText), trustID: trust, urns: Set(urns))
        return Session(principal: principal, lastWritePosition: position, storedURNs: urns)
    }

    /// The session for the token with this id if it is neither revoked nor expired: what a web session, which keeps
    /// the id of the token it was signed in with and never its secret, resolves at every request (migration 0012).
    public func session(forTokenID id: TokenID, logger: Logger) async throws -> Session? {
        let client = database.client
        let rows = try await database.withDeadline {
            var found: [(TokenID, String, TrustID?, [URN], String?)] = []
            let result = try await client.collect(
                "SELECT token_id, role, trust_id, urns, last_write_lsn::text FROM authenticate_token_id(\(id))", logger: logger)
            for try await row in result.decode((TokenID, String, TrustID?, [URN], String?).self) { found.append(row) }
            return found
        }
        guard let (id, roleText, trust, urns, position) = rows.first else { return nil }
        let principal = Principal(tokenID: id, role: try Self.role(roleText), trustID: trust, urns: Set(urns))
        return Session(principal: principal, lastWritePosition: position, storedURNs: urns)
    }

    /// Notes, after a write by `tokenID` has committed, the primary's WAL position, so that the token's next reads
    /// wait for a replica that has replayed it (read-your-writes). Returns the position.
    @discardableResult
    public func noteWrite(by tokenID: TokenID, logger: Logger) async throws -> String? {
        let client = database.client
        return try await database.withDeadline {
            let rows = try await client.collect("SELECT note_token_write(\(tokenID))::text", logger: logger)
            for try await position in rows.decode(String?.self) { return position }
            return nil
        }
    }

    /// Issues a token in `scope` (platform for an admin, the trust for a trust executive).
    public func issue(
        role: Role, trustID: TrustID?, urns: [URN], label: String, expiresAt: Date?, createdBy: TokenID?,
        scope: TenantScope, logger: Logger
    ) async throws -> IssuedToken {
        let token = BearerToken.generate()
        let digest = ByteBuffer(bytes: Self.digest(token))
        let urnValues = urns.map { Int32($0.value) }
        let record = try await database.transaction(scope, logger: logger) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO api_tokens (digest, role, trust_id, urns, label, expires_at, created_by)
                VALUES (\(digest), \(role.rawValue), \(trustID), \(urnValues)::integer[], \(label),
                        \(expiresAt), \(createdBy))
                RETURNING \(unescaped: Self.columns)
                """, logger: logger)
            return try await Self.records(rows).first!
        }
        return IssuedToken(record: record, token: token)
    }

    public func list(scope: TenantScope, logger: Logger) async throws -> [TokenRecord] {
        try await database.transaction(scope, logger: logger) { connection in
            try await Self.records(
                // Memberships (people's roles, migration 0013) are rows of the same table, listed with people, not here.
                connection.query("SELECT \(unescaped: Self.columns) FROM api_tokens WHERE kind = 'token' ORDER BY created_at, token_id", logger: logger))
        }
    }

    /// Revokes a token visible in `scope`; returns the record, or nil when there is none to see.
    /// `onlyRoles` limits what may be revoked (a trust executive revokes school leaders' tokens).
    public func revoke(id: TokenID, onlyRoles: [Role]?, scope: TenantScope, logger: Logger) async throws -> TokenRecord? {
        let roles = (onlyRoles ?? Role.allCases).map(\.rawValue)
        return try await database.transaction(scope, logger: logger) { connection in
            try await Self.records(
                connection.query(
                    """
                    UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
                    WHERE token_id = \(id) AND role = ANY(\(roles)) AND kind = 'token'
                    RETURNING \(unescaped: Self.columns)
                    """, logger: logger)
            ).first
        }
    }

    /// A stored role the code does not know is a corrupt row (a 500), never a guess at a weaker role.
    static func role(_ text: String) throws -> Role {
        guard let role = Role(rawValue: text) else { throw CorruptRow(table: "api_tokens", detail: "role '\(text)'") }
        return role
    }

    static let columns = "token_id, role, trust_id, urns, label, created_at, expires_at, last_used_at, revoked_at"

    static func records(_ rows: SQLRows) async throws -> [TokenRecord] {
        var records: [TokenRecord] = []
        for try await (id, role, trust, urns, label, created, expires, used, revoked) in rows.decode(
            (TokenID, String, TrustID?, [URN], String, Date, Date?, Date?, Date?).self)
        {
            records.append(
                TokenRecord(
                    id: id, role: try Self.role(role), trustID: trust, urns: urns,
                    label: label, createdAt: created, expiresAt: expires, lastUsedAt: used, revokedAt: revoked))
        }
        return records
    }
}
