import Foundation
import Logging
import PostgresNIO
import SENCore

public struct StoredSurvey: Sendable {
    public let urn: URN
    public let instrument: String
    public let instrumentVersion: Int
    public let term: AcademicTerm
    public let version: Int
    public let respondents: Int
    public let payload: String
    public let updatedAt: Date
}

/// Survey instruments (reference data) and schools' survey returns (tenant data, versioned like SEN returns).
public struct SurveyStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func instruments(logger: Logger) async throws -> [Instrument] {
        try await database.transaction(.none, logger: logger) { connection in
            try await Self.instruments(
                connection.query("SELECT code, version, title, audience, definition::text FROM instruments ORDER BY code, version", logger: logger))
        }
    }

    /// The instrument at `version`, or its latest version.
    public func instrument(_ code: String, version: Int? = nil, logger: Logger) async throws -> Instrument? {
        try await database.transaction(.none, logger: logger) { connection in
            try await Self.instruments(
                connection.query(
                    """
                    SELECT code, version, title, audience, definition::text FROM instruments
                    WHERE code = \(code) AND (\(version)::integer IS NULL OR version = \(version)::integer)
                    ORDER BY version DESC LIMIT 1
                    """, logger: logger)
            ).first
        }
    }

    static func instruments(_ rows: SQLRows) async throws -> [Instrument] {
        struct Definition: Decodable { let items: [Instrument.Item] }
        var result: [Instrument] = []
        for try await (code, version, title, audience, definition) in rows.decode((String, Int, String, String, String).self) {
            let items: [Instrument.Item]
            do {
                items = try JSONDecoder().decode(Definition.self, from: Data(definition.utf8)).items
            } catch {
                throw CorruptRow(table: "instruments", detail: "\(code) v\(version) definition: \(error)")
            }
            result.append(Instrument(code: code, version: version, title: title, audience: audience, items: items))
        }
        return result
    }

    public func addInstrument(_ instrument: Instrument, logger: Logger) async throws -> Bool {
        let definition = String(decoding: try JSONEncoder().encode(["items": instrument.items]), as: UTF8.self)
        return try await database.transaction(.platform, logger: logger) { connection in
            var inserted = false
            for try await _ in try await connection.query(
                """
                INSERT INTO instruments (code, version, title, audience, definition)
                VALUES (\(instrument.code), \(instrument.version), \(instrument.title), \(instrument.audience), \(definition)::jsonb)
                ON CONFLICT DO NOTHING RETURNING 1
                """, logger: logger
            ) { inserted = true }
            return inserted
        }
    }

    public func current(trust: TrustID, urn: URN, instrument: String, term: AcademicTerm, logger: Logger) async throws -> StoredSurvey? {
        try await list(trust: trust, instrument: instrument, term: term, only: urn, logger: logger).first
    }

    public func list(trust: TrustID, instrument: String, term: AcademicTerm, only: URN? = nil, logger: Logger) async throws -> [StoredSurvey] {
        let filter = only
        return try await database.transaction(.trust(trust), logger: logger) { connection in
            var result: [StoredSurvey] = []
            for try await (urn, version, instrumentVersion, respondents, payload, updated) in try await connection.query(
                """
                SELECT urn, current_version, instrument_version, respondents, payload::text, updated_at FROM survey_returns
                WHERE trust_id = \(trust) AND instrument = \(instrument) AND term = \(term)
                  AND (\(filter)::integer IS NULL OR urn = \(filter)::integer)
                ORDER BY urn
                """, logger: logger
            ).decode((URN, Int, Int, Int, String, Date).self) {
                result.append(
                    StoredSurvey(
                        urn: urn, instrument: instrument, instrumentVersion: instrumentVersion, term: term, version: version,
                        respondents: respondents, payload: payload, updatedAt: updated))
            }
            return result
        }
    }

    /// Writes a new version (If-Match semantics as for SEN returns; the row is locked first).
    public func submit(
        trust: TrustID, urn: URN, instrument: Instrument, term: AcademicTerm, counts: SurveyCounts, ifMatch: Int??, actor: TokenID?,
        logger: Logger
    ) async throws -> (StoredSurvey, created: Bool) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let payload = String(decoding: try encoder.encode(counts.json), as: UTF8.self)
        let t = trust
        let key = "\(urn)/\(instrument.code)/\(term)"
        let created = try await database.transaction(.trust(trust), logger: logger) { connection -> Bool in
            var current: Int?
            for try await version in try await connection.query(
                """
                SELECT current_version FROM survey_returns
                WHERE trust_id = \(t) AND urn = \(urn) AND instrument = \(instrument.code) AND term = \(term) FOR UPDATE
                """, logger: logger
            ).decode(Int.self) { current = version }
            let next: Int
            if let current {
                guard let ifMatch else { throw ReturnWriteError.preconditionRequired(current: current) }
                if let expected = ifMatch, expected != current { throw ReturnWriteError.preconditionFailed(current: current) }
                next = current + 1
                try await connection.query(
                    """
                    UPDATE survey_returns SET current_version = \(next), instrument_version = \(instrument.version),
                        respondents = \(counts.respondents), payload = \(payload)::jsonb, updated_at = now()
                    WHERE trust_id = \(t) AND urn = \(urn) AND instrument = \(instrument.code) AND term = \(term)
                    """, logger: logger)
            } else {
                if ifMatch != nil { throw ReturnWriteError.preconditionFailed(current: nil) }
                next = 1
                var inserted = false
                for try await _ in try await connection.query(
                    """
                    INSERT INTO survey_returns (trust_id, urn, instrument, term, instrument_version, current_version, respondents, payload)
                    VALUES (\(t), \(urn), \(instrument.code), \(term), \(instrument.version), 1, \(counts.respondents), \(payload)::jsonb)
                    ON CONFLICT DO NOTHING RETURNING 1
                    """, logger: logger
                ) { inserted = true }
                guard inserted else { throw ReturnWriteError.preconditionRequired(current: 1) }
            }
            try await connection.query(
                """
                INSERT INTO survey_return_versions (trust_id, urn, instrument, term, version, respondents, payload, submitted_by)
                VALUES (\(t), \(urn), \(instrument.code), \(term), \(next), \(counts.respondents), \(payload)::jsonb, \(actor))
                """, logger: logger)
            try await ReturnsStore.audit(
                connection, t, actor, next == 1 ? "survey_return.create" : "survey_return.amend", key, before: nil,
                after: payload, detail: nil, objectType: "survey_return", logger)
            return next == 1
        }
        guard let stored = try await current(trust: trust, urn: urn, instrument: instrument.code, term: term, logger: logger) else {
            throw ReturnWriteError.preconditionFailed(current: nil)
        }
        return (stored, created)
    }
}
