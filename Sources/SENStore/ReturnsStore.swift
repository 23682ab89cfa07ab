import Foundation
import Logging
import NIOCore
import PostgresNIO
import SENCore

/// Where a stored return stands (`sen_returns.status`).
public enum ReturnStatus: String, Sendable, Codable {
    case submitted
    case approved
}

/// Where a school's return for a term stands in the trust's completeness view.
public enum CompletenessStatus: String, Sendable, Codable, CaseIterable {
    case missing
    case submitted
    case late
    case approved
}

/// A row the schema allows but the code cannot read: an error that reaches the log and the caller (500), never a
/// default value.
public struct CorruptRow: Error, CustomStringConvertible {
    public let table: String
    public let detail: String

    public init(table: String, detail: String) {
        self.table = table
        self.detail = detail
    }

    public var description: String { "a row of \(table) cannot be read: \(detail)" }
}

/// The current state of one school's return for one term.
public struct StoredReturn: Sendable {
    public let trustID: TrustID
    public let urn: URN
    public let term: AcademicTerm
    public let version: Int
    public let status: ReturnStatus
    public let late: Bool
    public let firstSubmittedAt: Date
    public let updatedAt: Date
    public let approvedAt: Date?
    public let value: SENReturn
    public let warnings: [ReturnWarning]
}

/// One version in a return's history.
public struct ReturnVersion: Sendable {
    public let version: Int
    public let submittedAt: Date
    public let submittedBy: String?
    public let source: String
    public let late: Bool
    public let warnings: [ReturnWarning]
    public let value: SENReturn
}

/// A school of the trust and where its return stands for a term.
public struct CompletenessRow: Sendable {
    public let urn: URN
    public let name: String
    public let phase: String
    public let status: CompletenessStatus
    public let late: Bool
    public let version: Int?
    public let firstSubmittedAt: Date?
    public let updatedAt: Date?
    public let approvedAt: Date?
}

public enum ReturnWriteError: Error, Equatable {
    /// A version exists and the request did not say which one it amends (428).
    case preconditionRequired(current: Int)
    /// The request amends a version that is no longer current (412).
    case preconditionFailed(current: Int?)
    /// Approved returns are locked until the trust unapproves them (409).
    case locked
}

/// An import refused by the database-side checks: schools not in the trust now, returns that are approved.
public struct ImportRejected: Error {
    public let notInTrust: [URN]
    public let locked: [URN]
}

public struct ImportSummary: Sendable, Equatable {
    public var created = 0
    public var amended = 0
    public var unchanged = 0
}

/// An import made with an Idempotency-Key: the digest of its request and its receipt.
public struct StoredImport: Sendable, Equatable {
    public let requestDigest: String
    public let receipt: ImportReceipt
}

public struct ReturnsStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Canonical JSON of a return (sorted keys): what is stored, compared and digested.
    /// The return as the jsonb it is stored as (keys sorted, as JSONEncoder with `.sortedKeys` writes them).
    static func payload(_ value: SENReturn) -> String { value.jsonText }

    static func warningsJSON(_ warnings: [ReturnWarning]) -> String {
        var out = JSONOutput(capacity: 64 + warnings.count * 160)
        out.array(warnings) { o, warning in
            o.object { o in
                o.key("code"); o.string(warning.code)
                o.key("message"); o.string(warning.message)
            }
        }
        return out.text
    }

    static func decodeWarnings(_ text: String, table: String = "sen_return_versions") throws -> [ReturnWarning] {
        do {
            return try JSONDecoder().decode([ReturnWarning].self, from: Data(text.utf8))
        } catch {
            throw CorruptRow(table: table, detail: "warnings: \(error)")
        }
    }

    /// The digest the audit log records for a payload column: SHA-256 of jsonb's own text form, computed in SQL.
    static func digest(_ column: String) -> String { "encode(sha256(convert_to(\(column)::text, 'UTF8')), 'hex')" }

    // MARK: Reads

    public func current(trust: TrustID, urn: URN, term: AcademicTerm, logger: Logger) async throws -> StoredReturn? {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            try await Self.returns(
                connection.query(
                    """
                    SELECT \(unescaped: Self.returnColumns) FROM sen_returns r
                    JOIN sen_return_versions v ON v.trust_id = r.trust_id AND v.urn = r.urn AND v.term = r.term AND v.version = r.current_version
                    WHERE r.trust_id = \(trust) AND r.urn = \(urn) AND r.term = \(term)
                    """, logger: logger)
            ).first
        }
    }

    public func list(trust: TrustID, term: AcademicTerm, logger: Logger) async throws -> [StoredReturn] {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            try await Self.returns(
                connection.query(
                    """
                    SELECT \(unescaped: Self.returnColumns) FROM sen_returns r
                    JOIN sen_return_versions v ON v.trust_id = r.trust_id AND v.urn = r.urn AND v.term = r.term AND v.version = r.current_version
                    WHERE r.trust_id = \(trust) AND r.term = \(term)
                    ORDER BY r.urn
                    """, logger: logger))
        }
    }

    public func versions(trust: TrustID, urn: URN, term: AcademicTerm, logger: Logger) async throws -> [ReturnVersion] {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            let rows = try await connection.query(
                """
                SELECT version, submitted_at, submitted_by, source, late, warnings::text, payload
                FROM sen_return_versions
                WHERE trust_id = \(trust) AND urn = \(urn) AND term = \(term)
                ORDER BY version
                """, logger: logger)
            var versions: [ReturnVersion] = []
            for try await (version, at, by, source, late, warnings, payload) in rows.decode(
                (Int, Date, UUID?, String, Bool, String, JSONValue).self)
            {
                versions.append(
                    ReturnVersion(
                        version: version, submittedAt: at, submittedBy: by?.uuidString.lowercased(), source: source,
                        late: late, warnings: try Self.decodeWarnings(warnings), value: SENReturnValidator.decodeStored(payload)))
            }
            return versions
        }
    }

    /// Roll and SEN support of each school's return for `term` (for year-on-year warnings).
    public func headlines(trust: TrustID, term: AcademicTerm, urns: [URN], logger: Logger) async throws -> [URN: (pupilsOnRoll: Int, senSupport: Int)] {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            try await Self.headlines(connection, trust: trust, term: term, urns: urns, logger: logger)
        }
    }

    static func headlines(_ connection: SQLConnection, trust: TrustID, term: AcademicTerm, urns: [URN], logger: Logger) async throws
        -> [URN: (pupilsOnRoll: Int, senSupport: Int)]
    {
        let values = urns.map { Int32($0.value) }
        var result: [URN: (pupilsOnRoll: Int, senSupport: Int)] = [:]
        let rows = try await connection.query(
            """
            SELECT urn, pupils_on_roll, sen_support FROM sen_returns
            WHERE trust_id = \(trust) AND term = \(term) AND urn = ANY(\(values)::integer[])
            """, logger: logger)
        for try await (urn, roll, k) in rows.decode((URN, Int, Int).self) { result[urn] = (roll, k) }
        return result
    }

    public func completeness(trust: TrustID, term: AcademicTerm, logger: Logger) async throws -> [CompletenessRow] {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            let rows = try await connection.query(
                """
                SELECT s.urn, s.name, s.phase, r.status, coalesce(r.late, false), r.current_version,
                       r.first_submitted_at, r.updated_at, r.approved_at
                FROM trust_memberships m
                JOIN schools s ON s.urn = m.urn
                LEFT JOIN sen_returns r ON r.trust_id = m.trust_id AND r.urn = m.urn AND r.term = \(term)
                WHERE m.trust_id = \(trust) AND m.valid_to IS NULL
                ORDER BY s.name, s.urn
                """, logger: logger)
            var result: [CompletenessRow] = []
            for try await (urn, name, phase, statusText, late, version, first, updated, approved) in rows.decode(
                (URN, String, String, String?, Bool, Int?, Date?, Date?, Date?).self)
            {
                let status = try statusText.map(Self.status)
                let state: CompletenessStatus = status == .approved ? .approved : status == nil ? .missing : late ? .late : .submitted
                result.append(
                    CompletenessRow(
                        urn: urn, name: name, phase: phase, status: state, late: late, version: version,
                        firstSubmittedAt: first, updatedAt: updated, approvedAt: approved))
            }
            return result
        }
    }

    // MARK: Writes

    /// Writes a new version of one school's return. `ifMatch` is the version the caller amends (nil: none named;
    /// `.some(nil)`: `If-Match: *`). The current row is locked first, so of two amendments of the same version
    /// exactly one wins.
    public func submit(
        trust: TrustID, urn: URN, term: AcademicTerm, value: SENReturn, warnings: [ReturnWarning], ifMatch: Int??,
        actor: TokenID?, late: Bool, logger: Logger
    ) async throws -> (StoredReturn, created: Bool) {
        let payload = Self.payload(value)
        let warningsJSON = Self.warningsJSON(warnings)
        let t = trust
        let created = try await database.transaction(.trust(trust), logger: logger) { connection -> Bool in
            var current: (version: Int, status: ReturnStatus)?
            for try await (version, status) in try await connection.query(
                """
                SELECT current_version, status FROM sen_returns
                WHERE trust_id = \(t) AND urn = \(urn) AND term = \(term) FOR UPDATE
                """, logger: logger
            ).decode((Int, String).self) {
                current = (version, try Self.status(status))
            }
            let key = "\(urn)/\(term)"
            guard let current else {
                if ifMatch != nil { throw ReturnWriteError.preconditionFailed(current: nil) }
                var inserted = false
                for try await _ in try await connection.query(
                    """
                    INSERT INTO sen_returns (trust_id, urn, term, current_version, late, pupils_on_roll, sen_support, ehc_plan, payload)
                    VALUES (\(t), \(urn), \(term), 1, \(late), \(value.pupilsOnRoll), \(value.senSupport), \(value.ehcPlan), \(payload)::jsonb)
                    ON CONFLICT DO NOTHING RETURNING 1
                    """, logger: logger
                ) { inserted = true }
                // Another first submission committed between our read and insert: this one is now an amendment
                // that did not say which version it amends.
                guard inserted else { throw ReturnWriteError.preconditionRequired(current: 1) }
                try await Self.insertVersion(connection, t, urn, term, 1, payload, warningsJSON, late, actor, "api", logger)
                try await Self.audit(connection, t, actor, "sen_return.create", key, before: nil, after: payload, detail: nil, logger)
                return true
            }
            if current.status == .approved { throw ReturnWriteError.locked }
            guard let ifMatch else { throw ReturnWriteError.preconditionRequired(current: current.version) }
            if let expected = ifMatch, expected != current.version {
                throw ReturnWriteError.preconditionFailed(current: current.version)
            }
            let next = current.version + 1
            try await connection.query(
                """
                WITH old AS (
                    SELECT payload FROM sen_returns WHERE trust_id = \(t) AND urn = \(urn) AND term = \(term)
                ), updated AS (
                    UPDATE sen_returns SET current_version = \(next), pupils_on_roll = \(value.pupilsOnRoll),
                        sen_support = \(value.senSupport), ehc_plan = \(value.ehcPlan), payload = \(payload)::jsonb,
                        updated_at = now()
                    WHERE trust_id = \(t) AND urn = \(urn) AND term = \(term)
                    RETURNING payload
                )
                INSERT INTO audit_log (trust_id, actor, action, object_type, object_key, before_digest, after_digest)
                SELECT \(t), \(actor), 'sen_return.amend', 'sen_return', \(key),
                       \(unescaped: Self.digest("old.payload")), \(unescaped: Self.digest("updated.payload"))
                FROM old, updated
                """, logger: logger)
            try await Self.insertVersion(connection, t, urn, term, next, payload, warningsJSON, late, actor, "api", logger)
            return false
        }
        guard let stored = try await current(trust: trust, urn: urn, term: term, logger: logger) else {
            throw ReturnWriteError.preconditionFailed(current: nil)
        }
        return (stored, created)
    }

    static func insertVersion(
        _ connection: SQLConnection, _ trust: TrustID, _ urn: URN, _ term: AcademicTerm, _ version: Int, _ payload: String,
        _ warnings: String, _ late: Bool, _ actor: TokenID?, _ source: String, _ logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO sen_return_versions (trust_id, urn, term, version, payload, warnings, late, submitted_by, source)
            VALUES (\(trust), \(urn), \(term), \(version), \(payload)::jsonb, \(warnings)::jsonb, \(late), \(actor), \(source))
            """, logger: logger)
    }

    /// One audit row. Digests are of jsonb's text form, computed in SQL, so every writer records the same.
    static func audit(
        _ connection: SQLConnection, _ trust: TrustID, _ actor: TokenID?, _ action: String, _ key: String,
        before: String?, after: String?, detail: String?, objectType: String = "sen_return", _ logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO audit_log (trust_id, actor, action, object_type, object_key, before_digest, after_digest, detail)
            VALUES (\(trust), \(actor), \(action), \(objectType), \(key),
                    encode(sha256(convert_to((\(before)::jsonb)::text, 'UTF8')), 'hex'),
                    encode(sha256(convert_to((\(after)::jsonb)::text, 'UTF8')), 'hex'),
                    \(detail)::jsonb)
            """, logger: logger)
    }

    static func status(_ text: String) throws -> ReturnStatus {
        guard let status = ReturnStatus(rawValue: text) else { throw CorruptRow(table: "sen_returns", detail: "status '\(text)'") }
        return status
    }

    static let returnColumns = """
        r.trust_id, r.urn, r.term, r.current_version, r.status, r.late, r.first_submitted_at, r.updated_at,
        r.approved_at, r.payload, v.warnings::text
        """

    static func returns(_ rows: SQLRows) async throws -> [StoredReturn] {
        var result: [StoredReturn] = []
        for try await row in rows {
            let (trust, urn, term, version, status, late, first, updated, approved, payload, warnings) = try row.decode(
                (TrustID, URN, AcademicTerm, Int, String, Bool, Date, Date, Date?, JSONValue, String).self)
            result.append(
                StoredReturn(
                    trustID: trust, urn: urn, term: term, version: version, status: try Self.status(status),
                    late: late, firstSubmittedAt: first, updatedAt: updated, approvedAt: approved,
                    value: SENReturnValidator.decodeStored(payload), warnings: try decodeWarnings(warnings)))
        }
        return result
    }
}
