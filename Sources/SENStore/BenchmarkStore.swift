import Foundation
import Logging
import PostgresNIO
import SENCore
import Synchronization

/// A school of the trust with its register details and (if sent) its return for the term.
public struct SchoolFigures: Sendable, Hashable {
    public let urn: URN
    public let name: String
    public let phase: String
    public let establishmentType: String
    public let laCode: Int?
    public let region: String
    /// nil when the school has no return for the term.
    public let pupilsOnRoll: Int?
    public let senSupport: Int?
    public let ehcPlan: Int?

    public func count(_ provision: Provision) -> Int? { provision == .senSupport ? senSupport : ehcPlan }
}

/// A published comparator rate and where it came from.
/// What `BenchmarkStore.comparisonInputs` reads.
public struct ComparisonInputs: Sendable {
    public var schools: [SchoolFigures]
    /// Each school's roll, SEN support and EHC plans in the same term last year.
    public var lastYear: [URN: (roll: Int, senSupport: Int, ehcPlan: Int)] = [:]
    /// The trust's sums over its schools with pupils on roll, by term.
    public var pooled: [AcademicTerm: (roll: Int, senSupport: Int, ehcPlan: Int)] = [:]
}

public struct ComparatorRate: Sendable, Equatable {
    public let level: String
    public let areaCode: Int
    public let areaName: String
    public let phase: ComparatorPhase
    public let censusYear: Int
    /// A proportion (0...1): pupils / totalPupils where DfE's counts were imported, else the published percentage.
    public let rate: Double
    /// The percentage as published (rounded to one or two decimals).
    public let percent: Double
    /// DfE's counts, where the imported release carries them.
    public let pupils: Int?
    public let totalPupils: Int?

    public init(level: String, areaCode: Int, areaName: String, phase: ComparatorPhase, censusYear: Int, percent: Double, pupils: Int? = nil, totalPupils: Int? = nil) {
        self.level = level
        self.areaCode = areaCode
        self.areaName = areaName
        self.phase = phase
        self.censusYear = censusYear
        self.percent = percent
        if let pupils, let totalPupils, totalPupils > 0 {
            self.pupils = pupils
            self.totalPupils = totalPupils
            self.rate = Double(pupils) / Double(totalPupils)
        } else {
            self.pupils = nil
            self.totalPupils = nil
            self.rate = percent / 100
        }
    }

    /// The true rates a rounded published percentage stands for; nil when the rate comes from counts.
    public var rateRange: ClosedRange<Double>? { pupils == nil ? PublishedPercent.range(percent: percent) : nil }
}

/// Published rates at hand for a set of schools: the latest year up to the one asked for, per area and phase.
public struct ComparatorRates: Sendable {
    let rates: [String: ComparatorRate]
    /// Which reading of `national_rates` these are: each reading (one a minute at most, through the cache) gets a
    /// new number, so a result computed from them can be kept and known to be from the same rates.
    public let reading: UInt64

    init(rates: [String: ComparatorRate]) {
        self.rates = rates
        reading = Self.readings.add(1, ordering: .relaxed).newValue
    }

    private static let readings = Atomic<UInt64>(0)

    static func key(_ level: String, _ area: String, _ phase: ComparatorPhase) -> String { "\(level)|\(area)|\(phase.rawValue)" }

    /// The comparator for a school at `level`; when the regional or LA figure is not published, the national one,
    /// with a note saying so.
    public func rate(for school: SchoolFigures, phase: ComparatorPhase, level: ComparatorLevel) -> (ComparatorRate, note: String?)? {
        let national = rates[Self.key("national", "970", phase)]
        switch level {
        case .national:
            return national.map { ($0, nil) }
        case .regional:
            if let regional = rates[Self.key("regional", school.region.lowercased(), phase)] { return (regional, nil) }
            return national.map { ($0, "no regional figure for '\(school.region)'; national used") }
        case .la:
            if let code = school.laCode, let la = rates[Self.key("local_authority", String(code), phase)] { return (la, nil) }
            return national.map { ($0, "no local authority figure for LA \(school.laCode.map(String.init) ?? "unknown"); national used") }
        }
    }
}

public struct BenchmarkStore: Sendable {
    public let database: Database
    let rateCache = RateCache()

    public init(database: Database) {
        self.database = database
    }

    /// Published rates change only when an admin imports a DfE release, yet every comparison and benchmark needs
    /// them: reading them each time cost more than the comparison's own query. Every area's latest rates for a
    /// provision and census year are kept for a minute (another instance's import is seen within it), and an
    /// import through this store drops them at once.
    final class RateCache: Sendable {
        static let lifetime: Duration = .seconds(60)
        private let entries = Mutex<[String: (rates: ComparatorRates, until: ContinuousClock.Instant)]>([:])

        func get(_ key: String) -> ComparatorRates? {
            entries.withLock { $0[key].flatMap { $0.until > .now ? $0.rates : nil } }
        }

        func set(_ key: String, _ rates: ComparatorRates) {
            entries.withLock { $0[key] = (rates, .now + Self.lifetime) }
        }

        func removeAll() { entries.withLock { $0.removeAll() } }
    }

    /// The comparison's main query (QueryPlanTests checks its plan uses the indexes that lead with trust_id).
    public static func figuresQuery(trust: TrustID, term: AcademicTerm, only: Set<URN>? = nil) -> PostgresQuery {
        let filter = only.map { Array($0) }
        return """
            SELECT s.urn, s.name, s.phase, s.establishment_type, s.la_code, s.region,
                   r.pupils_on_roll, r.sen_support, r.ehc_plan
            FROM trust_memberships m
            JOIN schools s ON s.urn = m.urn
            LEFT JOIN sen_returns r ON r.trust_id = m.trust_id AND r.urn = m.urn AND r.term = \(term)
            WHERE m.trust_id = \(trust) AND m.valid_to IS NULL
              AND (\(filter)::integer[] IS NULL OR s.urn = ANY(\(filter)))
            ORDER BY s.name, s.urn
            """
    }

    /// Every school in the trust now, with its return for `term` if there is one.
    public func figures(trust: TrustID, term: AcademicTerm, only: Set<URN>? = nil, logger: Logger) async throws -> [SchoolFigures] {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            try await Self.figures(connection, trust: trust, term: term, only: only, logger: logger)
        }
    }

    static func figures(_ connection: SQLConnection, trust: TrustID, term: AcademicTerm, only: Set<URN>?, logger: Logger) async throws
        -> [SchoolFigures]
    {
        try Self.figures(try await connection.query(Self.figuresQuery(trust: trust, term: term, only: only), logger: logger))
    }

    /// The rows of `figuresQuery`.
    static func figures(_ rows: SQLRows) throws -> [SchoolFigures] {
        var result: [SchoolFigures] = []
        result.reserveCapacity(rows.rows.count)
        for row in rows.rows {
            var c = ColumnReader(row)
            result.append(
                SchoolFigures(
                    urn: try c.next(), name: try c.next(), phase: try c.next(), establishmentType: try c.next(), laCode: try c.next(),
                    region: try c.next(), pupilsOnRoll: try c.next(), senSupport: try c.next(), ehcPlan: try c.next()))
        }
        return result
    }

    /// What a trust's comparison reads, in one transaction: every school with its return for `term`; each
    /// school's headline counts in `lastYear` (the change on a year); and the trust's pooled counts in each of
    /// `terms` that has returns with pupils on roll (the pooled trend), summed by PostgreSQL so that a 100-school
    /// trust sends ten rows rather than nine hundred (Docs/performance.md).
    public func comparisonInputs(trust: TrustID, term: AcademicTerm, lastYear: AcademicTerm?, terms: [AcademicTerm], logger: Logger) async throws
        -> ComparisonInputs
    {
        // Two statements and the COMMIT, sent back to back (one wait for the three); the rows are read once the
        // transaction is over and its connection back in the pool.
        let (schools, rows) = try await database.transaction(.trust(trust), logger: logger) { connection in
            try await connection.queryAndCommit(
                Self.figuresQuery(trust: trust, term: term),
                then: """
                    SELECT urn, term, pupils_on_roll::int8, sen_support::int8, ehc_plan::int8 FROM sen_returns
                    WHERE trust_id = \(trust) AND term = \(lastYear)
                    UNION ALL
                    SELECT NULL, term, sum(pupils_on_roll)::int8, sum(sen_support)::int8, sum(ehc_plan)::int8 FROM sen_returns
                    WHERE trust_id = \(trust) AND term = ANY(\(terms)) AND pupils_on_roll > 0
                    GROUP BY term
                    """, logger: logger)
        }
        var inputs = ComparisonInputs(schools: try Self.figures(schools))
        for row in rows.rows {
            var c = ColumnReader(row)
            let (urn, term): (URN?, AcademicTerm) = (try c.next(), try c.next())
            let figures: (roll: Int, senSupport: Int, ehcPlan: Int) = (try c.next(), try c.next(), try c.next())
            if let urn { inputs.lastYear[urn] = figures } else { inputs.pooled[term] = figures }
        }
        return inputs
    }

    /// The latest published rates up to `censusYear`, for every area (national, regional, local authority), so
    /// that any school's comparator is among them.
    public func comparatorRates(provision: Provision, censusYear: Int, logger: Logger) async throws -> ComparatorRates {
        let key = "\(provision.rawValue)|\(censusYear)"
        if let cached = rateCache.get(key) { return cached }
        let rates = try await database.transaction(.none, logger: logger) { connection in
            let rows = try await connection.query(
                """
                SELECT DISTINCT ON (geographic_level, area_code, phase)
                       geographic_level, area_code, area_name, phase, census_year, percent::float8, pupils, total_pupils
                FROM national_rates
                WHERE provision = \(provision.rawValue) AND census_year <= \(censusYear) AND percent IS NOT NULL
                ORDER BY geographic_level, area_code, phase, census_year DESC
                """, logger: logger)
            var rates: [String: ComparatorRate] = [:]
            for try await (level, code, name, phaseText, year, percent, pupils, total) in rows.decode(
                (String, Int, String, String, Int, Double, Int?, Int?).self)
            {
                guard let phase = ComparatorPhase(rawValue: phaseText) else { continue }
                let area = level == "regional" ? name.lowercased() : String(code)
                rates[ComparatorRates.key(level, area, phase)] = ComparatorRate(
                    level: level, areaCode: code, areaName: name, phase: phase, censusYear: year, percent: percent,
                    pupils: pupils, totalPupils: total)
            }
            return ComparatorRates(rates: rates)
        }
        rateCache.set(key, rates)
        return rates
    }

    /// A school's headline counts in each of `terms` that has a return.
    public func trend(trust: TrustID, urn: URN, terms: [AcademicTerm], logger: Logger) async throws -> [AcademicTerm: (roll: Int, senSupport: Int, ehcPlan: Int)] {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            var result: [AcademicTerm: (roll: Int, senSupport: Int, ehcPlan: Int)] = [:]
            let rows = try await connection.query(
                """
                SELECT term, pupils_on_roll, sen_support, ehc_plan FROM sen_returns
                WHERE trust_id = \(trust) AND urn = \(urn) AND term = ANY(\(terms))
                """, logger: logger)
            for try await (term, roll, k, e) in rows.decode((AcademicTerm, Int, Int, Int).self) { result[term] = (roll, k, e) }
            return result
        }
    }

    /// Every school's roll and counts in `terms`, in one query: [urn: [term: figures]].
    public func history(trust: TrustID, terms: [AcademicTerm], logger: Logger) async throws -> [URN: [AcademicTerm: (roll: Int, senSupport: Int, ehcPlan: Int)]] {
        try await database.transaction(.trust(trust), logger: logger) { connection in
            try await Self.history(connection, trust: trust, terms: terms, logger: logger)
        }
    }

    static func history(_ connection: SQLConnection, trust: TrustID, terms: [AcademicTerm], logger: Logger) async throws
        -> [URN: [AcademicTerm: (roll: Int, senSupport: Int, ehcPlan: Int)]]
    {
        var result: [URN: [AcademicTerm: (roll: Int, senSupport: Int, ehcPlan: Int)]] = [:]
        let rows = try await connection.query(
            """
            SELECT urn, term, pupils_on_roll, sen_support, ehc_plan FROM sen_returns
            WHERE trust_id = \(trust) AND term = ANY(\(terms))
            """, logger: logger)
        for try await (urn, term, roll, k, e) in rows.decode((URN, AcademicTerm, Int, Int, Int).self) { result[urn, default: [:]][term] = (roll, k, e) }
        return result
    }

    /// Primary-need counts by code for a school and for the whole trust, from the latest return up to `term`
    /// that records needs (type of need is collected in the spring census).
    public func needProfile(trust: TrustID, urn: URN, upTo term: AcademicTerm, logger: Logger) async throws
        -> (term: AcademicTerm, school: [String: [String: Int]], trust: [String: [String: Int]])?
    {
        let candidates = stride(from: term.startYear, through: term.startYear - 3, by: -1).flatMap { year in
            AcademicTerm.Season.allCases.reversed().compactMap { AcademicTerm(startYear: year, season: $0) }
        }.filter { $0 <= term }
        return try await database.transaction(.trust(trust), logger: logger) { connection in
            var profileTerm: AcademicTerm?
            for try await found in try await connection.query(
                """
                SELECT term FROM sen_returns
                WHERE trust_id = \(trust) AND urn = \(urn) AND term = ANY(\(candidates))
                  AND payload ? 'primary_need'
                ORDER BY array_position(\(candidates), term) LIMIT 1
                """, logger: logger
            ).decode(AcademicTerm.self) { profileTerm = found }
            guard let profileTerm else { return nil }
            var school: [String: [String: Int]] = [:]
            var pooled: [String: [String: Int]] = [:]
            let rows = try await connection.query(
                """
                SELECT r.urn, need.key, provision.key, provision.value::int
                FROM sen_returns r
                CROSS JOIN LATERAL jsonb_each(r.payload -> 'primary_need') AS need
                CROSS JOIN LATERAL jsonb_each_text(need.value) AS provision
                WHERE r.trust_id = \(trust) AND r.term = \(profileTerm)
                """, logger: logger)
            for try await (rowURN, need, provision, count) in rows.decode((URN, String, String, Int).self) {
                pooled[provision, default: [:]][need, default: 0] += count
                if rowURN == urn { school[provision, default: [:]][need] = count }
            }
            return (profileTerm, school, pooled)
        }
    }

    /// DfE's national shares by primary need for the latest census year up to `censusYear` that has them:
    /// [provision: [need: share]].
    public func nationalNeedShares(upTo censusYear: Int, logger: Logger) async throws -> (censusYear: Int, shares: [Provision: [NeedCode: Double]])? {
        try await database.transaction(.none, logger: logger) { connection in
            let rows = try await connection.query(
                """
                SELECT census_year::int, provision, primary_need, pupils, percent::float8, provision_total
                FROM national_need_shares
                WHERE census_year = (SELECT max(census_year) FROM national_need_shares WHERE census_year <= \(censusYear))
                """, logger: logger)
            var year: Int?
            var shares: [Provision: [NeedCode: Double]] = [:]
            for try await (y, provisionText, needText, pupils, percent, total) in rows.decode((Int, String, String, Int?, Double?, Int?).self) {
                guard let provision = Provision(rawValue: provisionText), let need = NeedCode(rawValue: needText) else {
                    throw CorruptRow(table: "national_need_shares", detail: "\(provisionText)/\(needText)")
                }
                let share = NationalNeedShare(censusYear: y, provision: provision, need: need, pupils: pupils, percent: percent, provisionTotal: total).share
                year = y
                if let share { shares[provision, default: [:]][need] = share }
            }
            return year.map { ($0, shares) }
        }
    }

    /// Upserts national shares by primary need (admin). Importing the same file twice changes nothing.
    public func importNeedShares(_ shares: [NationalNeedShare], source: String, logger: Logger) async throws -> ImportCounts {
        try await database.transaction(.platform, deadline: Database.bulkDeadline, logger: logger) { connection in
            var counts = ImportCounts()
            for share in shares {
                let rows = try await connection.query(
                    """
                    WITH old AS (
                        SELECT 1 FROM national_need_shares
                        WHERE census_year = \(share.censusYear) AND provision = \(share.provision.rawValue) AND primary_need = \(share.need.rawValue)
                    ), up AS (
                        INSERT INTO national_need_shares (census_year, provision, primary_need, pupils, percent, provision_total, source)
                        VALUES (\(share.censusYear), \(share.provision.rawValue), \(share.need.rawValue), \(share.pupils)::bigint,
                                \(share.percent)::numeric, \(share.provisionTotal)::bigint, \(source))
                        ON CONFLICT (census_year, provision, primary_need) DO UPDATE
                        SET pupils = EXCLUDED.pupils, percent = EXCLUDED.percent, provision_total = EXCLUDED.provision_total,
                            source = EXCLUDED.source, imported_at = now()
                        WHERE (national_need_shares.pupils, national_need_shares.percent, national_need_shares.provision_total)
                              IS DISTINCT FROM (EXCLUDED.pupils, EXCLUDED.percent, EXCLUDED.provision_total)
                        RETURNING 1
                    )
                    SELECT (SELECT count(*) FROM old)::int, (SELECT count(*) FROM up)::int
                    """, logger: logger)
                for try await (existed, written) in rows.decode((Int, Int).self) {
                    if existed == 0 { counts.new += 1 } else if written > 0 { counts.changed += 1 } else { counts.unchanged += 1 }
                }
            }
            return counts
        }
    }

    public struct ImportCounts: Sendable, Equatable {
        public var new = 0
        public var changed = 0
        public var unchanged = 0
    }

    /// Upserts published rates (admin). Importing the same file twice changes nothing.
    public func importRates(_ rates: [NationalRate], source: String, logger: Logger) async throws -> ImportCounts {
        defer { rateCache.removeAll() }
        return try await database.transaction(.platform, deadline: Database.bulkDeadline, logger: logger) { connection in
            var counts = ImportCounts()
            for rate in rates {
                let percent = rate.percent
                let rows = try await connection.query(
                    """
                    WITH old AS (
                        SELECT 1 FROM national_rates
                        WHERE census_year = \(rate.censusYear) AND geographic_level = \(rate.level) AND area_code = \(rate.areaCode)
                          AND phase = \(rate.phase.rawValue) AND provision = \(rate.provision.rawValue)
                    ), up AS (
                        INSERT INTO national_rates (census_year, geographic_level, area_code, area_name, region_name, phase,
                                                    provision, percent, symbol, pupils, total_pupils, source)
                        VALUES (\(rate.censusYear), \(rate.level), \(rate.areaCode), \(rate.areaName), \(rate.regionName),
                                \(rate.phase.rawValue), \(rate.provision.rawValue), \(percent)::numeric, \(rate.symbol),
                                \(rate.pupils)::bigint, \(rate.totalPupils)::bigint, \(source))
                        ON CONFLICT (census_year, geographic_level, area_code, phase, provision) DO UPDATE
                        SET percent = EXCLUDED.percent, symbol = EXCLUDED.symbol, pupils = EXCLUDED.pupils,
                            total_pupils = EXCLUDED.total_pupils, source = EXCLUDED.source, imported_at = now()
                        WHERE (national_rates.percent, national_rates.symbol, national_rates.pupils, national_rates.total_pupils)
                              IS DISTINCT FROM (EXCLUDED.percent, EXCLUDED.symbol, EXCLUDED.pupils, EXCLUDED.total_pupils)
                        RETURNING 1
                    )
                    SELECT (SELECT count(*) FROM old)::int, (SELECT count(*) FROM up)::int
                    """, logger: logger)
                for try await (existed, written) in rows.decode((Int, Int).self) {
                    if existed == 0 { counts.new += 1 } else if written > 0 { counts.changed += 1 } else { counts.unchanged += 1 }
                }
            }
            return counts
        }
    }
}
