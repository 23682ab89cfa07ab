import Crypto
import Foundation
import Logging
import NIOCore
import PostgresNIO
import SENCore

public struct ReleaseRecord: Sendable {
    public let term: AcademicTerm
    public let releasedAt: Date
    public let schools: Int
}

/// Released, frozen snapshots and the aggregates computed from them. Researchers' transactions run in research
/// scope: the snapshot tables are readable, every tenant table shows nothing.
public struct ResearchStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public enum ReleaseError: Error, Equatable {
        case alreadyReleased
    }

    /// Freezes `term` (admin). Trusts are keyed with a random secret used once and kept nowhere, so trust keys
    /// cannot be linked across releases.
    public func release(term: AcademicTerm, actor: TokenID?, logger: Logger) async throws -> Int {
        var generator = SystemRandomNumberGenerator()
        let secret = Hex.lowercase((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        do {
            return try await database.transaction(.platform, deadline: Database.bulkDeadline, logger: logger) { connection in
                for try await count in try await connection.query(
                    "SELECT release_term(\(term), \(actor), \(secret))", logger: logger
                ).decode(Int.self) { return count }
                return 0
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw ReleaseError.alreadyReleased
        }
    }

    public func releases(logger: Logger) async throws -> [ReleaseRecord] {
        try await database.transaction(.none, logger: logger) { connection in
            var result: [ReleaseRecord] = []
            for try await (term, at, schools) in try await connection.query(
                "SELECT term, released_at, schools FROM releases ORDER BY term", logger: logger
            ).decode((AcademicTerm, Date, Int).self) {
                result.append(ReleaseRecord(term: term, releasedAt: at, schools: schools))
            }
            return result
        }
    }

    public enum Dimension: String, Sendable, CaseIterable {
        case region, la, phase
        case trustSize = "trust_size"
        case need
    }

    /// One school's row of a snapshot.
    struct SnapshotRow {
        let urn: Int
        let trustKey: String
        let band: String
        let region: String
        let laName: String
        let phase: String
        let units: Int
        let values: [String: Int]
    }

    static func cellKey(_ row: SnapshotRow, _ dimension: Dimension) -> (key: String, parent: String?) {
        switch dimension {
        case .region: (row.region, nil)
        case .la: (row.laName, row.region)
        case .phase: (row.phase, nil)
        case .trustSize: (row.band, nil)
        case .need: preconditionFailure("survey releases hold no primary need; the API refuses group_by=need for surveys")
        }
    }

    /// Aggregates snapshot rows into cells (and the total), before disclosure control.
    static func cells(_ rows: [SnapshotRow], by dimension: Dimension) -> (cells: [DisclosureControl.Cell], total: DisclosureControl.Cell) {
        struct Accumulator {
            var parent: String?
            var units = 0
            var schools: Set<Int> = []
            var trusts: Set<String> = []
            var values: [String: Int] = [:]
        }
        var groups: [String: Accumulator] = [:]
        var all = Accumulator()
        for row in rows {
            let (key, parent) = cellKey(row, dimension)
            var group = groups[key] ?? Accumulator(parent: parent)
            for target in [0, 1] {
                var acc = target == 0 ? group : all
                acc.units += row.units
                acc.schools.insert(row.urn)
                acc.trusts.insert(row.trustKey)
                for (name, value) in row.values { acc.values[name, default: 0] += value }
                if target == 0 { group = acc } else { all = acc }
            }
            groups[key] = group
        }
        let cells = groups.sorted { $0.key < $1.key }.map { key, acc in
            DisclosureControl.Cell(key: key, parent: acc.parent, units: acc.units, schools: acc.schools.count, trusts: acc.trusts.count, values: acc.values)
        }
        let total = DisclosureControl.Cell(key: "all", parent: nil, units: all.units, schools: all.schools.count, trusts: all.trusts.count, values: all.values)
        return (cells, total)
    }

    /// SEN counts from the release of `term`, by `dimension`. For `need`, each cell is a primary need and its units
    /// are the pupils with that need. Aggregated in SQL (one row per cell and one for the total), not row by row
    /// here: a term's release holds every school in England.
    public func senCells(term: AcademicTerm, by dimension: Dimension, logger: Logger) async throws -> (cells: [DisclosureControl.Cell], total: DisclosureControl.Cell)? {
        try await senCells(term: term, by: [dimension], logger: logger)?.first
    }

    /// The tables of several dimensions (a family whose suppression is decided together), read in one transaction
    /// with one check that the term is released; nil when it is not.
    public func senCells(term: AcademicTerm, by dimensions: [Dimension], logger: Logger) async throws
        -> [(cells: [DisclosureControl.Cell], total: DisclosureControl.Cell)]?
    {
        try await database.transaction(.research, logger: logger) { connection in
            var released = false
            for try await _ in try await connection.query("SELECT 1 FROM releases WHERE term = \(term)", logger: logger) { released = true }
            guard released else { return nil }
            var tables: [(cells: [DisclosureControl.Cell], total: DisclosureControl.Cell)] = []
            for dimension in dimensions {
                var cells: [DisclosureControl.Cell] = []
                var total = DisclosureControl.Cell(key: "all", parent: nil, units: 0, schools: 0, trusts: 0, values: ["sen_support": 0, "ehc_plan": 0])
                for try await (isTotal, key, parent, units, schools, trusts, k, e) in try await connection.query(
                    Self.senCellsQuery(term: term, by: dimension), logger: logger
                ).decode((Bool, String?, String?, Int, Int, Int, Int, Int).self) {
                    let cell = DisclosureControl.Cell(
                        key: isTotal ? "all" : key ?? "", parent: isTotal ? nil : parent, units: units, schools: schools, trusts: trusts,
                        values: ["sen_support": k, "ehc_plan": e])
                    if isTotal { total = cell } else { cells.append(cell) }
                }
                tables.append((cells.sorted { $0.key < $1.key }, total))
            }
            return tables
        }
    }

    /// The cells of `dimension` and their total, before disclosure control.
    static func senCellsQuery(term: AcademicTerm, by dimension: Dimension) -> PostgresQuery {
        // Column names from this fixed list only, never from the request.
        let (key, parent): (String, String) =
            switch dimension {
            case .region: ("region", "NULL::text")
            case .la: ("la_name", "region")
            case .phase: ("phase", "NULL::text")
            case .trustSize: ("trust_size_band", "NULL::text")
            case .need: ("need", "NULL::text")
            }
        let source =
            dimension == .need
            ? """
              (SELECT r.urn, r.trust_key, n.key AS need,
                      COALESCE((n.value ->> 'sen_support')::int, 0) AS sen_support, COALESCE((n.value ->> 'ehc_plan')::int, 0) AS ehc_plan,
                      COALESCE((n.value ->> 'sen_support')::int, 0) + COALESCE((n.value ->> 'ehc_plan')::int, 0) AS units
               FROM release_sen r CROSS JOIN LATERAL jsonb_each(r.needs) AS n WHERE r.term = $1) AS rows
              """
            : "(SELECT *, pupils_on_roll AS units FROM release_sen WHERE term = $1) AS rows"
        return PostgresQuery(
            unsafeSQL: """
                SELECT GROUPING(\(key)) = 1, \(key), \(parent), COALESCE(sum(units), 0)::int, count(DISTINCT urn)::int,
                       count(DISTINCT trust_key)::int, COALESCE(sum(sen_support), 0)::int, COALESCE(sum(ehc_plan), 0)::int
                FROM \(source)
                GROUP BY GROUPING SETS ((\(key), \(parent)), ())
                """, binds: { var b = PostgresBindings(); b.append(term); return b }())
    }

    /// Counts for one survey item from the release of `term`.
    public func surveyCells(term: AcademicTerm, instrument: String, item: String, by dimension: Dimension, logger: Logger) async throws
        -> (cells: [DisclosureControl.Cell], total: DisclosureControl.Cell)?
    {
        try await surveyCells(term: term, instrument: instrument, item: item, by: [dimension], logger: logger)?.first
    }

    /// One survey item's tables by several dimensions, from one read of the release's rows.
    public func surveyCells(term: AcademicTerm, instrument: String, item: String, by dimensions: [Dimension], logger: Logger) async throws
        -> [(cells: [DisclosureControl.Cell], total: DisclosureControl.Cell)]?
    {
        let rows = try await database.transaction(.research, logger: logger) { connection -> [SnapshotRow]? in
            var released = false
            for try await _ in try await connection.query("SELECT 1 FROM releases WHERE term = \(term)", logger: logger) { released = true }
            guard released else { return nil }
            var rows: [SnapshotRow] = []
            for try await (urn, key, band, region, la, phase, respondents, counts) in try await connection.query(
                """
                SELECT urn, trust_key, trust_size_band, region, la_name, phase, respondents, (counts -> \(item))::text
                FROM release_surveys WHERE term = \(term) AND instrument = \(instrument)
                """, logger: logger
            ).decode((Int, String, String, String, String, String, Int, String?).self) {
                // An item a return does not answer has no counts (NULL); counts that are not numbers are a corrupt row.
                var values: [String: Int] = [:]
                if let counts {
                    do {
                        values = try JSONDecoder().decode([String: Int].self, from: Data(counts.utf8))
                    } catch {
                        throw CorruptRow(table: "release_surveys", detail: "\(urn) \(item): \(error)")
                    }
                }
                rows.append(SnapshotRow(urn: urn, trustKey: key, band: band, region: region, laName: la, phase: phase, units: respondents, values: values))
            }
            return rows
        }
        guard let rows else { return nil }
        return dimensions.map { Self.cells(rows, by: $0) }
    }

    /// The stored answer of `query` by `groupBy` in the release of `term`, if its family has been frozen.
    public func frozenAnswer(term: AcademicTerm, query: String, groupBy: String, logger: Logger) async throws -> String? {
        try await database.transaction(.research, logger: logger) { connection in
            for try await answer in try await connection.query(
                "SELECT answer FROM release_answers WHERE term = \(term) AND query = \(query) AND group_by = \(groupBy)", logger: logger
            ).decode(String.self) { return answer }
            return nil
        }
    }

    /// Freezes every table of one family of a release (`answers` by group_by). A family frozen already (by a
    /// concurrent first query) keeps what it has: both computed the same, and the first stored wins.
    public func freeze(term: AcademicTerm, query: String, answers: [String: String], logger: Logger) async throws {
        try await Database.$readRouting.withValue(nil) {
            try await database.transaction(.research, logger: logger) { connection in
                for (groupBy, answer) in answers.sorted(by: { $0.key < $1.key }) {
                    try await connection.query(
                        """
                        INSERT INTO release_answers (term, query, group_by, answer) VALUES (\(term), \(query), \(groupBy), \(answer))
                        ON CONFLICT DO NOTHING
                        """, logger: logger)
                }
            }
        }
    }

    public struct OverBudget: Error {
        public let remaining: Epsilon
    }

    /// Another query of the same researcher holds the budget row: answer 429 and let them retry, rather than hold
    /// a pool connection waiting for the lock.
    public struct BudgetBusy: Error {}

    /// The stored answer of a query already charged, without taking any lock (a repeat is free).
    public func storedAnswer(token: TokenID, term: AcademicTerm, queryKey: String, logger: Logger) async throws
        -> (answer: String, remaining: Epsilon)?
    {
        try await Database.$readRouting.withValue(nil) {
            try await database.transaction(.research, logger: logger) { connection in
                // What remains is the budget row's own (the configured budget applies to a researcher's first query).
                for try await (answer, spent, limit) in try await connection.query(
                    """
                    SELECT a.answer, b.spent_micro, b.budget_micro FROM dp_answers a JOIN dp_budgets b USING (token_id, term)
                    WHERE a.token_id = \(token) AND a.term = \(term) AND a.query_key = \(queryKey)
                    """, logger: logger
                ).decode((String, Int64, Int64).self) {
                    return (answer, Epsilon(micro: limit) - Epsilon(micro: spent))
                }
                return nil
            }
        }
    }

    /// Differential privacy accounting: charges `epsilon` against the researcher's budget for the release and
    /// stores `answer`, atomically, in exact micro-ε. A query already answered returns its stored answer for
    /// free (the noise cannot be averaged away). The answer is computed by the caller before this runs, so no
    /// connection is held while another is used, and the budget row is locked without waiting: a concurrent query
    /// of the same researcher gets `BudgetBusy`.
    public func answerWithBudget(
        token: TokenID, term: AcademicTerm, queryKey: String, epsilon: Epsilon, budget: Epsilon, answer: String, logger: Logger
    ) async throws -> (answer: String, replayed: Bool, remaining: Epsilon) {
        // The ledger is written, so it lives on the primary even in a request routed to a replica.
        do {
            return try await Database.$readRouting.withValue(nil) {
                try await database.transaction(.research, logger: logger) { connection in
                    // A concurrent first insert of the same budget row would otherwise be waited for.
                    try await connection.query("SELECT set_config('lock_timeout', '100ms', true)", logger: logger)
                    try await connection.query(
                        """
                        INSERT INTO dp_budgets (token_id, term, budget_micro) VALUES (\(token), \(term), \(budget.micro))
                        ON CONFLICT DO NOTHING
                        """, logger: logger)
                    var spent = Epsilon(micro: 0)
                    var limit = budget
                    for try await (s, b) in try await connection.query(
                        "SELECT spent_micro, budget_micro FROM dp_budgets WHERE token_id = \(token) AND term = \(term) FOR UPDATE NOWAIT",
                        logger: logger
                    ).decode((Int64, Int64).self) { (spent, limit) = (Epsilon(micro: s), Epsilon(micro: b)) }
                    for try await stored in try await connection.query(
                        "SELECT answer FROM dp_answers WHERE token_id = \(token) AND term = \(term) AND query_key = \(queryKey)",
                        logger: logger
                    ).decode(String.self) {
                        return (stored, true, limit - spent)
                    }
                    guard spent.micro + epsilon.micro <= limit.micro else { throw OverBudget(remaining: max(Epsilon(micro: 0), limit - spent)) }
                    try await connection.query(
                        "UPDATE dp_budgets SET spent_micro = spent_micro + \(epsilon.micro) WHERE token_id = \(token) AND term = \(term)",
                        logger: logger)
                    try await connection.query(
                        """
                        INSERT INTO dp_answers (token_id, term, query_key, epsilon_micro, answer)
                        VALUES (\(token), \(term), \(queryKey), \(epsilon.micro), \(answer))
                        """, logger: logger)
                    return (answer, false, limit - spent - epsilon)
                }
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55P03" {
            // lock_not_available: NOWAIT, or lock_timeout on the budget row's first insert.
            throw BudgetBusy()
        }
    }
}
