import Foundation
import Logging
import SENCore
import SENStore
import SENTestSupport
import Synchronization
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
            try await db.withDemoDatabase { database in
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
            try await db.withDemoDatabase { database in
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

    /// An import reads last year's figures and the key's earlier answer, and writes the rows and the key's answer
    /// with the counts it found, in one transaction; the same key again reads that answer and writes nothing.
    @Test func anImportReadsLastYearAndKeepsItsAnswerWithItsCounts() async throws {
        try await withTestDatabase { db in
            try await db.withDemoDatabase { database in
                let store = ReturnsStore(database: database)
                let trust = DemoData.trusts[0].id
                let (a, b) = (URN(990_101)!, URN(990_102)!)
                let term = AcademicTerm("2025-26-autumn")!
                _ = try await store.submit(
                    trust: trust, urn: a, term: term.sameTermLastYear!, value: try value(20), warnings: [], ifMatch: nil, actor: nil,
                    late: false, logger: logger)
                _ = try await store.submit(
                    trust: trust, urn: b, term: term, value: try value(30), warnings: [], ifMatch: nil, actor: nil, late: false, logger: logger)
                let seen = Mutex<[(stored: Bool, lastYear: [Int: Int])]>([])
                let rows = [ReturnsStore.ImportRow(urn: a, value: try value(60), warnings: []),
                            ReturnsStore.ImportRow(urn: b, value: try value(31), warnings: [])]
                func upload() async throws -> ReturnsStore.ImportOutcome {
                    try await store.importReturns(
                        trust: trust, term: term, urns: [a, b], key: "k1", digest: "d1", actor: nil, late: false, logger: logger
                    ) { stored, lastYear in
                        seen.withLock { $0.append((stored != nil, lastYear.reduce(into: [:]) { $0[$1.key.value] = $1.value.senSupport })) }
                        if let stored { return .replay(stored) }
                        return .write(rows, ImportReceipt(term: term.description, rows: 2, late: false, warnings: []))
                    }
                }
                guard case .imported(let summary, let receipt) = try await upload() else { Issue.record("the first upload wrote nothing"); return }
                #expect((summary.created, summary.amended, summary.unchanged) == (1, 1, 0))
                #expect((receipt.created, receipt.amended, receipt.unchanged) == (1, 1, 0))
                guard case .replayed(let stored) = try await upload() else { Issue.record("the same key wrote again"); return }
                #expect(stored.requestDigest == "d1")
                #expect(stored.receipt == receipt, "the kept answer carries the counts the write found")
                let calls = seen.withLock { $0 }
                #expect(calls.map(\.stored) == [false, true])
                #expect(calls.first?.lastYear == [990_101: 20], "last year's figures of the uploaded schools")
                #expect(calls.last?.lastYear == [:], "a replay reads no figures")
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_return_versions WHERE term = '2025-26-autumn'") == [["3"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM idempotency_keys") == [["1"]])
        }
    }

    /// A request that commits the same Idempotency-Key while an import is writing wins: the import's rows, versions
    /// and audit rows are rolled back with its key, and the caller is told to answer with the other's.
    @Test func theKeyCommittedFirstByAnotherRequestUndoesTheImport() async throws {
        try await withTestDatabase { db in
            try await db.withDemoDatabase { _ in }
            let trust = DemoData.trusts[0].id
            let term = AcademicTerm("2025-26-autumn")!
            let state = Mutex((read: false, inserted: false))
            // Another request's transaction: the key inserted, committed once the import has read that it is free.
            let holder = Task {
                try await LibPQ.runScript(on: db.admin) { connection in
                    _ = try connection.execute("BEGIN")
                    _ = try connection.execute(
                        "INSERT INTO idempotency_keys (trust_id, key, request_digest, response_status, response_body) VALUES ($1, 'k', 'other', 200, '{}')",
                        parameters: [trust.uuidString])
                    state.withLock { $0.inserted = true }
                    for _ in 0..<600 where !state.withLock({ $0.read }) { usleep(100_000) }
                    usleep(300_000)
                    _ = try connection.execute("COMMIT")
                }
            }
            while !state.withLock({ $0.inserted }) { try await Task.sleep(for: .milliseconds(20)) }
            let outcome: String = try await db.withDatabase { database in
                do {
                    _ = try await ReturnsStore(database: database).importReturns(
                        trust: trust, term: term, urns: [URN(990_101)!], key: "k", digest: "mine", actor: nil, late: false, logger: logger
                    ) { stored, _ in
                        state.withLock { $0.read = true }
                        if let stored { return .replay(stored) }
                        return .write([.init(urn: URN(990_101)!, value: try value(50), warnings: [])],
                                      ImportReceipt(term: term.description, rows: 1, late: false, warnings: []))
                    }
                    return "imported"
                } catch is ReturnsStore.IdempotencyConflict {
                    return "conflict"
                }
            }
            try await holder.value
            #expect(outcome == "conflict")
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_returns") == [["0"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_return_versions") == [["0"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM audit_log WHERE action LIKE 'sen_return.%'") == [["0"]])
            #expect(try await db.adminSQL("SELECT request_digest FROM idempotency_keys") == [["other"]])
        }
    }

    /// The audit log is append-only for the server's role.
    @Test func theServerRoleCannotRewriteTheAuditLog() async throws {
        try await withTestDatabase { db in
            try await db.withDemoDatabase { database in
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
