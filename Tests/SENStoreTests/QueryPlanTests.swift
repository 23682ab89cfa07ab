import Foundation
import Logging
import PostgresNIO
import SENCore
import SENStore
import SENTestSupport
import Testing

/// The hot queries use the indexes that lead with trust_id, under row-level security, on a register large
/// enough that PostgreSQL would rather scan if they did not (3,000 schools in 300 trusts, two terms of returns).
@Suite struct QueryPlanTests {
    func seed(_ db: TestDatabase) async throws {
        try await db.adminSQL(
            """
            INSERT INTO trusts (trust_id, name)
              SELECT ('00000000-0000-4000-8000-' || lpad(t::text, 12, '0'))::uuid, 'Trust ' || t FROM generate_series(1, 300) t;
            INSERT INTO schools (urn, name, phase, la_code, region)
              SELECT 200000 + s, 'School ' || s, CASE WHEN s % 5 = 0 THEN 'secondary' ELSE 'primary' END, 201 + s % 150, 'London'
              FROM generate_series(1, 3000) s;
            INSERT INTO trust_memberships (trust_id, urn, valid_from)
              SELECT ('00000000-0000-4000-8000-' || lpad((1 + s % 300)::text, 12, '0'))::uuid, 200000 + s, '2020-09-01'
              FROM generate_series(1, 3000) s;
            INSERT INTO sen_returns (trust_id, urn, term, current_version, pupils_on_roll, sen_support, ehc_plan, payload)
              SELECT m.trust_id, m.urn, t.term, 1, 300, 40, 8, '{}'::jsonb
              FROM trust_memberships m CROSS JOIN (VALUES ('2024-25-autumn'), ('2025-26-autumn')) AS t(term);
            ANALYZE;
            """)
    }

    /// The plan as JSON text, explained as the server's role with the tenant set, as a request would run it.
    func plan(_ query: PostgresQuery, scope: TenantScope, _ database: Database) async throws -> String {
        try await database.transaction(scope, logger: Logger.test) { connection in
            var text = ""
            let explain = PostgresQuery(unsafeSQL: "EXPLAIN (FORMAT JSON) " + query.sql, binds: query.binds)
            for try await line in try await connection.query(explain, logger: Logger.test).decode(String.self) { text += line }
            return text
        }
    }

    /// Every node of a plan: its type, relation, index and index condition.
    func nodes(_ plan: String) throws -> [(type: String, relation: String?, index: String?, condition: String?)] {
        let root = try #require((try JSONSerialization.jsonObject(with: Data(plan.utf8)) as? [[String: Any]])?.first?["Plan"] as? [String: Any])
        var result: [(String, String?, String?, String?)] = []
        func walk(_ node: [String: Any]) {
            result.append((node["Node Type"] as? String ?? "", node["Relation Name"] as? String, node["Index Name"] as? String, node["Index Cond"] as? String))
            for child in node["Plans"] as? [[String: Any]] ?? [] { walk(child) }
        }
        walk(root)
        return result
    }

    static let tenantTables: Set<String> = ["sen_returns", "trust_memberships", "trusts"]

    @Test func theComparisonReadsByIndexUnderRLS() async throws {
        try await withTestDatabase { db in
            try await seed(db)
            let trust = TrustID("00000000-0000-4000-8000-000000000007")!
            let text = try await db.withDatabase { database in
                try await plan(BenchmarkStore.figuresQuery(trust: trust, term: AcademicTerm("2025-26-autumn")!), scope: .trust(trust), database)
            }
            let tree = try nodes(text)
            // No sequential scan of a tenant table: RLS's filter joins the index condition instead.
            #expect(tree.filter { $0.type == "Seq Scan" && Self.tenantTables.contains($0.relation ?? "") }.isEmpty, "\(tree)")
            // Index or bitmap index scans, by the keys that lead with trust_id.
            let indexes = Set(tree.compactMap(\.index))
            #expect(indexes.contains("trust_memberships_pkey"), "\(tree)")
            #expect(!indexes.isDisjoint(with: ["sen_returns_pkey", "sen_returns_by_term"]), "\(tree)")
        }
    }

    /// A term's returns of one trust (imports, completeness) are found through an index whose condition names the
    /// trust, so no other trust's rows are read: whichever index the planner takes, for a term it has statistics
    /// for and for one it thinks empty (a term's first imports, before ANALYZE has seen any of its rows). Before
    /// migration 0019 the planner took the index on the term alone for the second, and each import read every row
    /// of the term written so far.
    @Test func aTrustsTermReadsByIndex() async throws {
        try await withTestDatabase { db in
            try await seed(db)
            let trust = TrustID("00000000-0000-4000-8000-000000000007")!
            for term in ["2025-26-autumn", "2026-27-autumn"] {
                let text = try await db.withDatabase { database in
                    try await plan(
                        "SELECT r.urn, r.current_version FROM unnest(\([200007, 200307, 200607])::integer[]) AS i(urn) JOIN sen_returns r ON r.trust_id = \(trust.uuidString)::uuid AND r.term = \(term) AND r.urn = i.urn",
                        scope: .trust(trust), database)
                }
                let tree = try nodes(text)
                #expect(tree.filter { $0.type == "Seq Scan" && $0.relation == "sen_returns" }.isEmpty, "\(term): \(tree)")
                let lookups = tree.filter { $0.index?.hasPrefix("sen_returns") == true }
                #expect(!lookups.isEmpty && lookups.allSatisfy { ($0.condition ?? "").contains("trust_id") }, "\(term): \(tree)")
            }
        }
    }
}
