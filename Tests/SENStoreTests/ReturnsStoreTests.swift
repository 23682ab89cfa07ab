import Foundation
import Logging
import SENCore
import SENStore
import SENTestSupport
import Testing

@Suite struct ReturnsStoreTests {
    let logger = Logger.test

    func value(_ k: Int) throws -> SENReturn {
        try SENReturnValidator.validate(["pupils_on_roll": .text("400"), "sen_support": .text(String(k)), "ehc_plan": .text("9")]).get()
    }

    /// Two amendments of the same version race: exactly one wins, and the version rises by one.
    @Test(arguments: 1...3)
    func concurrentAmendmentsWithTheSameIfMatch(_ round: Int) async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                try await DemoData.load(into: database, logger: logger)
                let store = ReturnsStore(database: database)
                let trust = DemoData.trusts[0].id
                let urn = URN(990_101)!
                _ = try await store.submit(
                    trust: trust, urn: urn, term: AcademicTerm("2025-26-autumn")!, value: try value(50), warnings: [], ifMatch: nil,
                    actor: nil, late: false, logger: logger)
                let candidates = [try value(51), try value(52), try value(53), try value(54)]
                let outcomes = await withTaskGroup(of: String.self) { group in
                    for candidate in candidates {
                        group.addTask {
                            do {
                                _ = try await store.submit(
                                    trust: trust, urn: urn, term: AcademicTerm("2025-26-autumn")!, value: candidate, warnings: [],
                                    ifMatch: .some(1), actor: nil, late: false, logger: logger)
                                return "won"
                            } catch let error as ReturnWriteError {
                                return error == .preconditionFailed(current: 2) ? "stale" : "\(error)"
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes.sorted() == ["stale", "stale", "stale", "won"])
            }
            #expect(try await db.adminSQL("SELECT current_version FROM sen_returns") == [["2"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_return_versions") == [["2"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM audit_log") == [["2"]])
        }
    }

    /// Two first submissions race: one creates version 1, the other is told a version now exists.
    @Test func concurrentFirstSubmissions() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                try await DemoData.load(into: database, logger: logger)
                let store = ReturnsStore(database: database)
                let trust = DemoData.trusts[0].id
                let candidates = [try value(40), try value(41)]
                let outcomes = await withTaskGroup(of: String.self) { group in
                    for candidate in candidates {
                        group.addTask {
                            do {
                                let (_, created) = try await store.submit(
                                    trust: trust, urn: URN(990_102)!, term: AcademicTerm("2025-26-spring")!, value: candidate, warnings: [],
                                    ifMatch: nil, actor: nil, late: false, logger: logger)
                                return created ? "created" : "amended"
                            } catch let error as ReturnWriteError {
                                return error == .preconditionRequired(current: 1) ? "required" : "\(error)"
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes.sorted() == ["created", "required"])
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_return_versions") == [["1"]])
        }
    }

    /// The audit log is append-only for the server's role.
    @Test func theServerRoleCannotRewriteTheAuditLog() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                try await DemoData.load(into: database, logger: logger)
                let store = ReturnsStore(database: database)
                let trust = DemoData.trusts[0].id
                _ = try await store.submit(
                    trust: trust, urn: URN(990_101)!, term: AcademicTerm("2025-26-autumn")!, value: try value(50), warnings: [],
                    ifMatch: nil, actor: nil, late: false, logger: logger)
                for statement in ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
                    await #expect(throws: (any Error).self, "\(statement)") {
                        try await database.transaction(.trust(trust), logger: logger) { connection in
                            _ = try await connection.query(PostgresQueryText.unsafe(statement), logger: logger)
                        }
                    }
                }
            }
            #expect(try await db.adminSQL("SELECT action FROM audit_log") == [["sen_return.create"]])
        }
    }
}

import PostgresNIO

enum PostgresQueryText {
    /// A fixed statement from the test itself (not request data).
    static func unsafe(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql) }
}
