import Foundation
import Logging
import PostgresNIO
import SENCore
import SENStore
import SENTestSupport
import Synchronization
import Testing

func fixture(_ name: String) throws -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name)
    return Array(try Data(contentsOf: url))
}

@Suite struct TokenStoreTests {
    let logger = Logger.test

    @Test func issuedTokensAuthenticateUntilRevokedOrExpired() async throws {
        try await withTestDatabase { db in
            try await db.withDemoDatabase { database in
                let store = TokenStore(database: database)
                let trust = DemoData.trusts[0].id
                let issued = try await store.issue(
                    role: .schoolLeader, trustID: trust, urns: [URN(990_101)!], label: "t", expiresAt: nil,
                    createdBy: nil, scope: .trust(trust), logger: logger)
                let principal = try #require(try await store.authenticate(issued.token, logger: logger))
                #expect(principal.role == .schoolLeader && principal.trustID == trust && principal.urns == [URN(990_101)!])
                #expect(principal.tokenID == issued.record.id)

                // One character off, or not a token at all: nobody.
                var altered = Array(issued.token)
                altered[10] = altered[10] == "A" ? "B" : "A"
                #expect(try await store.authenticate(String(altered), logger: logger) == nil)
                #expect(try await store.authenticate("not-a-token", logger: logger) == nil)

                // Revoked: nobody, at once.
                let id = issued.record.id
                #expect(try await store.revoke(id: id, onlyRoles: nil, scope: .trust(trust), logger: logger) != nil)
                #expect(try await store.authenticate(issued.token, logger: logger) == nil)

                // Expired: nobody.
                let expiring = try await store.issue(
                    role: .researcher, trustID: nil, urns: [], label: "", expiresAt: Date().addingTimeInterval(3600),
                    createdBy: nil, scope: .platform, logger: logger)
                #expect(try await store.authenticate(expiring.token, logger: logger) != nil)
                try await db.adminSQL("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_id = $1", [expiring.record.id.uuidString])
                #expect(try await store.authenticate(expiring.token, logger: logger) == nil)
            }
            let used = try await db.adminSQL("SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL")
            #expect(used == [["2"]])
        }
    }

    /// A researcher's token, issued through the store as the server's role.
    func researcherToken(_ db: TestDatabase) async throws -> IssuedToken {
        try await db.withDatabase { database in
            try await TokenStore(database: database).issue(
                role: .researcher, trustID: nil, urns: [], label: "", expiresAt: nil, createdBy: nil, scope: .platform, logger: logger)
        }
    }

    /// Authentication writes last_used_at at most once a minute, not on every request.
    @Test func lastUsedIsRefreshedAtMostOnceAMinute() async throws {
        try await withTestDatabase { db in
            let issued = try await researcherToken(db)
            let read = "SELECT last_used_at::text FROM api_tokens WHERE token_id = $1"
            try await db.withDatabase { database in
                _ = try await TokenStore(database: database).authenticate(issued.token, logger: logger)
            }
            let first = try await db.adminSQL(read, [issued.record.id.uuidString])
            #expect(first.first?.first != nil)
            try await db.withDatabase { database in
                _ = try await TokenStore(database: database).authenticate(issued.token, logger: logger)
            }
            #expect(try await db.adminSQL(read, [issued.record.id.uuidString]) == first, "a second use within the minute writes nothing")
            try await db.adminSQL("UPDATE api_tokens SET last_used_at = now() - interval '2 minutes' WHERE token_id = $1", [issued.record.id.uuidString])
            let stale = try await db.adminSQL(read, [issued.record.id.uuidString])
            try await db.withDatabase { database in
                _ = try await TokenStore(database: database).authenticate(issued.token, logger: logger)
            }
            #expect(try await db.adminSQL(read, [issued.record.id.uuidString]) != stale, "a use after a minute refreshes it")
        }
    }

    /// A request does not wait for another's record of the token's use: while one transaction holds the token's
    /// row (as a commit stuck on a slow disk does), authenticating with a due touch answers at once and skips the
    /// touch; once the row is free, the touch is made. Before, every request of the token queued on that row.
    @Test func aLockedTokenRowDoesNotHoldUpAuthentication() async throws {
        try await withTestDatabase { db in
            let issued = try await researcherToken(db)
            let id = issued.record.id.uuidString
            try await db.adminSQL("UPDATE api_tokens SET last_used_at = now() - interval '2 minutes' WHERE token_id = $1", [id])
            let stale = try await db.adminSQL("SELECT last_used_at::text FROM api_tokens WHERE token_id = $1", [id])
            // Another transaction holds the row; a deadline of 20 s: waiting for the row (as before) fails it, not
            // waiting takes milliseconds.
            let (principal, waited, stillLocked) = try await db.whileAnotherTransactionHolds(
                "SELECT 1 FROM api_tokens WHERE token_id = $1 FOR UPDATE", [id]
            ) { database in
                try await TokenStore(database: database).authenticate(issued.token, logger: logger)
            }
            #expect(stillLocked, "the row was held throughout")
            #expect(waited < .seconds(15), "authentication did not wait for the row (\(waited))")
            #expect(principal?.tokenID == issued.record.id)
            #expect(try await db.adminSQL("SELECT last_used_at::text FROM api_tokens WHERE token_id = $1", [id]) == stale, "the touch was skipped")
            try await db.withDatabase { database in
                _ = try await TokenStore(database: database).authenticate(issued.token, logger: logger)
            }
            #expect(try await db.adminSQL("SELECT last_used_at::text FROM api_tokens WHERE token_id = $1", [id]) != stale, "and made once the row is free")
        }
    }

    /// The database never holds a token, only its digest: a full dump contains none of the secrets.
    @Test func noRawTokenIsStoredAnywhere() async throws {
        try await withTestDatabase { db in
            let tokens = try await db.withDemoDatabase { database in
                return try await DemoData.issueTokens(store: TokenStore(database: database), logger: logger)
            }
            #expect(tokens.count == 5)
            let dump = try await pgDump(db)
            #expect(dump.contains("COPY public.api_tokens"), "the dump covers the token table")
            for (name, token) in tokens {
                #expect(!dump.contains(token.token), "\(name)'s token is in the database")
                #expect(!dump.contains(String(token.token.dropFirst(4))), "\(name)'s secret is in the database")
            }
        }
    }

    /// A tenant cannot list or revoke another trust's tokens.
    @Test func tokensAreTenantScoped() async throws {
        try await withTestDatabase { db in
            try await db.withDemoDatabase { database in
                let store = TokenStore(database: database)
                let (a, b) = (DemoData.trusts[0].id, DemoData.trusts[1].id)
                let leader = try await store.issue(
                    role: .schoolLeader, trustID: a, urns: [URN(990_101)!], label: "", expiresAt: nil, createdBy: nil,
                    scope: .trust(a), logger: logger)
                #expect(try await store.list(scope: .trust(b), logger: logger).isEmpty)
                #expect(try await store.list(scope: .trust(a), logger: logger).map(\.id) == [leader.record.id])
                let id = leader.record.id
                #expect(try await store.revoke(id: id, onlyRoles: nil, scope: .trust(b), logger: logger) == nil)
                #expect(try await store.authenticate(leader.token, logger: logger) != nil)
            }
        }
    }

    func pgDump(_ db: TestDatabase) async throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("senstat-dump-\(UUID().uuidString).sql")
        defer { try? FileManager.default.removeItem(at: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["pg_dump", "--data-only", "--no-owner", "--file", output.path]
        switch db.admin.address {
        case .socketDirectory(let path): arguments += ["--host", path]
        case .tcp(let host): arguments += ["--host", host]
        }
        arguments += ["--port", String(db.admin.port), "--username", db.admin.user, db.name]
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        if let password = db.admin.password { environment["PGPASSWORD"] = password }
        process.environment = environment
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return try String(contentsOf: output, encoding: .utf8)
    }
}

@Suite struct GIASImportTests {
    let logger = Logger.test
    let day1 = CalendarDate(iso: "2026-09-01")!
    let day2 = CalendarDate(iso: "2026-10-01")!

    @Test func windows1252FileRoundTripsToUTF8AndImportsIdempotently() async throws {
        let register = try GIASRegisterReader.read(try fixture("gias-sample-cp1252.csv"))
        #expect(register.rejections.map(\.row) == [7])
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                let importer = GIASImporter(database: database)
                let first = try await importer.importRegister(register, createTrusts: true, effectiveDate: day1, logger: logger)
                #expect(registerCounts(first) == [5, 0, 0, 0])
                #expect(first.rejected.count == 1)
                #expect(trustCounts(first) == [2, 3, 0])

                let again = try await importer.importRegister(register, createTrusts: true, effectiveDate: day2, logger: logger)
                #expect(registerCounts(again) == [0, 0, 0, 5])
                #expect(trustCounts(again) == [0, 0, 0])
            }
            let names = try await db.adminSQL("SELECT name FROM schools ORDER BY urn")
            #expect(names.map { $0[0]! } == [
                "St Thérèse’s Catholic Primary", "Çelik Academy, Sparkhill", "Brontë House School",
                "Ancoats Infant School", "Wymondham Middle School",
            ])
            let trusts = try await db.adminSQL("SELECT gias_code, name FROM trusts ORDER BY gias_code")
            #expect(trusts == [["TR09001", "Ste-Anne’s “Faith” Trust"], ["TR09002", "Pennine Schools – Partnership"]])
            let statuses = try await db.adminSQL("SELECT status, closed_on::text FROM schools WHERE urn = 980004")
            #expect(statuses == [["closed", "2020-08-31"]])
        }
    }

    @Test func changesClosuresAndMovesBetweenTrusts() async throws {
        let original = try GIASRegisterReader.read(try fixture("gias-sample-cp1252.csv"))
        var edited = original
        // 980001 renamed and moved to the other trust; 980005 closes; 980002 leaves its trust.
        edited.entries[0].name = "St Thérèse’s Catholic Primary Academy"
        edited.entries[0].trustCode = "TR09002"
        edited.entries[4].status = .closed
        edited.entries[1].trustCode = nil
        let changed = edited
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                let importer = GIASImporter(database: database)
                _ = try await importer.importRegister(original, createTrusts: true, effectiveDate: day1, logger: logger)
                let second = try await importer.importRegister(changed, createTrusts: true, effectiveDate: day2, logger: logger)
                #expect(registerCounts(second) == [0, 1, 1, 3])
                #expect(trustCounts(second) == [0, 1, 2])
            }
            let history = try await db.adminSQL(
                """
                SELECT t.gias_code, m.valid_from::text, m.valid_to::text FROM trust_memberships m
                JOIN trusts t USING (trust_id) WHERE m.urn = 980001 ORDER BY m.valid_from
                """)
            #expect(history == [["TR09001", "2026-09-01", "2026-10-01"], ["TR09002", "2026-10-01", nil]])
            let left = try await db.adminSQL("SELECT count(*) FROM trust_memberships WHERE urn = 980002 AND valid_to IS NULL")
            #expect(left == [["0"]])
        }
    }

    @Test func withoutCreateTrustsOnlyTheRegisterChanges() async throws {
        let register = try GIASRegisterReader.read(try fixture("gias-sample-cp1252.csv"))
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                let summary = try await GIASImporter(database: database).importRegister(
                    register, createTrusts: false, effectiveDate: day1, logger: logger)
                #expect(summary.new == 5 && summary.trustsCreated == 0)
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM trusts") == [["0"]])
        }
    }
}

/// new, changed, closed, unchanged
func registerCounts(_ summary: GIASImportSummary) -> [Int] {
    [summary.new, summary.changed, summary.closed, summary.unchanged]
}

/// trusts created, memberships opened, memberships closed
func trustCounts(_ summary: GIASImportSummary) -> [Int] {
    [summary.trustsCreated, summary.membershipsOpened, summary.membershipsClosed]
}

@Suite struct DeadlineTests {
    /// Requests give up quickly (503 rather than a parked request), but bulk imports have their own, longer
    /// deadline: a national file must not be cancelled half way because it takes more than a request's 2 s.
    @Test func bulkWorkOutlivesTheRequestDeadline() async throws {
        let register = try GIASRegisterReader.read(try fixture("gias-sample-cp1252.csv"))
        try await withTestDatabase { db in
            let database = db.makeDatabase(deadline: .milliseconds(1))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await database.client.run() }
                defer { group.cancelAll() }
                await #expect(throws: DatabaseUnavailable.self) {
                    _ = try await RegisterStore(database: database).trusts(scope: .platform, logger: Logger.test)
                }
                let summary = try await GIASImporter(database: database).importRegister(
                    register, createTrusts: true, effectiveDate: CalendarDate(iso: "2026-09-01")!, logger: Logger.test)
                #expect(summary.new == 5)
            }
        }
    }

    /// The deadline alone, without a database: work that outlives it is cancelled and the caller gets
    /// `DatabaseUnavailable`; work that ends first keeps its result or its own error; a cancelled caller cancels the
    /// work. The work sleeps ten minutes, so only a cancellation ends it within the test's time limit; the test does
    /// not time itself (a loaded test machine can hold up any task for seconds).
    @Test(.timeLimit(.minutes(1))) func theDeadlineCancelsWorkThatOutlivesIt() async throws {
        let unused = DatabaseEndpoint(
            address: .socketDirectory("/tmp/senstat-no-such-socket-dir"), port: 5432, user: "x", password: nil,
            database: "x", sslMode: .disable)
        let database = Database(
            client: Database.makeClient(endpoint: unused, maximumConnections: 1, logger: Logger.test), deadline: .milliseconds(200))
        final class Flag: Sendable { let value = Atomic<Bool>(false) }
        let sawCancellation = Flag()
        await #expect(throws: DatabaseUnavailable.self) {
            try await database.withDeadline {
                do {
                    try await Task.sleep(for: .seconds(600))
                } catch is CancellationError {
                    sawCancellation.value.store(true, ordering: .relaxed)
                    throw CancellationError()
                }
                return 1
            }
        }
        let cancelled = sawCancellation.value.load(ordering: .relaxed)
        #expect(cancelled)

        #expect(try await database.withDeadline { 42 } == 42)
        #expect(try await database.withDeadline(.seconds(30)) { try await Task.sleep(for: .milliseconds(300)); return 7 } == 7)
        struct Own: Error {}
        await #expect(throws: Own.self) { try await database.withDeadline { throw Own() } }

        let caller = Task {
            try await database.withDeadline(.seconds(600)) {
                try await Task.sleep(for: .seconds(600))
                return 0
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
    }
}
