import Foundation
import Logging
import PostgresNIO
import SENStore
import SENTestSupport
import Testing

@Suite struct StartupGuardTests {
    /// The server's role passes (the test cluster runs with fsync off, so that must be allowed explicitly).
    @Test func theServerRolePassesAndFsyncOffNeedsSayingSo() async throws {
        try await withTestDatabase { db in
            try await StartupGuards.check(app: db.app, allowFsyncOff: true)
            let fsync = try await db.adminSQL("SHOW fsync")
            if fsync == [["off"]] {
                let error = await #expect(throws: StartupGuards.Refusal.self) {
                    try await StartupGuards.check(app: db.app, allowFsyncOff: false)
                }
                #expect(error?.description.contains("fsync=off") == true)
            }
        }
    }

    @Test func theOwnerRoleIsRefused() async throws {
        try await withTestDatabase { db in
            let error = await #expect(throws: StartupGuards.Refusal.self) {
                try await StartupGuards.check(app: db.owner, allowFsyncOff: true)
            }
            #expect(error?.description.contains("owns") == true)
            #expect(error?.description.contains("sen_returns") == true)
        }
    }

    @Test func aTableWithoutForcedRLSIsNamed() async throws {
        try await withTestDatabase { db in
            try await db.adminSQL("ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY")
            let error = await #expect(throws: StartupGuards.Refusal.self) {
                try await StartupGuards.check(app: db.app, allowFsyncOff: true)
            }
            #expect(error?.description.contains("forced on audit_log") == true)
        }
    }

    @Test func aSuperuserIsRefused() async throws {
        try await withTestDatabase { db in
            let error = await #expect(throws: StartupGuards.Refusal.self) {
                try await StartupGuards.check(app: db.admin, allowFsyncOff: true)
            }
            #expect(error?.description.contains("superuser") == true)
        }
    }

    /// One slow statement cannot hold a pooled connection for ever.
    @Test func theServerPoolHasAStatementTimeout() async throws {
        try await withTestDatabase { db in
            let value = try await db.withDatabase { database in
                try await database.transaction(.none, logger: Logger.test) { connection in
                    for try await value in try await connection.query("SHOW statement_timeout", logger: Logger.test).decode(String.self) {
                        return value
                    }
                    return ""
                }
            }
            #expect(value == "30s")
        }
    }
}
