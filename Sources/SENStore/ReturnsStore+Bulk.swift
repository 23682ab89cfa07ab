import Foundation
import Logging
import NIOCore
import PostgresNIO
import SENCore

extension ReturnsStore {
    /// One row of a bulk import: the school, its validated return, and the warnings found for it.
    public struct ImportRow: Sendable {
        public let urn: URN
        public let value: SENReturn
        public let warnings: [ReturnWarning]

        public init(urn: URN, value: SENReturn, warnings: [ReturnWarning]) {
            self.urn = urn
            self.value = value
            self.warnings = warnings
        }
    }

    /// What an import does once it has read the key's earlier answer and last year's figures: answer with that
    /// earlier import, or write these rows with this receipt (its counts filled in by the write).
    public enum ImportStep: Sendable {
        case replay(StoredImport)
        case write([ImportRow], ImportReceipt)
    }

    /// What an import did: answered with the key's earlier import, or wrote the rows (the receipt with its counts).
    public enum ImportOutcome: Sendable {
        case replayed(StoredImport)
        case imported(ImportSummary, ImportReceipt)
    }

    /// A trust's upload of a term's returns, in one transaction of four round trips after the tenant: one statement
    /// reads the key's earlier answer and last year's figures of `urns` (for the plausibility warnings), `decide`
    /// turns them into what to do, and one statement checks and writes the rows with the idempotency row
    /// (`write`). Rejected rows (`ImportRejected`) or the key committed first by a concurrent request
    /// (`IdempotencyConflict`) roll all of it back. (Two transactions cost three more round trips an import;
    /// Docs/performance.md.)
    public func importReturns(
        trust: TrustID, term: AcademicTerm, urns: [URN], key: String, digest: String, actor: TokenID?, late: Bool,
        logger: Logger,
        decide: @escaping @Sendable (_ stored: StoredImport?, _ lastYear: [URN: (pupilsOnRoll: Int, senSupport: Int)]) throws -> ImportStep
    ) async throws -> ImportOutcome {
        try await database.transaction(.trust(trust), deadline: Database.bulkDeadline, logger: logger) { connection in
            let (stored, previous) = try await Self.preamble(
                connection, trust: trust, key: key, lastYear: term.sameTermLastYear, urns: urns, logger: logger)
            switch try decide(stored, previous) {
            case .replay(let stored):
                return .replayed(stored)
            case .write(let rows, var receipt):
                let summary = try await Self.write(
                    connection, trust: trust, term: term, rows: rows, actor: actor, late: late, source: "import", submittedAt: nil,
                    idempotency: (key, digest, receipt), logger: logger)
                (receipt.created, receipt.amended, receipt.unchanged) = (summary.created, summary.amended, summary.unchanged)
                return .imported(summary, receipt)
            }
        }
    }

    /// Imports many schools' returns in one transaction (`write`), without an idempotency key: the demo's loader.
    public func importReturns(
        trust: TrustID, term: AcademicTerm, rows: [ImportRow], actor: TokenID?, late: Bool, source: String = "import",
        submittedAt: Date? = nil, logger: Logger
    ) async throws -> ImportSummary {
        try await database.transaction(.trust(trust), deadline: Database.bulkDeadline, logger: logger) { connection in
            try await Self.write(
                connection, trust: trust, term: term, rows: rows, actor: actor, late: late, source: source, submittedAt: submittedAt,
                idempotency: nil, logger: logger)
        }
    }

    /// The checks and the writes of an import as one statement: the rows go as bound arrays (unnest), the statement
    /// checks that every school is in the trust now and that no return is approved, and only when both hold writes
    /// the new versions, the returns, the audit rows and, with an idempotency key, the key's answer (the receipt
    /// with the counts this statement found), so that the answer exists exactly when the import does. Rows equal
    /// to the current version are left alone. (A staging table and COPY cost four more round trips and a
    /// catalogue write per import: Docs/performance.md.)
    static func write(
        _ connection: SQLConnection, trust: TrustID, term: AcademicTerm, rows: [ImportRow], actor: TokenID?, late: Bool,
        source: String, submittedAt: Date?, idempotency: (key: String, digest: String, receipt: ImportReceipt)?, logger: Logger
    ) async throws -> ImportSummary {
        let urns = rows.map { Int32($0.urn.value) }
        let rolls = rows.map { $0.value.pupilsOnRoll }
        let support = rows.map { $0.value.senSupport }
        let plans = rows.map { $0.value.ehcPlan }
        let payloads = rows.map { Self.payload($0.value) }
        let warnings = rows.map { Self.warningsJSON($0.warnings) }
        let t = trust
        let total = rows.count
        let key = idempotency?.key
        let digest = idempotency?.digest
        let body = idempotency?.receipt.jsonText
        var summary = ImportSummary()
        let results = try await connection.query(
            """
            WITH i AS (
                SELECT * FROM unnest(\(urns)::integer[], \(rolls)::integer[], \(support)::integer[], \(plans)::integer[],
                                     \(payloads)::jsonb[], \(warnings)::jsonb[])
                              AS i(urn, pupils_on_roll, sen_support, ehc_plan, payload, warnings)
            ), not_in_trust AS (
                SELECT i.urn FROM i
                WHERE NOT EXISTS (
                    SELECT 1 FROM trust_memberships m WHERE m.trust_id = \(t) AND m.urn = i.urn AND m.valid_to IS NULL)
            ), locked AS (
                SELECT i.urn FROM i
                JOIN sen_returns r ON r.trust_id = \(t) AND r.term = \(term) AND r.urn = i.urn
                WHERE r.status = 'approved' AND r.payload <> i.payload
            ), changed AS (
                SELECT i.*, r.payload AS old_payload
                FROM i
                LEFT JOIN sen_returns r ON r.trust_id = \(t) AND r.term = \(term) AND r.urn = i.urn
                WHERE (r.urn IS NULL OR r.payload <> i.payload)
                  AND NOT EXISTS (SELECT 1 FROM not_in_trust) AND NOT EXISTS (SELECT 1 FROM locked)
            ), up AS (
                INSERT INTO sen_returns AS r (trust_id, urn, term, current_version, late, pupils_on_roll, sen_support,
                                              ehc_plan, payload, first_submitted_at, updated_at)
                SELECT \(t), urn, \(term), 1, \(late), pupils_on_roll, sen_support, ehc_plan, payload,
                       coalesce(\(submittedAt), now()), coalesce(\(submittedAt), now())
                FROM changed
                ON CONFLICT (trust_id, urn, term) DO UPDATE SET
                    current_version = r.current_version + 1, pupils_on_roll = EXCLUDED.pupils_on_roll,
                    sen_support = EXCLUDED.sen_support, ehc_plan = EXCLUDED.ehc_plan, payload = EXCLUDED.payload,
                    updated_at = EXCLUDED.updated_at
                RETURNING r.urn, r.current_version, (r.xmax = 0) AS inserted
            ), versions AS (
                INSERT INTO sen_return_versions (trust_id, urn, term, version, payload, warnings, late, submitted_by,
                                                 source, submitted_at)
                SELECT \(t), up.urn, \(term), up.current_version, c.payload, c.warnings, \(late), \(actor),
                       \(source), coalesce(\(submittedAt), now())
                FROM up JOIN changed c USING (urn)
                RETURNING urn
            ), audited AS (
                INSERT INTO audit_log (trust_id, actor, action, object_type, object_key, before_digest, after_digest, detail)
                SELECT \(t), \(actor), CASE WHEN up.inserted THEN 'sen_return.create' ELSE 'sen_return.amend' END,
                       'sen_return', up.urn || '/' || \(term),
                       \(unescaped: Self.digest("c.old_payload")), \(unescaped: Self.digest("c.payload")),
                       jsonb_build_object('source', \(source)::text)
                FROM up JOIN changed c USING (urn)
                RETURNING 1
            ), counted AS (
                SELECT count(*) FILTER (WHERE inserted)::int AS created, count(*) FILTER (WHERE NOT inserted)::int AS amended
                FROM up
            ), kept AS (
                -- A concurrent request that committed the same key first leaves this empty: the caller rolls back.
                INSERT INTO idempotency_keys (trust_id, key, request_digest, response_status, response_body)
                SELECT \(t), \(key), \(digest), 200,
                       (\(body)::jsonb || jsonb_build_object(
                           'created', created, 'amended', amended, 'unchanged', \(total) - created - amended))::text
                FROM counted
                WHERE \(key)::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM not_in_trust) AND NOT EXISTS (SELECT 1 FROM locked)
                ON CONFLICT DO NOTHING
                RETURNING 1
            )
            SELECT coalesce((SELECT array_agg(urn ORDER BY urn) FROM not_in_trust), '{}'),
                   coalesce((SELECT array_agg(urn ORDER BY urn) FROM locked), '{}'),
                   created, amended, (SELECT count(*) FROM versions)::int, (SELECT count(*) FROM audited)::int,
                   (SELECT count(*) FROM kept)::int
            FROM counted
            """, logger: logger)
        for try await (notInTrust, locked, created, amended, _, _, kept) in results.decode(([URN], [URN], Int, Int, Int, Int, Int).self) {
            guard notInTrust.isEmpty && locked.isEmpty else { throw ImportRejected(notInTrust: notInTrust, locked: locked) }
            // The same key committed by a concurrent request first: undo ours; the caller answers with theirs.
            if key != nil && kept == 0 { throw IdempotencyConflict() }
            summary.created = created
            summary.amended = amended
        }
        summary.unchanged = total - summary.created - summary.amended
        return summary
    }

    public struct IdempotencyConflict: Error {}

    /// The import an Idempotency-Key already made, and the digest of the request that made it.
    public func storedImport(trust: TrustID, key: String, logger: Logger) async throws -> StoredImport? {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            try await Self.storedImport(connection, trust: trust, key: key, logger: logger)
        }
    }

    /// What an import reads before it writes, in one statement: the import the key already made, if any, and
    /// otherwise the headline counts of `urns` in the same term last year (for the plausibility warnings).
    static func preamble(
        _ connection: SQLConnection, trust: TrustID, key: String, lastYear: AcademicTerm?, urns: [URN], logger: Logger
    ) async throws -> (stored: StoredImport?, previous: [URN: (pupilsOnRoll: Int, senSupport: Int)]) {
        let values = urns.map { Int32($0.value) }
        var previous: [URN: (pupilsOnRoll: Int, senSupport: Int)] = [:]
        let rows = try await connection.query(
            """
            SELECT k.request_digest, k.response_status, k.response_body, NULL::integer, NULL::integer, NULL::integer
            FROM idempotency_keys k WHERE k.trust_id = \(trust) AND k.key = \(key)
            UNION ALL
            SELECT NULL, NULL, NULL, r.urn, r.pupils_on_roll, r.sen_support FROM sen_returns r
            WHERE r.trust_id = \(trust) AND r.term = \(lastYear) AND r.urn = ANY(\(values)::integer[])
              AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.trust_id = \(trust) AND k.key = \(key))
            """, logger: logger)
        for try await (digest, status, body, urn, roll, support) in rows.decode((String?, Int?, String?, URN?, Int?, Int?).self) {
            if let digest, let status, let body {
                return (try Self.storedImport(key: key, digest: digest, status: status, body: body), [:])
            }
            if let urn, let roll, let support { previous[urn] = (roll, support) }
        }
        return (nil, previous)
    }

    static func storedImport(_ connection: SQLConnection, trust: TrustID, key: String, logger: Logger) async throws -> StoredImport? {
        for try await (digest, status, body) in try await connection.query(
            """
            SELECT request_digest, response_status, response_body FROM idempotency_keys
            WHERE trust_id = \(trust) AND key = \(key)
            """, logger: logger
        ).decode((String, Int, String).self) {
            return try storedImport(key: key, digest: digest, status: status, body: body)
        }
        return nil
    }

    static func storedImport(key: String, digest: String, status: Int, body: String) throws -> StoredImport {
        // The receipt is the import's answer, so rows stored before receipts existed read the same.
        guard status == 200, let receipt = try? JSONDecoder().decode(ImportReceipt.self, from: Data(body.utf8)) else {
            throw CorruptRow(table: "idempotency_keys", detail: "the stored answer of key \(key) is not an import receipt")
        }
        return StoredImport(requestDigest: digest, receipt: receipt)
    }

    /// The return's status, its row locked for the rest of the transaction; nil when there is none.
    static func lockedStatus(_ connection: SQLConnection, _ trust: TrustID, _ urn: URN, _ term: AcademicTerm, _ logger: Logger) async throws -> ReturnStatus? {
        for try await text in try await connection.query(
            "SELECT status FROM sen_returns WHERE trust_id = \(trust) AND urn = \(urn) AND term = \(term) FOR UPDATE", logger: logger
        ).decode(String.self) {
            return try status(text)
        }
        return nil
    }

    /// Approves (locks) a return. Returns nil when there is none; approving an approved return changes nothing.
    public func approve(trust: TrustID, urn: URN, term: AcademicTerm, actor: TokenID?, logger: Logger) async throws -> StoredReturn? {
        let found = try await database.transaction(.trust(trust), logger: logger) { connection -> Bool in
            guard let status = try await Self.lockedStatus(connection, trust, urn, term, logger) else { return false }
            if status == .approved { return true }
            try await connection.query(
                """
                UPDATE sen_returns SET status = 'approved', approved_at = now(), approved_by = \(actor)
                WHERE trust_id = \(trust) AND urn = \(urn) AND term = \(term)
                """, logger: logger)
            try await Self.audit(connection, trust, actor, "sen_return.approve", "\(urn)/\(term)", before: nil, after: nil, detail: nil, logger)
            return true
        }
        return found ? try await current(trust: trust, urn: urn, term: term, logger: logger) : nil
    }

    public enum UnapproveOutcome: Sendable {
        case unapproved(StoredReturn)
        case notApproved
        case missing
    }

    /// Unlocks an approved return, recording the reason in the audit log.
    public func unapprove(trust: TrustID, urn: URN, term: AcademicTerm, reason: String, actor: TokenID?, logger: Logger) async throws -> UnapproveOutcome {
        let detail = String(decoding: try JSONEncoder().encode(["reason": reason]), as: UTF8.self)
        let before = try await database.transaction(.trust(trust), logger: logger) { connection -> ReturnStatus? in
            let status = try await Self.lockedStatus(connection, trust, urn, term, logger)
            guard status == .approved else { return status }
            try await connection.query(
                """
                UPDATE sen_returns SET status = 'submitted', approved_at = NULL, approved_by = NULL
                WHERE trust_id = \(trust) AND urn = \(urn) AND term = \(term)
                """, logger: logger)
            try await Self.audit(connection, trust, actor, "sen_return.unapprove", "\(urn)/\(term)", before: nil, after: nil, detail: detail, logger)
            return status
        }
        switch before {
        case nil: return .missing
        case .submitted: return .notApproved
        case .approved:
            guard let stored = try await current(trust: trust, urn: urn, term: term, logger: logger) else { return .missing }
            return .unapproved(stored)
        }
    }
}
