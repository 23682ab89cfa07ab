import Foundation
import Logging
import SENStore
import SENTestSupport
import Testing

/// The schema distributes by trust_id on Citus without a rewrite: every tenant table carries trust_id in its
/// primary key, unique keys and foreign keys to other tenant tables; reference tables have no foreign key to a
/// tenant table; trust_id has one type everywhere. Docs/scaling.md has the distribution calls.
@Suite struct CitusReadinessTests {
    /// Tables distributed by trust_id (their rows belong to one trust).
    static let tenantTables: Set<String> = [
        "trusts", "trust_memberships", "sen_returns", "sen_return_versions", "audit_log", "idempotency_keys",
        "survey_returns", "survey_return_versions", "trust_sign_in_sources",
    ]

    @Test func tenantKeysCarryTrustID() async throws {
        try await withTestDatabase { db in
            // Every table with a trust_id column is a tenant table, or a platform table named here on purpose.
            let withTrust = Set(try await db.adminSQL(
                """
                SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attname = 'trust_id' AND NOT a.attisdropped
                """).compactMap { $0[0] })
            // Platform data with a trust where there is one: tokens and memberships (admins and researchers have no
            // trust), invitations (an admin's has none) and the sign-in audit trail (a refused sign-in has none).
            #expect(withTrust.subtracting(Self.tenantTables) == ["api_tokens", "identity_events", "invitations"])
            #expect(Self.tenantTables.isSubset(of: withTrust))

            let constraints = try await db.adminSQL(
                """
                SELECT c.relname, k.conname, k.contype,
                       EXISTS (SELECT 1 FROM unnest(k.conkey) AS col(n)
                               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = col.n WHERE a.attname = 'trust_id'),
                       coalesce(f.relname, '')
                FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_class f ON f.oid = k.confrelid
                WHERE n.nspname = 'public' AND k.contype IN ('p', 'u', 'f')
                """)
            #expect(!constraints.isEmpty)
            for row in constraints {
                let (table, name, kind, hasTrust, target) = (row[0]!, row[1]!, row[2]!, row[3] == "t", row[4] ?? "")
                if Self.tenantTables.contains(table) {
                    if kind == "p" || kind == "u" {
                        #expect(hasTrust, "\(table).\(name) must include trust_id")
                    }
                    if kind == "f" && Self.tenantTables.contains(target) && target != "trusts" {
                        #expect(hasTrust, "\(table).\(name) -> \(target) must include trust_id")
                    }
                } else if kind == "f" {
                    #expect(!Self.tenantTables.contains(target), "reference table \(table) must not reference tenant table \(target)")
                }
            }
            let types = try await db.adminSQL(
                """
                SELECT DISTINCT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attname = 'trust_id' AND NOT a.attisdropped
                """)
            #expect(types == [["uuid"]])
        }
    }
}
