import Logging

/// Checks made before the server accepts a request: the database must enforce tenancy by itself. The server's
/// role may not be a superuser, bypass row-level security or own a table; every table (but the migration log)
/// must FORCE row-level security; and the database must not run with fsync off (it could lose acknowledged
/// returns) unless the operator says it is a development database.
public enum StartupGuards {
    public struct Refusal: Error, CustomStringConvertible {
        public let problems: [String]
        public var description: String {
            "refusing to start:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
        }
    }

    public static func check(app endpoint: DatabaseEndpoint, allowFsyncOff: Bool) async throws {
        let problems = try await LibPQ.runScript(on: endpoint) { connection -> [String] in
            var problems: [String] = []
            let role = try connection.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            if let row = role.first {
                let name = row[0] ?? "?"
                if row[1] == "t" { problems.append("the server's role \(name) is a superuser; connect as a role like senstat_app (Deploy/roles.sql)") }
                if row[2] == "t" { problems.append("the server's role \(name) has BYPASSRLS, which would switch tenant isolation off") }
            }
            let owned = try connection.execute(
                """
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
                ORDER BY 1
                """)
            if !owned.isEmpty {
                problems.append("the server's role owns \(owned.compactMap { $0[0] }.joined(separator: ", ")); tables belong to the owner role, which runs migrations")
            }
            let unforced = try connection.execute(
                """
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
                  AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
                ORDER BY 1
                """)
            if !unforced.isEmpty {
                problems.append("row-level security is not enabled and forced on \(unforced.compactMap { $0[0] }.joined(separator: ", "))")
            }
            if !allowFsyncOff, try connection.execute("SHOW fsync").first?.first == "off" {
                problems.append("the database runs with fsync=off and could lose acknowledged returns; pass --allow-unsafe-fsync only for a development database")
            }
            return problems
        }
        guard problems.isEmpty else { throw Refusal(problems: problems) }
    }
}
