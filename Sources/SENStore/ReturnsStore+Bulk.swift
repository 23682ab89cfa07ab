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

    /// Imports many schools' returns in one transaction and one statement for the checks and the writes: the rows
    /// go as bound arrays (unnest), the statement checks that every school is in the trust now and that no return
    /// is approved, and only when both hold writes the new versions, the returns and the audit rows. Rows equal to
    /// the current version are left alone. With an idempotency key, the response is stored in the same
    /// transaction, so it exists exactly when the import does. (A staging table and COPY cost four more round
    /// trips and a catalogue write per import: Docs/performance.md.)
    public func importReturns(
        trust: TrustID, term: AcademicTerm, rows: [ImportRow], actor: TokenID?, late: Bool, source: String = "import",
        submittedAt: Date? = nil, idempotency: (key: String, digest: String, receipt: ImportReceipt)? = nil,
        logger: Logger
    ) async throws -> ImportSummary {
        let urns = rows.map { Int32($0.urn.value) }
        let rolls = rows.map { $0.value.pupilsOnRoll }
        let support = rows.map { $0.value.senSupport }
        let plans = rows.map { $0.value.ehcPlan }
        let payloads = rows.map { Self.payload($0.value) }
        let warnings = rows.map { Self.warningsJSON($0.warnings) }
        let t = trust
        let total = rows.count
        return try await database.transaction(.trust(trust), deadline: Database.bulkDeadline, logger: logger) { connection in
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
                )
                SELECT coalesce((SELECT array_agg(urn ORDER BY urn) FROM not_in_trust), '{}'),
                       coalesce((SELECT array_agg(urn ORDER BY urn) FROM locked), '{}'),
                       count(*) FILTER (WHERE inserted)::int, count(*) FILTER (WHERE NOT inserted)::int,
                       (SELECT count(*) FROM versions)::int, (SELECT count(*) FROM audited)::int
                FROM up
                """, logger: logger)
            for try await (notInTrust, locked, created, amended, _, _) in results.decode(([URN], [URN], Int, Int, Int, Int).self) {
                guard notInTrust.isEmpty && locked.isEmpty else { throw ImportRejected(notInTrust: notInTrust, locked: locked) }
                summary.created = created
                summary.amended = amended
            }
            summary.unchanged = total - summary.created - summary.amended
            if let idempotency {
                var receipt = idempotency.receipt
                (receipt.created, receipt.amended, receipt.unchanged) = (summary.created, summary.amended, summary.unchanged)
                let body = receipt.jsonText
                var stored = false
                for try await _ in try await connection.query(
                    """
                    INSERT INTO idempotency_keys (trust_id, key, request_digest, response_status, response_body)
                    VALUES (\(t), \(idempotency.key), \(idempotency.digest), 200, \(body))
                    ON CONFLICT DO NOTHING RETURNING 1
                    """, logger: logger
                ) { stored = true }
                // The same key committed by a concurrent request first: undo ours; the caller answers with theirs.
                if !stored { throw IdempotencyConflict() }
            }
            return summary
        }
    }

    public struct IdempotencyConflict: Error {}

    /// The import an Idempotency-Key already made, and the digest of the request that made it.
    public func storedImport(trust: TrustID, key: String, logger: Logger) async throws -> StoredImport? {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            try await Self.storedImport(connection, trust: trust, key: key, logger: logger)
        }
    }

    /// What an import reads before it writes, in one transaction: the import the key already made, if any, and
    /// the headline counts of `urns` in the same term last year (for the plausibility warnings).
    public func importPreamble(trust: TrustID, key: String, lastYear: AcademicTerm?, urns: [URN], logger: Logger) async throws
        -> (stored: StoredImport?, previous: [URN: (pupilsOnRoll: Int, senSupport: Int)])
    {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            if let stored = try await Self.storedImport(connection, trust: trust, key: key, logger: logger) { return (stored, [:]) }
            guard let lastYear else { return (nil, [:]) }
            return (nil, try await Self.headlines(connection, trust: trust, term: lastYear, urns: urns, logger: logger))
        }
    }

    static func storedImport(_ connection: PostgresConnection, trust: TrustID, key: String, logger: Logger) async throws -> StoredImport? {
        for try await (digest, status, body) in try await connection.query(
            """
            SELECT request_digest, response_status, response_body FROM idempotency_keys
            WHERE trust_id = \(trust) AND key = \(key)
            """, logger: logger
        ).decode((String, Int, String).self) {
            // The receipt is the import's answer, so rows stored before receipts existed read the same.
            guard status == 200, let receipt = try? JSONDecoder().decode(ImportReceipt.self, from: Data(body.utf8)) else {
                throw CorruptRow(table: "idempotency_keys", detail: "the stored answer of key \(key) is not an import receipt")
            }
            return StoredImport(requestDigest: digest, receipt: receipt)
        }
        return nil
    }

    /// The return's status, its row locked for the rest of the transaction; nil when there is none.
    static func lockedStatus(_ connection: PostgresConnection, _ trust: TrustID, _ urn: URN, _ term: AcademicTerm, _ logger: Logger) async throws -> ReturnStatus? {
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
