import Foundation
import Logging
import PostgresNIO
import SENCore
import SENStore
import SENTestSupport
import Testing

/// The demo with returns, surveys and releases, loaded through the stores.
func loadFullDemo(_ database: Database) async throws {
    let logger = Logger.test
    try await DemoData.load(into: database, logger: logger)
    try await DemoData.loadReturns(into: ReturnsStore(database: database), logger: logger)
    try await DemoData.loadSurveys(into: SurveyStore(database: database), logger: logger)
    try await DemoData.releaseTerms(into: ResearchStore(database: database), logger: logger)
}

@Suite struct ResearchStoreTests {
    let logger = Logger.test

    /// A researcher's transactions see the frozen snapshots and nothing of any trust's own tables.
    @Test func researchScopeNeverSeesTenantTables() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                try await loadFullDemo(database)
                let counts = try await database.transaction(.research, logger: logger) { connection in
                    var result: [String: Int] = [:]
                    for table in ["sen_returns", "sen_return_versions", "survey_returns", "trust_memberships", "trusts", "audit_log", "api_tokens", "release_sen", "release_surveys"] {
                        for try await n in try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), logger: logger).decode(Int.self) {
                            result[table] = n
                        }
                    }
                    return result
                }
                for table in ["sen_returns", "sen_return_versions", "survey_returns", "trust_memberships", "trusts", "audit_log", "api_tokens"] {
                    #expect(counts[table] == 0, "\(table)")
                }
                #expect((counts["release_sen"] ?? 0) > 0 && (counts["release_surveys"] ?? 0) > 0)
            }
            // Snapshots carry no trust id: only a keyed hash, different in every release.
            let columns = try await db.adminSQL("SELECT column_name FROM information_schema.columns WHERE table_name = 'release_sen'")
            #expect(!columns.contains(["trust_id"]))
            let keys = try await db.adminSQL("SELECT count(DISTINCT trust_key) FROM release_sen")
            #expect(keys == [["\(3 * 8)"]], "three trusts, eight releases, no key shared between releases")
        }
    }

    /// A release is frozen: amendments after it do not change it, and a term is released once.
    @Test func releasesAreFrozenAndMadeOnce() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                try await loadFullDemo(database)
                let research = ResearchStore(database: database)
                let term = AcademicTerm("2024-25-autumn")!
                let before = try #require(try await research.senCells(term: term, by: .region, logger: logger))
                let trust = DemoData.trusts[0].id
                try await database.transaction(.trust(trust), logger: logger) { connection in
                    _ = try await connection.query(
                        "UPDATE sen_returns SET status = 'submitted', approved_at = NULL WHERE trust_id = \(trust) AND term = \(term)",
                        logger: logger)
                }
                let value = try SENReturnValidator.validate(["pupils_on_roll": .text("500"), "sen_support": .text("400"), "ehc_plan": .text("1")]).get()
                _ = try await ReturnsStore(database: database).submit(
                    trust: trust, urn: URN(990_101)!, term: term, value: value, warnings: [], ifMatch: .some(nil), actor: nil,
                    late: true, logger: logger)
                let after = try #require(try await research.senCells(term: term, by: .region, logger: logger))
                #expect(after.total == before.total)
                await #expect(throws: ResearchStore.ReleaseError.alreadyReleased) {
                    _ = try await research.release(term: term, actor: nil, logger: logger)
                }
                #expect(try await research.senCells(term: AcademicTerm("2025-26-summer")!, by: .region, logger: logger) == nil, "not released")
            }
        }
    }

    /// Fifty of one researcher's queries at once against one budget: it is never overspent, a query that finds
    /// the budget row busy is told so at once (and retries, as a client does on 429), and a repeat is free.
    @Test func theBudgetIsNeverOverspentUnderConcurrency() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                try await loadFullDemo(database)
                let research = ResearchStore(database: database)
                let token = TokenID(UUID().uuidString)!
                let tenth = Epsilon(micro: 100_000)
                let budget = Epsilon(micro: 1_000_000)
                let outcomes = await withTaskGroup(of: (charged: Bool, busy: Int).self) { group in
                    for query in 0..<50 {
                        group.addTask {
                            var busy = 0
                            while true {
                                do {
                                    _ = try await research.answerWithBudget(
                                        token: token, term: AcademicTerm("2024-25-autumn")!, queryKey: "q\(query)", epsilon: tenth, budget: budget,
                                        answer: "answer \(query)", logger: Logger.test)
                                    return (true, busy)
                                } catch is ResearchStore.BudgetBusy {
                                    busy += 1
                                    try? await Task.sleep(for: .milliseconds(5))
                                } catch {
                                    return (false, busy)
                                }
                            }
                        }
                    }
                    return await group.reduce(into: [(charged: Bool, busy: Int)]()) { $0.append($1) }
                }
                #expect(outcomes.filter(\.charged).count == 10)
                // A query already answered is answered again, unchanged and free; a new one is refused.
                let stored = try await db.adminSQL("SELECT query_key, answer FROM dp_answers ORDER BY query_key LIMIT 1")
                let key = try #require(stored.first?[0] ?? nil)
                let again = try await research.answerWithBudget(
                    token: token, term: AcademicTerm("2024-25-autumn")!, queryKey: key, epsilon: tenth, budget: budget, answer: "recomputed", logger: logger)
                #expect(again.replayed && again.answer == stored.first?[1] && again.remaining.micro == 0)
                let free = try await research.storedAnswer(token: token, term: AcademicTerm("2024-25-autumn")!, queryKey: key, logger: logger)
                #expect(free?.answer == stored.first?[1])
                await #expect(throws: ResearchStore.OverBudget.self) {
                    _ = try await research.answerWithBudget(
                        token: token, term: AcademicTerm("2024-25-autumn")!, queryKey: "fresh", epsilon: tenth, budget: budget, answer: "x", logger: logger)
                }
            }
            let spent = try await db.adminSQL("SELECT spent_micro, budget_micro FROM dp_budgets")
            #expect(spent == [["1000000", "1000000"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM dp_answers") == [["10"]])
        }
    }

    /// The ledger is exact: charges of one micro-ε add up, none rounds to nothing, and the last micro-ε of a
    /// budget can be spent but not one more.
    @Test func theLedgerCountsEveryMicroEpsilon() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                try await loadFullDemo(database)
                let research = ResearchStore(database: database)
                let token = TokenID(UUID().uuidString)!
                let budget = Epsilon(micro: 3)
                for query in 0..<3 {
                    let result = try await research.answerWithBudget(
                        token: token, term: AcademicTerm("2024-25-autumn")!, queryKey: "q\(query)", epsilon: Epsilon(micro: 1), budget: budget,
                        answer: "a", logger: logger)
                    #expect(result.remaining.micro == Int64(2 - query))
                }
                await #expect(throws: ResearchStore.OverBudget.self) {
                    _ = try await research.answerWithBudget(
                        token: token, term: AcademicTerm("2024-25-autumn")!, queryKey: "q3", epsilon: Epsilon(micro: 1), budget: budget, answer: "a", logger: logger)
                }
            }
            #expect(try await db.adminSQL("SELECT spent_micro FROM dp_budgets") == [["3"]])
        }
    }
}
