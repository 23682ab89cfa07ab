import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SENCore
import SENStore

/// Schools against DfE's national SEN rates: one school's benchmark, the trust comparison (JSON and CSV), the
/// funnel plot (SVG), and the admin import of a new DfE release.
struct BenchmarkController {
    let benchmarks: BenchmarkStore
    let register: RegisterStore

    static let source = "Department for Education, Special educational needs in England. Contains public sector information licensed under the Open Government Licence v3.0."

    struct Interval: Encodable {
        let lower: Double
        let upper: Double
        init(_ interval: Statistics.Interval) {
            lower = round5(interval.lower)
            upper = round5(interval.upper)
        }

        init(lower: Double, upper: Double) {
            self.lower = lower
            self.upper = upper
        }
    }

    struct Comparator: Encodable {
        let level: String
        let area: String
        let phase: String
        let phaseReason: String
        let censusYear: Int
        let requestedCensusYear: Int
        let rate: Double
        let note: String?
        let source: String

        enum CodingKeys: String, CodingKey {
            case level, area, phase, rate, note, source
            case phaseReason = "phase_reason"
            case censusYear = "census_year"
            case requestedCensusYear = "requested_census_year"
        }
    }

    /// This term's rate against the same term a year earlier (Newcombe's hybrid score interval, 95%).
    struct ChangeBody: Encodable {
        let fromTerm: String
        let fromRate: Double
        let differencePP: Double
        let interval95PP: Interval
        let significant: Bool
        let method = "newcombe_hybrid_score"

        enum CodingKeys: String, CodingKey {
            case significant, method
            case fromTerm = "from_term"
            case fromRate = "from_rate"
            case differencePP = "difference_pp"
            case interval95PP = "interval_95_pp"
        }

        init?(count: Int, n: Int, earlier: (term: String, count: Int, n: Int)?) {
            guard let earlier, let d = ChangeOverTime.newcombe(count1: count, n1: n, count2: earlier.count, n2: earlier.n) else { return nil }
            fromTerm = earlier.term
            fromRate = round5(Double(earlier.count) / Double(earlier.n))
            differencePP = (d.difference * 10_000).rounded() / 100
            interval95PP = Interval(lower: (d.interval.lower * 10_000).rounded() / 100, upper: (d.interval.upper * 10_000).rounded() / 100)
            significant = d.isSignificant
        }
    }

    /// The χ² test for a linear trend across the terms shown.
    struct TrendTestBody: Encodable {
        let terms: Int
        let chiSquare: Double
        let pValue: Double
        let direction: String
        let method = "chi_square_for_trend"

        enum CodingKeys: String, CodingKey {
            case terms, direction, method
            case chiSquare = "chi_square"
            case pValue = "p_value"
        }

        init?(_ trend: ChangeOverTime.Trend?) {
            guard let trend else { return nil }
            terms = trend.terms
            chiSquare = (trend.chiSquare * 1000).rounded() / 1000
            pValue = (trend.pValue * 100_000).rounded() / 100_000
            direction = trend.direction
        }
    }

    struct Measure: Encodable {
        let count: Int
        let pupilsOnRoll: Int
        let rate: Double
        let wilson95: Interval
        let wilson998: Interval
        let comparator: Comparator
        let differencePP: Double
        let z: Double
        let limits95: Interval
        let limits998: Interval
        let limitsMethod: String
        let flag: String
        /// Absent when the school sent no return for the same term a year earlier.
        let change: ChangeBody?
        /// Absent with fewer than three of the terms shown.
        let trendTest: TrendTestBody?

        enum CodingKeys: String, CodingKey {
            case count, rate, comparator, z, flag, change
            case pupilsOnRoll = "pupils_on_roll"
            case wilson95 = "wilson_95"
            case wilson998 = "wilson_99_8"
            case differencePP = "difference_pp"
            case limits95 = "limits_95"
            case limits998 = "limits_99_8"
            case limitsMethod = "limits_method"
            case trendTest = "trend_test"
        }

        init(_ c: RateComparison, comparator: Comparator, change: ChangeBody?, trendTest: TrendTestBody?) {
            self.change = change
            self.trendTest = trendTest
            count = c.count
            pupilsOnRoll = c.n
            rate = round5(c.rate)
            wilson95 = Interval(c.wilson95)
            wilson998 = Interval(c.wilson998)
            self.comparator = comparator
            differencePP = (c.differencePP * 100).rounded() / 100
            z = (c.z * 1000).rounded() / 1000
            limits95 = Interval(c.limits95)
            limits998 = Interval(c.limits998)
            limitsMethod = c.limitsMethod.rawValue
            flag = c.flag.rawValue
        }
    }

    struct NeedShare: Encodable {
        let need: String
        let count: Int
        let share: Double
        /// null (and `trust_suppressed` set) where a school leader would learn other schools' small counts.
        let trustCount: Int?
        let trustShare: Double?
        let trustSuppressed: Bool

        enum CodingKeys: String, CodingKey {
            case need, count, share
            case trustCount = "trust_count"
            case trustShare = "trust_share"
            case trustSuppressed = "trust_suppressed"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(need, forKey: .need)
            try container.encode(count, forKey: .count)
            try container.encode(share, forKey: .share)
            try container.encode(trustCount, forKey: .trustCount)
            try container.encode(trustShare, forKey: .trustShare)
            try container.encode(trustSuppressed, forKey: .trustSuppressed)
        }
    }

    struct NeedProfile: Encodable {
        let term: String
        let senSupport: [NeedShare]
        let ehcPlan: [NeedShare]
        let national: String?
        let nationalNote: String

        enum CodingKeys: String, CodingKey {
            case term, national
            case senSupport = "sen_support"
            case ehcPlan = "ehc_plan"
            case nationalNote = "national_note"
        }
    }

    struct TrendPoint: Encodable {
        let term: String
        let pupilsOnRoll: Int?
        let senSupportRate: Double?
        let ehcPlanRate: Double?

        enum CodingKeys: String, CodingKey {
            case term
            case pupilsOnRoll = "pupils_on_roll"
            case senSupportRate = "sen_support_rate"
            case ehcPlanRate = "ehc_plan_rate"
        }
    }

    struct SchoolBenchmark: ResponseEncodable {
        let urn: Int
        let name: String
        let term: String
        let level: String
        let senSupport: Measure
        let ehcPlan: Measure
        let needProfile: NeedProfile?
        let trend: [TrendPoint]

        enum CodingKeys: String, CodingKey {
            case urn, name, term, level, trend
            case senSupport = "sen_support"
            case ehcPlan = "ehc_plan"
            case needProfile = "need_profile"
        }
    }

    /// One school in the trust comparison.
    struct ComparisonRow: Encodable {
        let urn: Int
        let name: String
        let phase: String
        let pupilsOnRoll: Int
        let count: Int
        let rate: Double
        let wilson95: Interval
        let comparator: Comparator
        let differencePP: Double
        let z: Double
        let limits95: Interval
        let limits998: Interval
        let limits998Phi: Interval
        let limits998Tau2: Interval
        /// How limits_95 and limits_99_8 were made (exact_binomial); the φ and τ² limits are normal approximations.
        let limitsMethod: String
        let flag: String
        let flagLimits: String
        let flags: [String: String]
        /// Against the school's return for the same term a year earlier; absent without one.
        let change: ChangeBody?

        enum CodingKeys: String, CodingKey {
            case urn, name, phase, count, rate, comparator, z, flag, flags, change
            case pupilsOnRoll = "pupils_on_roll"
            case wilson95 = "wilson_95"
            case differencePP = "difference_pp"
            case limits95 = "limits_95"
            case limits998 = "limits_99_8"
            case limits998Phi = "limits_99_8_phi"
            case limits998Tau2 = "limits_99_8_tau2"
            case limitsMethod = "limits_method"
            case flagLimits = "flag_limits"
        }
    }

    struct Missing: Encodable {
        let urn: Int
        let name: String
    }

    struct Overdispersion: Encodable {
        let schools: Int
        /// Absent with fewer than 10 schools (`note` says so).
        let phi: Double?
        let tau2: Double?
        let chiSquare: Double?
        let degreesOfFreedom: Int
        let pValue: Double?
        let overdispersed: Bool
        let method: String
        let note: String?

        enum CodingKeys: String, CodingKey {
            case schools, phi, tau2, overdispersed, method, note
            case chiSquare = "chi_square"
            case degreesOfFreedom = "degrees_of_freedom"
            case pValue = "p_value"
        }
    }

    struct Comparison: ResponseEncodable {
        let trustID: String
        let term: String
        let measure: String
        let level: String
        let pooled: [String: Double]
        /// The trust's pooled rate against the same term a year earlier, and its trend over the last nine terms
        /// (pooled over the schools with a return in each).
        let pooledChange: ChangeBody?
        let pooledTrendTest: TrendTestBody?
        let overdispersion: Overdispersion?
        let schools: [ComparisonRow]
        let missing: [Missing]
        let source: String

        enum CodingKeys: String, CodingKey {
            case term, measure, level, pooled, overdispersion, schools, missing, source
            case pooledChange = "pooled_change"
            case pooledTrendTest = "pooled_trend_test"
            case trustID = "trust_id"
        }
    }

    struct NationalImportBody: ResponseEncodable {
        let rates, new, changed, unchanged, skippedRows: Int
        let rejections: [GIASRegisterReader.Rejection]

        enum CodingKeys: String, CodingKey {
            case rates, new, changed, unchanged, rejections
            case skippedRows = "skipped_rows"
        }
    }

    // MARK: Routes

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("schools/:urn/benchmark") { request, context in try await schoolBenchmark(request, context) }
        group.get("trusts/:trust/comparison") { request, context in
            let comparison = try await compare(request, context)
            if wantsCSV(request) {
                return csvResponse(comparisonCSV(comparison), name: "comparison-\(comparison.term)-\(comparison.measure).csv")
            }
            return comparison.json.response
        }
        group.get("trusts/:trust/funnel.svg") { request, context in
            let comparison = try await compare(request, context)
            return Response(
                status: .ok, headers: [.contentType: "image/svg+xml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: funnel(comparison))))
        }
        group.post("admin/national-imports") { request, context in
            _ = try context.require(.admin)
            var request = request
            let body = try await request.collectBody(limit: 64 << 20, what: "a DfE release file")
            let release: NationalReleaseReader.Result
            do {
                release = try NationalReleaseReader.read(Array(body.readableBytesView))
            } catch let failure as NationalReleaseReader.Failure {
                throw APIError(.unprocessableContent, failure.description)
            }
            let counts = try await benchmarks.importRates(release.rates, source: "DfE sen_phase_type import", logger: context.logger)
            return NationalImportBody(
                rates: release.rates.count, new: counts.new, changed: counts.changed, unchanged: counts.unchanged,
                skippedRows: release.skippedRows, rejections: release.rejections)
        }
    }

    // MARK: Handlers

    func parameters(_ request: Request) throws -> (AcademicTerm, ComparatorLevel, Provision) {
        let query = request.uri.queryParameters
        guard let termText = query.get("term") else {
            throw APIError.validation([.init(pointer: "/term", code: "required", message: "give ?term=, for example 2025-26-autumn")])
        }
        let term = try parseTerm(termText)
        let levelText = query.get("comparator") ?? "national"
        guard let level = ComparatorLevel(rawValue: levelText) else {
            throw APIError(.badRequest, "comparator must be national, regional or la")
        }
        let measureText = query.get("measure") ?? "sen_support"
        guard let measure = Provision(rawValue: measureText) else {
            throw APIError(.badRequest, "measure must be sen_support or ehc_plan")
        }
        return (term, level, measure)
    }

    func comparator(for school: SchoolFigures, level: ComparatorLevel, term: AcademicTerm, rates: ComparatorRates) throws -> Comparator {
        let (phase, reason) = ComparatorPhase.forSchool(phase: school.phase, establishmentType: school.establishmentType)
        guard let (rate, note) = rates.rate(for: school, phase: phase, level: level) else {
            throw APIError(.serviceUnavailable, "no national SEN rates are loaded; import DfE's release")
        }
        var notes: [String] = []
        if let note { notes.append(note) }
        if rate.censusYear < term.januaryCensusYear {
            notes.append("census \(term.januaryCensusYear) is not published yet; \(rate.censusYear) used")
        }
        return Comparator(
            level: rate.level, area: rate.areaName, phase: phase.rawValue, phaseReason: reason, censusYear: rate.censusYear,
            requestedCensusYear: term.januaryCensusYear, rate: round5(rate.rate), note: notes.isEmpty ? nil : notes.joined(separator: "; "),
            source: Self.source)
    }

    func schoolBenchmark(_ request: Request, _ context: AppRequestContext) async throws -> SchoolBenchmark {
        let (trust, urn, _) = try await register.authorizedSchool(context, roles: [.trustExecutive, .schoolLeader])
        let (term, level, _) = try parameters(request)
        guard let figures = try await benchmarks.figures(trust: trust, term: term.description, only: [urn], logger: context.logger).first,
            let roll = figures.pupilsOnRoll, let k = figures.senSupport, let e = figures.ehcPlan
        else { throw APIError.notFound("a return for \(term)") }

        // The last nine terms, oldest first, with gaps where no return was sent.
        var terms: [AcademicTerm] = [term]
        while terms.count < 9, let previous = previousTerm(terms[0]) { terms.insert(previous, at: 0) }
        let history = try await benchmarks.trend(trust: trust, urn: urn, terms: terms.map(\.description), logger: context.logger)
        let lastYear = AcademicTerm(startYear: term.startYear - 1, season: term.season)?.description

        var measures: [Provision: Measure] = [:]
        for provision in Provision.allCases {
            let rates = try await benchmarks.comparatorRates(provision: provision, censusYear: term.januaryCensusYear, logger: context.logger)
            let comparator = try comparator(for: figures, level: level, term: term, rates: rates)
            func measured(_ h: (roll: Int, senSupport: Int, ehcPlan: Int)) -> Int { provision == .senSupport ? h.senSupport : h.ehcPlan }
            let count = provision == .senSupport ? k : e
            let earlier = lastYear.flatMap { t in history[t].flatMap { $0.roll > 0 ? (term: t, count: measured($0), n: $0.roll) : nil } }
            let trendTest = ChangeOverTime.trend(terms.map { t in history[t.description].flatMap { $0.roll > 0 ? (count: measured($0), n: $0.roll) : nil } })
            measures[provision] = Measure(
                RateComparison(count: count, n: roll, target: comparator.rate), comparator: comparator,
                change: ChangeBody(count: count, n: roll, earlier: earlier), trendTest: TrendTestBody(trendTest))
        }
        let trend = terms.map { t -> TrendPoint in
            guard let h = history[t.description], h.roll > 0 else {
                return TrendPoint(term: t.description, pupilsOnRoll: nil, senSupportRate: nil, ehcPlanRate: nil)
            }
            return TrendPoint(
                term: t.description, pupilsOnRoll: h.roll, senSupportRate: round5(Double(h.senSupport) / Double(h.roll)),
                ehcPlanRate: round5(Double(h.ehcPlan) / Double(h.roll)))
        }

        var profile: NeedProfile?
        // A trust executive sees every school of the trust; a school leader sees the other schools' part of the
        // pool only under disclosure control (Docs/privacy.md).
        let leader = context.principal?.role == .schoolLeader
        if let needs = try await benchmarks.needProfile(trust: trust, urn: urn, upTo: term, logger: context.logger) {
            func shares(_ provision: Provision) -> [NeedShare] {
                let codes = NeedCode.allCases.filter { $0.allowed(for: provision) }.map(\.rawValue)
                let mine = needs.school[provision.rawValue] ?? [:]
                let raw = Dictionary(uniqueKeysWithValues: codes.map { ($0, needs.trust[provision.rawValue]?[$0] ?? 0) })
                let pooled: [String: Int?] = leader ? DisclosureControl.poolForMember(own: mine, pooled: raw) : raw.mapValues { $0 }
                let total = max(1, mine.values.reduce(0, +))
                // Shares of the shown pool are computed from what is shown, so they give nothing more away.
                let trustTotal = max(1, leader ? raw.values.reduce(0, +) : pooled.values.compactMap { $0 }.reduce(0, +))
                let shownTotal = max(1, DisclosureControl.round(trustTotal, to: leader ? DisclosureControl.Rules().rounding : 1))
                return codes.map { need in
                    let count = mine[need] ?? 0
                    let trustCount = pooled[need] ?? nil
                    return NeedShare(
                        need: need, count: count, share: round5(Double(count) / Double(total)),
                        trustCount: trustCount, trustShare: trustCount.map { round5(Double($0) / Double(shownTotal)) },
                        trustSuppressed: trustCount == nil)
                }
            }
            profile = NeedProfile(
                term: needs.term, senSupport: shares(.senSupport), ehcPlan: shares(.ehcPlan), national: nil,
                nationalNote: "DfE's national shares by primary need are not in the reference data senstat ships; the trust's pooled shares are given")
        }
        return SchoolBenchmark(
            urn: urn.value, name: figures.name, term: term.description, level: level.rawValue,
            senSupport: measures[.senSupport]!, ehcPlan: measures[.ehcPlan]!, needProfile: profile, trend: trend)
    }

    func compare(_ request: Request, _ context: AppRequestContext) async throws -> Comparison {
        let principal = try context.require(.trustExecutive)
        let trust = try context.parameters.trustID()
        guard principal.canSee(trust: trust) else { throw APIError.notFound("the trust") }
        let (term, level, measure) = try parameters(request)
        let schools = try await benchmarks.figures(trust: trust, term: term.description, logger: context.logger)
        let rates = try await benchmarks.comparatorRates(provision: measure, censusYear: term.januaryCensusYear, logger: context.logger)
        var inputs: [TrustComparison.Input] = []
        var comparators: [URN: Comparator] = [:]
        var missing: [Missing] = []
        var bySchool: [URN: SchoolFigures] = [:]
        for school in schools {
            guard let roll = school.pupilsOnRoll, roll > 0, let count = school.count(measure) else {
                missing.append(Missing(urn: school.urn.value, name: school.name))
                continue
            }
            let comparator = try comparator(for: school, level: level, term: term, rates: rates)
            comparators[school.urn] = comparator
            bySchool[school.urn] = school
            inputs.append(.init(urn: school.urn, count: count, n: roll, target: comparator.rate))
        }
        let result = TrustComparison.compute(inputs)
        // The last nine terms, for the change on a year and the pooled trend: one query.
        var terms: [AcademicTerm] = [term]
        while terms.count < 9, let previous = previousTerm(terms[0]) { terms.insert(previous, at: 0) }
        let lastYear = AcademicTerm(startYear: term.startYear - 1, season: term.season)?.description
        let history = try await benchmarks.history(trust: trust, terms: terms.map(\.description), logger: context.logger)
        func count(_ h: (roll: Int, senSupport: Int, ehcPlan: Int)) -> Int { measure == .senSupport ? h.senSupport : h.ehcPlan }
        func earlier(_ urn: URN) -> (term: String, count: Int, n: Int)? {
            lastYear.flatMap { t in history[urn.value]?[t].flatMap { $0.roll > 0 ? (term: t, count: count($0), n: $0.roll) : nil } }
        }
        let pooledByTerm = terms.map { t -> (count: Int, n: Int)? in
            let figures = history.values.compactMap { $0[t.description] }.filter { $0.roll > 0 }
            return figures.isEmpty ? nil : (figures.map(count).reduce(0, +), figures.map(\.roll).reduce(0, +))
        }
        let pooledEarlier = lastYear.flatMap { t in
            terms.firstIndex { $0.description == t }.flatMap { pooledByTerm[$0] }.map { (term: t, count: $0.count, n: $0.n) }
        }
        let rows = result.rows.map { row -> ComparisonRow in
            let school = bySchool[row.input.urn]!
            let c = row.unadjusted
            return ComparisonRow(
                urn: school.urn.value, name: school.name, phase: school.phase, pupilsOnRoll: c.n, count: c.count,
                rate: round5(c.rate), wilson95: Interval(c.wilson95), comparator: comparators[school.urn]!,
                differencePP: (c.differencePP * 100).rounded() / 100, z: (c.z * 1000).rounded() / 1000,
                limits95: Interval(c.limits95), limits998: Interval(c.limits998),
                limits998Phi: Interval(row.phiAdjusted.limits998), limits998Tau2: Interval(row.tau2Adjusted.limits998),
                limitsMethod: c.limitsMethod.rawValue, flag: c.flag.rawValue, flagLimits: "unadjusted",
                flags: ["unadjusted": c.flag.rawValue, "phi": row.phiAdjusted.flag.rawValue, "tau2": row.tau2Adjusted.flag.rawValue],
                change: ChangeBody(count: c.count, n: c.n, earlier: earlier(school.urn)))
        }
        let od = result.overdispersion.map {
            Overdispersion(
                schools: $0.units, phi: $0.phi.map { ($0 * 1000).rounded() / 1000 }, tau2: $0.tau2,
                chiSquare: $0.chiSquare.map { ($0 * 1000).rounded() / 1000 }, degreesOfFreedom: $0.degreesOfFreedom,
                pValue: $0.pValue.map { ($0 * 100_000).rounded() / 100_000 }, overdispersed: $0.isOverdispersed,
                method: Self.overdispersionMethod, note: $0.note)
        }
        return Comparison(
            trustID: trust.uuidString, term: term.description, measure: measure.rawValue, level: level.rawValue,
            pooled: ["count": Double(result.pooledCount), "pupils_on_roll": Double(result.pooledN), "rate": round5(result.pooledRate)],
            pooledChange: result.pooledN > 0 ? ChangeBody(count: result.pooledCount, n: result.pooledN, earlier: pooledEarlier) : nil,
            pooledTrendTest: TrendTestBody(ChangeOverTime.trend(pooledByTerm)),
            overdispersion: od, schools: rows, missing: missing, source: Self.source)
    }

    static let overdispersionMethod =
        "on the arcsine square-root scale (Spiegelhalter 2005; FunnelPlotR): phi is the mean squared z-score winsorised at the interpolated 10th and 90th percentiles; chi_square = k*phi on k-1 degrees of freedom; tau2 by DerSimonian-Laird; from 10 schools; flags.phi and flags.tau2 use limits widened by each only when p_value < 0.05"

    func comparisonCSV(_ c: Comparison) -> String {
        var out = CSVWriter.line([
            "urn", "name", "phase", "status", "pupils_on_roll", "count", "rate", "wilson95_lower", "wilson95_upper",
            "comparator_level", "comparator_area", "comparator_phase", "comparator_year", "comparator_rate", "difference_pp", "z",
            "limit95_lower", "limit95_upper", "limit998_lower", "limit998_upper", "flag", "flag_phi", "flag_tau2", "limits_method",
        ])
        for row in c.schools {
            out += CSVWriter.line([
                String(row.urn), row.name, row.phase, "returned", String(row.pupilsOnRoll), String(row.count), String(row.rate),
                String(row.wilson95.lower), String(row.wilson95.upper), row.comparator.level, row.comparator.area,
                row.comparator.phase, String(row.comparator.censusYear), String(row.comparator.rate), String(row.differencePP),
                String(row.z), String(row.limits95.lower), String(row.limits95.upper), String(row.limits998.lower),
                String(row.limits998.upper), row.flag, row.flags["phi"] ?? "", row.flags["tau2"] ?? "", row.limitsMethod,
            ])
        }
        for school in c.missing {
            out += CSVWriter.line([String(school.urn), school.name, "", "missing"] + Array(repeating: "", count: 20))
        }
        return out
    }

    func funnel(_ c: Comparison) -> String {
        var series: [FunnelPlot.Series] = []
        var seriesIndex: [String: Int] = [:]
        var points: [FunnelPlot.Point] = []
        for row in c.schools {
            let key = "\(row.comparator.phase)|\(row.comparator.rate)"
            if seriesIndex[key] == nil {
                seriesIndex[key] = series.count
                let phase = ComparatorPhase(rawValue: row.comparator.phase)?.label ?? row.comparator.phase
                series.append(.init(label: "\(phase), \(row.comparator.area) \(row.comparator.censusYear)", target: row.comparator.rate))
            }
            points.append(
                .init(label: row.name, n: row.pupilsOnRoll, rate: row.rate, flag: Statistics.Flag(rawValue: row.flag) ?? .within, series: seriesIndex[key]!))
        }
        let measure = c.measure == "ehc_plan" ? "EHC plans" : "SEN support"
        let years = Set(c.schools.map(\.comparator.censusYear)).sorted().map(String.init).joined(separator: ", ")
        let missing =
            c.missing.isEmpty || c.schools.isEmpty ? ""
            : c.missing.count <= 3 ? "; no return: \(c.missing.map(\.name).joined(separator: ", "))"
            : "; no return from \(c.missing.count) schools (listed with the comparison)"
        let comparator =
            c.schools.isEmpty
            ? "None of the trust's \(c.missing.count) schools has sent a return for this term yet"
            : "Comparator: DfE January census \(years) (OGL v3.0). Limits: 95% and 99.8%, exact binomial"
        return FunnelPlot.svg(
            title: "\(measure) by school, \(c.term), against the \(c.level == "la" ? "local authority" : c.level) rate",
            subtitle: "\(comparator)\(missing)",
            measureLabel: measure, series: series, points: points)
    }

    func previousTerm(_ term: AcademicTerm) -> AcademicTerm? {
        switch term.season {
        case .autumn: AcademicTerm(startYear: term.startYear - 1, season: .summer)
        case .spring: AcademicTerm(startYear: term.startYear, season: .autumn)
        case .summer: AcademicTerm(startYear: term.startYear, season: .spring)
        }
    }
}

func round5(_ value: Double) -> Double { (value * 100_000).rounded() / 100_000 }
