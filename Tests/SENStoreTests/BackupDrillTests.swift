import Foundation
import Logging
import SENStore
import SENTestSupport
import Testing

/// The restore drill: back up a database holding the demo with Deploy/backup.sh, restore it into an empty one with
/// Deploy/restore.sh, and find every row and every forced RLS policy again.
@Suite struct BackupDrillTests {
    func run(_ script: String, _ argument: String, environment: [String: String]) async throws -> (Int32, String) {
        var environment = environment
        if let bin = try? EmbeddedPostgres.findBinaries(environment: ProcessInfo.processInfo.environment).path {
            environment["PATH"] = bin + ":" + (environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "")
        }
        return try await Script.run("bash", [script, argument], environment: environment)
    }

    static let tables = ["trusts", "schools", "trust_memberships", "sen_returns", "sen_return_versions", "audit_log", "survey_returns", "api_tokens", "national_rates", "schema_migrations"]

    @Test func backUpAndRestoreEverything() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                let logger = Logger.test
                try await DemoData.load(into: database, logger: logger)
                try await DemoData.loadReturns(into: ReturnsStore(database: database), logger: logger)
                try await DemoData.loadSurveys(into: SurveyStore(database: database), logger: logger)
                _ = try await DemoData.issueTokens(store: TokenStore(database: database), logger: logger)
            }
            let counts = Self.tables.map { "SELECT '\($0)', count(*)::text FROM \($0)" }.joined(separator: " UNION ALL ")
            let before = try await db.adminSQL(counts)
            let dump = FileManager.default.temporaryDirectory.appendingPathComponent("senstat-drill-\(UUID().uuidString).dump")
            defer { try? FileManager.default.removeItem(at: dump) }
            let (backupStatus, backupOutput) = try await run("Deploy/backup.sh", dump.path, environment: ["BACKUP_DATABASE_URL": db.admin.conninfo])
            #expect(backupStatus == 0, "\(backupOutput)")

            let target = db.name + "_restored"
            try await db.adminSQL("CREATE DATABASE \(target)")
            let restoredEndpoint = db.admin.with(database: target)
            let (restoreStatus, restoreOutput) = try await run("Deploy/restore.sh", dump.path, environment: ["RESTORE_DATABASE_URL": restoredEndpoint.conninfo])
            #expect(restoreStatus == 0, "\(restoreOutput)")
            let after = try await LibPQ.runScript(on: restoredEndpoint) { try $0.execute(counts) }
            #expect(after == before)
            #expect(before.first { $0[0] == "sen_return_versions" }?[1] != "0", "the drill had data to lose")
            let unforced = try await LibPQ.runScript(on: restoredEndpoint) {
                try $0.execute(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'schema_migrations' AND NOT c.relforcerowsecurity")
            }
            #expect(unforced == [["0"]])
            // The owner alone cannot take a full backup: FORCE applies to it.
            let (ownerStatus, _) = try await run("Deploy/backup.sh", dump.path + ".owner", environment: ["BACKUP_DATABASE_URL": db.owner.conninfo])
            #expect(ownerStatus != 0)
            try? FileManager.default.removeItem(atPath: dump.path + ".owner")
            try await db.adminSQL("DROP DATABASE \(target) WITH (FORCE)")
        }
    }
}
