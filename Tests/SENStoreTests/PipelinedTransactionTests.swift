import Foundation
import Logging
import PostgresNIO
import SENCore
import SENStore
import SENTestSupport
import Testing

/// A transaction's statements sent behind one another (`Preamble`, `SQLConnection.query(_:then:)` and
/// `queryAndCommit`) keep a transaction's meaning: all of it or none of it, and nothing after its COMMIT.
@Suite struct PipelinedTransactionTests {
    let logger = Logger.test
    let trust = DemoData.trusts[0].id

    func rows(_ db: TestDatabase) async throws -> Int {
        Int(try await db.adminSQL("SELECT count(*) FROM pipelined")[0][0]!)!
    }

    @Test(arguments: [Database.TenantSetting.setConfig, .setLocal])
    func aBodyThatCommitsItselfIsAllOrNothing(setting: Database.TenantSetting) async throws {
        try await withTestDatabase { db in
            try await db.adminSQL("CREATE TABLE pipelined (n integer); GRANT SELECT, INSERT ON pipelined TO senstat_app")
            try await db.withDatabase(tenantSetting: setting) { database in
                // Written, then read back with the COMMIT sent behind the reads: both reads answer, the row stays.
                let (count, two) = try await database.transaction(.trust(trust), logger: logger) { connection in
                    try await connection.query("INSERT INTO pipelined VALUES (1)", logger: logger)
                    let (a, b) = try await connection.queryAndCommit(
                        "SELECT count(*)::int FROM pipelined", then: "SELECT 2", logger: logger)
                    var count = 0, two = 0
                    for try await n in a.decode(Int.self) { count = n }
                    for try await n in b.decode(Int.self) { two = n }
                    return (count, two)
                }
                #expect(count == 1 && two == 2)
                #expect(try await rows(db) == 1)

                // The second read fails: the COMMIT behind it ends the aborted transaction, so the insert is undone,
                // and the error is the read's.
                await #expect(throws: PSQLError.self) {
                    try await database.transaction(.trust(trust), logger: logger) { connection in
                        try await connection.query("INSERT INTO pipelined VALUES (2)", logger: logger)
                        _ = try await connection.queryAndCommit("SELECT 1", then: "SELECT 1 / 0", logger: logger)
                    }
                }
                #expect(try await rows(db) == 1)

                // Nothing may run after the COMMIT (it would run outside the transaction); what was committed stays.
                await #expect(throws: TransactionEnded.self) {
                    try await database.transaction(.trust(trust), logger: logger) { connection in
                        try await connection.query("INSERT INTO pipelined VALUES (3)", logger: logger)
                        _ = try await connection.queryAndCommit("SELECT 1", then: "SELECT 1", logger: logger)
                        try await connection.query("INSERT INTO pipelined VALUES (4)", logger: logger)
                    }
                }
                #expect(try await db.adminSQL("SELECT n FROM pipelined ORDER BY n") == [["1"], ["3"]])

                // The connections are left clean: the next transactions on the pool write and commit as usual.
                for n in 5...12 {
                    try await database.transaction(.trust(trust), logger: logger) { connection in
                        try await connection.query("INSERT INTO pipelined VALUES (\(n))", logger: logger)
                    }
                }
                #expect(try await rows(db) == 10)
            }
        }
    }

    @Test func aBodyErrorAfterTheSetupRollsBackAsBefore() async throws {
        try await withTestDatabase { db in
            try await db.adminSQL("CREATE TABLE pipelined (n integer); GRANT SELECT, INSERT ON pipelined TO senstat_app")
            try await db.withDatabase { database in
                struct Refused: Error {}
                await #expect(throws: Refused.self) {
                    try await database.transaction(.trust(trust), logger: logger) { connection in
                        let (a, _) = try await connection.query("INSERT INTO pipelined VALUES (1)", then: "SELECT 1", logger: logger)
                        _ = a
                        throw Refused()
                    }
                }
                #expect(try await rows(db) == 0)
                // A body that fails before its first statement, with the BEGIN and setup already sent.
                await #expect(throws: Refused.self) {
                    try await database.transaction(.trust(trust), logger: logger) { _ in throw Refused() }
                }
                try await database.transaction(.trust(trust), logger: logger) { connection in
                    try await connection.query("INSERT INTO pipelined VALUES (2)", logger: logger)
                }
                #expect(try await db.adminSQL("SELECT n FROM pipelined") == [["2"]])
            }
        }
    }
}
