import Foundation
import Logging
import PostgresNIO
import SENCore
import SENStore
import SENTestSupport
import Testing

/// Row-level security as the server's role sees it: the database itself keeps tenants apart.
@Suite struct TenancyTests {
    let logger = Logger.test
    static let trustA = TrustID("aaaaaaaa-0000-4000-8000-000000000001")!
    static let trustB = TrustID("bbbbbbbb-0000-4000-8000-000000000002")!

    /// Two trusts with one school each, written as the admin role (setup, not the code under test).
    func seed(_ db: TestDatabase) async throws {
        try await db.adminSQL(
            """
            INSERT INTO trusts (trust_id, name) VALUES ('\(Self.trustA)', 'Trust A'), ('\(Self.trustB)', 'Trust B');
            INSERT INTO schools (urn, name, phase) VALUES (100001, 'School A', 'primary'), (100002, 'School B', 'secondary');
            INSERT INTO trust_memberships (trust_id, urn, valid_from)
            VALUES ('\(Self.trustA)', 100001, '2020-09-01'), ('\(Self.trustB)', 100002, '2020-09-01');
            """)
    }

    /// PostgreSQL refused the write with an RLS violation (SQLSTATE 42501), whichever wrapper it arrives in.
    func expectRLSViolation(_ work: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            try await work()
            Issue.record("the write was accepted", sourceLocation: sourceLocation)
        } catch {
            let psql = (error as? PSQLError) ?? ((error as? PostgresTransactionError)?.closureError as? PSQLError)
            #expect(psql?.serverInfo?[.sqlState] == "42501", "\(String(reflecting: error))", sourceLocation: sourceLocation)
        }
    }

    func count(_ table: String, _ connection: SQLConnection) async throws -> Int {
        let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), logger: logger)
        for try await value in rows.decode(Int.self) { return value }
        return -1
    }

    /// Every tenant table, and every other table but the migration log, has RLS enabled and forced.
    @Test func everyTableHasForcedRowLevelSecurity() async throws {
        try await withTestDatabase { db in
            let rows = try await db.adminSQL(
                """
                SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'trust_id' AND NOT a.attisdropped)
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
                ORDER BY 1
                """)
            #expect(rows.count >= 4)
            #expect(rows.contains { $0[3] == "t" })
            for row in rows {
                #expect(row[1] == "t" && row[2] == "t", "table \(row[0]!) must ENABLE and FORCE row level security")
            }
        }
    }

    @Test func theServerRoleOwnsNothingAndCannotBypass() async throws {
        try await withTestDatabase { db in
            let role = try await db.adminSQL(
                "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'senstat_app'")
            #expect(role == [["f", "f", "f", "f"]])
            let owned = try await db.adminSQL(
                """
                SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
                WHERE r.rolname = 'senstat_app'
                """)
            #expect(owned == [["0"]])
            let ownsDatabase = try await db.adminSQL(
                "SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = 'senstat_app'")
            #expect(ownsDatabase == [["0"]])
        }
    }

    /// Unset, empty and unknown tenants see no tenant rows and cannot write any.
    @Test(arguments: ["unset", "empty", "random"])
    func policiesFailClosed(_ setting: String) async throws {
        try await withTestDatabase { db in
            try await seed(db)
            try await db.withDatabase { database in
                let logger = self.logger
                let visible = try await database.client.withTransaction(logger: logger) { connection -> [Int] in
                    switch setting {
                    case "empty":
                        try await connection.query("SELECT set_config('senstat.trust_id', '', true)", logger: logger)
                    case "random":
                        try await connection.query("SELECT set_config('senstat.trust_id', \(UUID().uuidString.lowercased()), true)", logger: logger)
                    default: break
                    }
                    return [try await count("trusts", SQLConnection(connection)), try await count("trust_memberships", SQLConnection(connection))]
                }
                #expect(visible == [0, 0])
                // The register stays readable: it is shared reference data.
                let schools = try await database.client.withConnection { try await count("schools", SQLConnection($0)) }
                #expect(schools == 2)
                await expectRLSViolation {
                    try await database.client.withTransaction(logger: logger) { connection in
                        if setting == "empty" {
                            try await connection.query("SELECT set_config('senstat.trust_id', '', true)", logger: logger)
                        }
                        try await connection.query(
                            "INSERT INTO trust_memberships (trust_id, urn, valid_from) VALUES (\(Self.trustA.uuidString)::uuid, 100002, '2024-09-01')",
                            logger: logger)
                    }
                }
            }
            let memberships = try await db.adminSQL("SELECT count(*) FROM trust_memberships")
            #expect(memberships == [["2"]])
        }
    }

    /// Both ways of setting the tenant: set_config (one round trip) and SET LOCAL (SENSTAT_CITUS=1, for Citus).
    @Test(arguments: [Database.TenantSetting.setConfig, .setLocal])
    func aTenantSeesOnlyItsOwnRowsAndCannotWriteAnothers(_ setting: Database.TenantSetting) async throws {
        try await withTestDatabase { db in
            try await seed(db)
            try await db.withDatabase(tenantSetting: setting) { database in
                let logger = self.logger
                let names = try await database.transaction(.trust(Self.trustA), logger: logger) { connection in
                    var names: [String] = []
                    for try await name in try await connection.query("SELECT name FROM trusts", logger: logger).decode(String.self) {
                        names.append(name)
                    }
                    return names
                }
                #expect(names == ["Trust A"])
                await expectRLSViolation {
                    try await database.transaction(.trust(Self.trustA), logger: logger) { connection in
                        _ = try await connection.query(
                            "INSERT INTO trust_memberships (trust_id, urn, valid_from) VALUES (\(Self.trustB.uuidString)::uuid, 100001, '2024-09-01')",
                            logger: logger)
                    }
                }
                // An update aimed at another trust's row touches nothing.
                let updated = try await database.transaction(.trust(Self.trustA), logger: logger) { connection in
                    try await connection.query("UPDATE trusts SET name = 'hijacked' WHERE trust_id = \(Self.trustB.uuidString)::uuid", logger: logger)
                    return try await count("trusts", connection)
                }
                #expect(updated == 1)
            }
            #expect(try await db.adminSQL("SELECT name FROM trusts ORDER BY name") == [["Trust A"], ["Trust B"]])
        }
    }

    @Test(arguments: [Database.TenantSetting.setConfig, .setLocal])
    func onlyThePlatformScopeWritesTheRegister(_ setting: Database.TenantSetting) async throws {
        try await withTestDatabase { db in
            try await seed(db)
            try await db.withDatabase(tenantSetting: setting) { database in
                let logger = self.logger
                await expectRLSViolation {
                    try await database.transaction(.trust(Self.trustA), logger: logger) { connection in
                        _ = try await connection.query("INSERT INTO schools (urn, name, phase) VALUES (100003, 'Sneaky', 'primary')", logger: logger)
                    }
                }
                try await database.transaction(.platform, logger: logger) { connection in
                    try await connection.query("INSERT INTO schools (urn, name, phase) VALUES (100004, 'Imported', 'primary')", logger: logger)
                }
                let platformSees = try await database.transaction(.platform, logger: logger) { try await count("trusts", $0) }
                #expect(platformSees == 2)
            }
            #expect(try await db.adminSQL("SELECT urn FROM schools ORDER BY urn") == [["100001"], ["100002"], ["100004"]])
        }
    }

    @Test func theDemoLoadsThroughTheServerRoleAndIsIdempotent() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                try await DemoData.load(into: database, logger: logger)
                try await DemoData.load(into: database, logger: logger)
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM trusts") == [["3"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM schools") == [["16"]])
            #expect(try await db.adminSQL("SELECT count(DISTINCT phase) FROM schools") == [["5"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM trust_memberships WHERE valid_to IS NULL") == [["16"]])
        }
    }
}
