import Foundation
import Logging
import PostgresNIO
import SENCore
import SENStore
import SENTestSupport
import Synchronization
import Testing

/// A kept token is confirmed in the database by the request's first transaction, before any of its statements
/// (`TokenConfirmation`, migration 0020): with either way of setting the tenant, and by a statement of its own.
@Suite struct TokenConfirmationTests {
    let logger = Logger.test

    /// Issues a school leader's token and authenticates it: the session a server would keep, and the secret's digest.
    func keptSession(_ database: Database) async throws -> (TokenStore.Session, [UInt8], TokenID) {
        let store = TokenStore(database: database)
        let trust = DemoData.trusts[0].id
        let issued = try await store.issue(
            role: .schoolLeader, trustID: trust, urns: [URN(DemoData.trusts[0].schools[0].urn)!], label: "kept", expiresAt: nil,
            createdBy: nil, scope: .trust(trust), logger: logger)
        let session = try #require(try await store.session(for: issued.token, logger: logger))
        return (session, TokenStore.digest(issued.token), issued.record.id)
    }

    /// Whether a transaction's body ran.
    final class Ran: Sendable {
        let value = Atomic<Bool>(false)
        var ran: Bool { value.load(ordering: .relaxed) }
    }

    /// Runs one transaction of the token's trust under `confirmation`; returns whether its body ran, which `ran`
    /// also records when the transaction throws.
    @discardableResult
    func transaction(_ database: Database, _ confirmation: TokenConfirmation, ran: Ran = Ran()) async throws -> Bool {
        try await Database.$tokenConfirmation.withValue(confirmation) {
            try await database.transaction(.trust(DemoData.trusts[0].id), logger: logger) { connection in
                ran.value.store(true, ordering: .relaxed)
                try await connection.query("SELECT 1", logger: logger)
            }
        }
        return ran.ran
    }

    @Test(arguments: [Database.TenantSetting.setConfig, .setLocal])
    func aTransactionConfirmsTheTokenBeforeItsBody(setting: Database.TenantSetting) async throws {
        try await withTestDatabase { db in
            try await db.withDatabase(tenantSetting: setting) { database in
                try await DemoData.load(into: database, logger: logger)
                let (session, digest, id) = try await keptSession(database)
                let idText = id.uuidString

                // A token that stands: confirmed, and the body runs. The touch of last_used_at happens here too.
                try await db.adminSQL("UPDATE api_tokens SET last_used_at = now() - interval '2 minutes' WHERE token_id = $1", [idText])
                let standing = session.confirmation(digest: digest)
                #expect(try await transaction(database, standing))
                #expect(standing.state == .confirmed)
                let touched = try await db.adminSQL("SELECT last_used_at > now() - interval '10 seconds' FROM api_tokens WHERE token_id = $1", [idText])
                #expect(touched == [["t"]])

                // Once confirmed, the request's later transactions do not ask again: the request was confirmed at
                // its start (a revocation after it applies from the next request).
                try await db.adminSQL("UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1", [idText])
                #expect(try await transaction(database, standing))

                // The next request: revoked, so refuted before the body runs; and its later transactions refuse too.
                let revoked = session.confirmation(digest: digest)
                let refused = Ran()
                await #expect(throws: TokenRefuted.self) { try await transaction(database, revoked, ran: refused) }
                #expect(revoked.state == .refuted)
                #expect(!refused.ran)
                let after = Ran()
                await #expect(throws: TokenRefuted.self) { try await transaction(database, revoked, ran: after) }
                #expect(!after.ran)

                // Expired, or no longer the same schools: refuted.
                try await db.adminSQL("UPDATE api_tokens SET revoked_at = NULL, expires_at = now() - interval '1 second' WHERE token_id = $1", [idText])
                let expired = session.confirmation(digest: digest)
                await #expect(throws: TokenRefuted.self) { try await transaction(database, expired) }
                try await db.adminSQL("UPDATE api_tokens SET expires_at = NULL, urns = $2::integer[] WHERE token_id = $1",
                                      [idText, "{\(DemoData.trusts[0].schools[1].urn)}"])
                let moved = session.confirmation(digest: digest)
                await #expect(throws: TokenRefuted.self) { try await transaction(database, moved) }

                // The same token with its schools as they were: it stands again.
                try await db.adminSQL("UPDATE api_tokens SET urns = $2::integer[] WHERE token_id = $1",
                                      [idText, "{\(DemoData.trusts[0].schools[0].urn)}"])
                #expect(try await transaction(database, session.confirmation(digest: digest)))

                // Another token's digest with this session's id: refuted (the digest is checked, not only the id).
                let (_, otherDigest, _) = try await keptSession(database)
                await #expect(throws: TokenRefuted.self) { try await transaction(database, session.confirmation(digest: otherDigest)) }
            }
        }
    }

    @Test func aRequestWithoutATransactionConfirmsByAStatementOfItsOwn() async throws {
        try await withTestDatabase { db in
            try await db.withDemoDatabase { database in
                let store = TokenStore(database: database)
                let (session, digest, id) = try await keptSession(database)
                let standing = session.confirmation(digest: digest)
                #expect(try await store.confirm(standing, logger: logger))
                #expect(standing.state == .confirmed)
                try await db.adminSQL("UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1", [id.uuidString])
                let revoked = session.confirmation(digest: digest)
                #expect(try await store.confirm(revoked, logger: logger) == false)
                #expect(revoked.state == .refuted)
            }
        }
    }
}
