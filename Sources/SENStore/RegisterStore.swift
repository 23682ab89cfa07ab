import Foundation
import Logging
import PostgresNIO
import SENCore

public struct TrustRecord: Sendable, Equatable {
    public let id: TrustID
    public let name: String
    public let giasCode: String?
    public let createdAt: Date
    /// Schools in the trust now.
    public let schoolCount: Int
}

/// Trusts, the register and membership, read through RLS in the caller's scope.
public struct RegisterStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func createTrust(name: String, giasCode: String?, logger: Logger) async throws -> TrustRecord {
        try await database.transaction(.platform, logger: logger) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO trusts (name, gias_code) VALUES (\(name), \(giasCode))
                RETURNING trust_id, name, gias_code, created_at, 0
                """, logger: logger)
            return try await Self.trusts(rows).first!
        }
    }

    /// Trusts visible in `scope`: all for the platform, the one trust for a tenant.
    public func trusts(scope: TenantScope, logger: Logger) async throws -> [TrustRecord] {
        try await database.transaction(scope, logger: logger) { connection in
            try await Self.trusts(connection.query("\(unescaped: Self.trustSelect) ORDER BY t.name, t.trust_id", logger: logger))
        }
    }

    public func trust(_ id: TrustID, scope: TenantScope, logger: Logger) async throws -> TrustRecord? {
        try await database.transaction(scope, logger: logger) { connection in
            try await Self.trusts(
                connection.query("\(unescaped: Self.trustSelect) WHERE t.trust_id = \(id)", logger: logger)
            ).first
        }
    }

    /// The trust's schools now, optionally only some of them (a school leader's).
    public func schools(of trust: TrustID, only: Set<URN>?, scope: TenantScope, logger: Logger) async throws -> [SchoolRecord] {
        let filter = only.map { $0.map { Int32($0.value) } }
        return try await database.transaction(scope, logger: logger) { connection in
            try await Self.schools(
                connection.query(
                    """
                    SELECT \(unescaped: Self.schoolColumns), m.trust_id
                    FROM trust_memberships m JOIN schools s ON s.urn = m.urn
                    WHERE m.trust_id = \(trust) AND m.valid_to IS NULL
                      AND (\(filter)::integer[] IS NULL OR s.urn = ANY(\(filter)::integer[]))
                    ORDER BY s.name, s.urn
                    """, logger: logger))
        }
    }

    /// The register entry and, if visible in `scope`, the school's current trust.
    public func school(_ urn: URN, scope: TenantScope, logger: Logger) async throws -> SchoolRecord? {
        try await database.transaction(scope, logger: logger) { connection in
            try await Self.schools(
                connection.query(
                    """
                    SELECT \(unescaped: Self.schoolColumns), m.trust_id
                    FROM schools s LEFT JOIN trust_memberships m ON m.urn = s.urn AND m.valid_to IS NULL
                    WHERE s.urn = \(urn.value)
                    """, logger: logger)
            ).first
        }
    }

    static let trustSelect = """
        SELECT t.trust_id, t.name, t.gias_code, t.created_at,
               (SELECT count(*) FROM trust_memberships m WHERE m.trust_id = t.trust_id AND m.valid_to IS NULL)::int
        FROM trusts t
        """

    static let schoolColumns = """
        s.urn, s.name, s.phase, s.establishment_type, s.la_code, s.la_name, s.region, s.status,
        s.opened_on::text, s.closed_on::text, s.number_of_pupils
        """

    static func trusts(_ rows: SQLRows) async throws -> [TrustRecord] {
        var result: [TrustRecord] = []
        for try await (id, name, code, created, count) in rows.decode((TrustID, String, String?, Date, Int).self) {
            result.append(TrustRecord(id: id, name: name, giasCode: code, createdAt: created, schoolCount: count))
        }
        return result
    }

    static func schools(_ rows: SQLRows) async throws -> [SchoolRecord] {
        var result: [SchoolRecord] = []
        for try await row in rows {
            let (urn, name, phase, type, laCode, laName, region, status, opened, closed, pupils, trust) = try row.decode(
                (URN, String, String, String, Int?, String, String, String, String?, String?, Int?, TrustID?).self)
            result.append(
                SchoolRecord(
                    urn: urn, name: name, phase: phase, establishmentType: type, laCode: laCode, laName: laName,
                    region: region, status: status, openedOn: opened, closedOn: closed, numberOfPupils: pupils,
                    trustID: trust))
        }
        return result
    }
}
