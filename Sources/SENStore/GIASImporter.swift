import Logging
import PostgresNIO
import SENCore

/// What a register import did.
public struct GIASImportSummary: Sendable, Equatable {
    public var new = 0
    public var changed = 0
    public var closed = 0
    public var unchanged = 0
    public var rejected: [GIASRegisterReader.Rejection] = []
    public var trustsCreated = 0
    public var membershipsOpened = 0
    public var membershipsClosed = 0
}

/// Upserts the register from a GIAS export in one transaction: COPY into a staging table, then set-based SQL.
/// Importing the same file twice changes nothing.
public struct GIASImporter: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    static let stagingColumns = [
        "urn", "name", "phase", "establishment_type", "establishment_type_group", "la_code", "la_name", "region",
        "status", "opened_on", "closed_on", "number_of_pupils", "statutory_low_age", "statutory_high_age",
        "trust_code", "trust_name",
    ]

    /// The register columns an import writes and compares to decide "changed".
    static let registerColumns = [
        "name", "phase", "establishment_type", "establishment_type_group", "la_code", "la_name", "region", "status",
        "opened_on", "closed_on", "number_of_pupils", "statutory_low_age", "statutory_high_age",
    ]

    static func columns(_ prefix: String) -> String {
        registerColumns.map { prefix + $0 }.joined(separator: ", ")
    }

    /// Imports `register`; with `createTrusts`, creates trusts from `Trusts (code)` and records membership changes
    /// effective on `effectiveDate` (a school that left its trust has its membership closed).
    public func importRegister(
        _ register: GIASRegisterReader.Result, createTrusts: Bool, effectiveDate: CalendarDate, logger: Logger
    ) async throws -> GIASImportSummary {
        var copy = COPYTextWriter()
        var chunks: [ByteBuffer] = []
        for (index, entry) in register.entries.enumerated() {
            copy.row([
                String(entry.urn.value), entry.name, entry.phase.rawValue, entry.establishmentType,
                entry.establishmentTypeGroup, entry.laCode.map(String.init), entry.laName, entry.region,
                entry.status.rawValue, entry.openedOn?.description, entry.closedOn?.description,
                entry.numberOfPupils.map(String.init), entry.statutoryLowAge.map(String.init),
                entry.statutoryHighAge.map(String.init), entry.trustCode, entry.trustName,
            ])
            if index % 2_000 == 1_999 { chunks.append(copy.take()) }
        }
        chunks.append(copy.take())
        let payload = chunks
        let date = effectiveDate.description

        var summary = try await database.transaction(.platform, deadline: Database.bulkDeadline, logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext('senstat.gias'))", logger: logger)
            try await connection.query(
                """
                CREATE TEMP TABLE gias_staging (
                    urn integer PRIMARY KEY, name text, phase text, establishment_type text,
                    establishment_type_group text, la_code integer, la_name text, region text, status text,
                    opened_on date, closed_on date, number_of_pupils integer, statutory_low_age smallint,
                    statutory_high_age smallint, trust_code text, trust_name text
                ) ON COMMIT DROP
                """, logger: logger)
            try await connection.copyFrom(table: "gias_staging", columns: Self.stagingColumns, logger: logger) { writer in
                for chunk in payload where chunk.readableBytes > 0 { try await writer.write(chunk) }
            }
            var summary = GIASImportSummary()
            let counts = try await connection.query(
                """
                SELECT count(*) FILTER (WHERE s.urn IS NULL)::int,
                       count(*) FILTER (WHERE s.urn IS NOT NULL AND row_changed AND st.status = 'closed' AND s.status <> 'closed')::int,
                       count(*) FILTER (WHERE s.urn IS NOT NULL AND row_changed AND NOT (st.status = 'closed' AND s.status <> 'closed'))::int,
                       count(*) FILTER (WHERE s.urn IS NOT NULL AND NOT row_changed)::int
                FROM gias_staging st
                LEFT JOIN schools s ON s.urn = st.urn
                CROSS JOIN LATERAL (
                    SELECT (\(unescaped: Self.columns("st."))) IS DISTINCT FROM (\(unescaped: Self.columns("s."))) AS row_changed
                ) c
                """, logger: logger)
            for try await (new, closed, changed, unchanged) in counts.decode((Int, Int, Int, Int).self) {
                (summary.new, summary.closed, summary.changed, summary.unchanged) = (new, closed, changed, unchanged)
            }
            try await connection.query(
                """
                INSERT INTO schools (urn, \(unescaped: Self.columns("")))
                SELECT urn, \(unescaped: Self.columns("")) FROM gias_staging
                ON CONFLICT (urn) DO UPDATE SET
                    (\(unescaped: Self.columns(""))) = (\(unescaped: Self.columns("EXCLUDED."))), updated_at = now()
                WHERE (\(unescaped: Self.columns("schools."))) IS DISTINCT FROM (\(unescaped: Self.columns("EXCLUDED.")))
                """, logger: logger)
            guard createTrusts else { return summary }

            summary.trustsCreated = try await Self.count(
                connection.query(
                    """
                    WITH created AS (
                        INSERT INTO trusts (name, gias_code)
                        SELECT DISTINCT ON (st.trust_code) coalesce(nullif(st.trust_name, ''), st.trust_code), st.trust_code
                        FROM gias_staging st
                        WHERE st.trust_code IS NOT NULL
                          AND NOT EXISTS (SELECT 1 FROM trusts t WHERE t.gias_code = st.trust_code)
                        ORDER BY st.trust_code, st.trust_name
                        RETURNING 1
                    ) SELECT count(*)::int FROM created
                    """, logger: logger))
            // A school whose current trust differs from the file's (or that the file puts in no trust) leaves it.
            summary.membershipsClosed = try await Self.count(
                connection.query(
                    """
                    WITH target AS (
                        SELECT st.urn, t.trust_id FROM gias_staging st LEFT JOIN trusts t ON t.gias_code = st.trust_code
                    ), closed AS (
                        UPDATE trust_memberships m SET valid_to = \(date)::date
                        FROM target
                        WHERE m.urn = target.urn AND m.valid_to IS NULL AND m.valid_from < \(date)::date
                          AND m.trust_id IS DISTINCT FROM target.trust_id
                        RETURNING 1
                    ) SELECT count(*)::int FROM closed
                    """, logger: logger))
            summary.membershipsOpened = try await Self.count(
                connection.query(
                    """
                    WITH opened AS (
                        INSERT INTO trust_memberships (trust_id, urn, valid_from)
                        SELECT t.trust_id, st.urn, \(date)::date
                        FROM gias_staging st JOIN trusts t ON t.gias_code = st.trust_code
                        WHERE NOT EXISTS (
                            SELECT 1 FROM trust_memberships m
                            WHERE m.urn = st.urn AND m.valid_to IS NULL AND m.trust_id = t.trust_id)
                        ON CONFLICT DO NOTHING
                        RETURNING 1
                    ) SELECT count(*)::int FROM opened
                    """, logger: logger))
            return summary
        }
        summary.rejected = register.rejections
        return summary
    }

    static func count(_ rows: SQLRows) async throws -> Int {
        for try await value in rows.decode(Int.self) { return value }
        return 0
    }
}
