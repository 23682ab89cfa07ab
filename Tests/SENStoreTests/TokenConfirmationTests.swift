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

    /// How many of the bodies' statements PostgreSQL has run: each takes a number from a sequence, which stays
    /// taken when its transaction rolls back.
    func marks(_ db: TestDatabase) async throws -> Int {
        Int(try await db.adminSQL("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM body_statements")[0][0]!)!
    }

    func createMarks(_ db: TestDatabase) async throws {
        try await db.adminSQL("CREATE SEQUENCE body_statements; GRANT USAGE ON SEQUENCE body_statements TO senstat_app")
    }

    /// Runs one transaction of the token's trust under `confirmation`, whose body sends one statement (and, with
    /// `swallowing`, ignores its error and returns as if all went well). Returns whether PostgreSQL ran it.
    @discardableResult
    func transaction(_ db: TestDatabase, _ database: Database, _ confirmation: TokenConfirmation, swallowing: Bool = false)
        async throws -> Bool
    {
        let before = try await marks(db)
        try await Database.$tokenConfirmation.withValue(confirmation) {
            try await database.transaction(.trust(DemoData.trusts[0].id), logger: logger) { connection in
                if swallowing {
                    _ = try? await connection.query("SELECT nextval('body_statements')", logger: logger)
                } else {
                    try await connection.query("SELECT nextval('body_statements')", logger: logger)
                }
            }
        }
        return try await marks(db) > before
    }

    @Test(arguments: [Database.TenantSetting.setConfig, .setLocal])
    func aTransactionConfirmsTheTokenBeforeItsBody(setting: Database.TenantSetting) async throws {
        try await withTestDatabase { db in
            try await db.withDatabase(tenantSetting: setting) { database in
                try await DemoData.load(into: database, logger: logger)
                try await createMarks(db)
                let (session, digest, id) = try await keptSession(database)
                let idText = id.uuidString

                // A token that stands: confirmed, and the body runs. The touch of last_used_at happens here too.
                // (Compared with the value set, not with the clock: on a busy machine a test's own statements can
                // wait seconds for a thread.)
                let set = try await db.adminSQL(
                    "UPDATE api_tokens SET last_used_at = now() - interval '2 minutes' WHERE token_id = $1 RETURNING last_used_at::text", [idText])
                let standing = session.confirmation(digest: digest)
                #expect(try await transaction(db, database, standing))
                #expect(standing.state == .confirmed)
                let touched = try await db.adminSQL(
                    "SELECT last_used_at >= $2::timestamptz + interval '2 minutes' FROM api_tokens WHERE token_id = $1", [idText, set[0][0]])
                #expect(touched == [["t"]], "last_used_at moved on from the value set two minutes back")

                // Once confirmed, the request's later transactions do not ask again: the request was confirmed at
                // its start (a revocation after it applies from the next request).
                try await db.adminSQL("UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1", [idText])
                #expect(try await transaction(db, database, standing))

                // The next request: revoked, so refuted before PostgreSQL runs the body's statement (sent behind the
                // check); its later transactions refuse too; and a body that swallows the error does not make it pass.
                let revoked = session.confirmation(digest: digest)
                let marked = try await marks(db)
                await #expect(throws: TokenRefuted.self) { try await transaction(db, database, revoked) }
                #expect(revoked.state == .refuted)
                await #expect(throws: TokenRefuted.self) { try await transaction(db, database, revoked) }
                let swallowed = session.confirmation(digest: digest)
                await #expect(throws: TokenRefuted.self) { try await transaction(db, database, swallowed, swallowing: true) }
                #expect(swallowed.state == .refuted)
                #expect(try await marks(db) == marked, "no statement of a refuted request ran")

                // Expired, or no longer the same schools: refuted.
                try await db.adminSQL("UPDATE api_tokens SET revoked_at = NULL, expires_at = now() - interval '1 second' WHERE token_id = $1", [idText])
                let expired = session.confirmation(digest: digest)
                await #expect(throws: TokenRefuted.self) { try await transaction(db, database, expired) }
                #expect(try await marks(db) == marked)
                try await db.adminSQL("UPDATE api_tokens SET expires_at = NULL, urns = $2::integer[] WHERE token_id = $1",
                                      [idText, "{\(DemoData.trusts[0].schools[1].urn)}"])
                let moved = session.confirmation(digest: digest)
                await #expect(throws: TokenRefuted.self) { try await transaction(db, database, moved) }

                #expect(try await marks(db) == marked)

                // The same token with its schools as they were: it stands again.
                try await db.adminSQL("UPDATE api_tokens SET urns = $2::integer[] WHERE token_id = $1",
                                      [idText, "{\(DemoData.trusts[0].schools[0].urn)}"])
                #expect(try await transaction(db, database, session.confirmation(digest: digest)))

                // Another token's digest with this session's id: refuted (the digest is checked, not only the id).
                let (_, otherDigest, _) = try await keptSession(database)
                await #expect(throws: TokenRefuted.self) { try await transaction(db, database, session.confirmation(digest: otherDigest)) }
            }
        }
    }

    /// A refutation ends the transaction and nothing else: the connection stays open for the next request.
    /// (PostgresNIO closes a connection on any error of SQLSTATE class 28, so require_token raises its own code.)
    @Test func aRefutationLeavesTheConnectionOpen() async throws {
        try await withTestDatabase { db in
            try await db.withDemoDatabase { database in
                try await createMarks(db)
                let (session, digest, id) = try await keptSession(database)
                try await db.adminSQL("UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1", [id.uuidString])
                // One connection, so the next statement gets the one the refuted transaction used; kept however
                // long it sits idle (a busy machine can hold the test up past the pool's 10 s idle timeout).
                let single = Database(
                    client: Database.makeClient(endpoint: db.app, maximumConnections: 1, idleTimeout: .seconds(3600), logger: logger),
                    deadline: .seconds(30))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await single.client.run() }
                    defer { group.cancelAll() }
                    func backend() async throws -> Int {
                        for try await pid in try await single.client.collect("SELECT pg_backend_pid()", logger: logger).decode(Int.self) { return pid }
                        return 0
                    }
                    let first = try await backend()
                    for _ in 0..<3 {
                        await #expect(throws: TokenRefuted.self) { try await transaction(db, single, session.confirmation(digest: digest)) }
                        #expect(try await backend() == first, "the same connection, still open")
                    }
                }
                #expect(try await marks(db) == 0)
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
