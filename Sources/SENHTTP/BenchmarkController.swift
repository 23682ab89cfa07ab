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
            let view = request.uri.queryParameters.get("view") ?? "ratio"
            guard let kind = FunnelView(rawValue: view) else {
                throw APIError(.badRequest, "view must be ratio (one funnel of observed / expected) or phase (one panel per comparator)")
            }
            let comparison = try await compare(request, context)
            return Response(
                status: .ok, headers: [.contentType: "image/svg+xml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: funnel(comparison, view: kind))))
        }
        group.post("admin/national-imports") { request, context in
            _ = try context.require(.admin)
            var request = request
            let body = try await request.collectBody(limit: 64 << 20, what: "a DfE release file")
            do {
                let imported = try await NationalImport.run(Array(body.readableBytesView), store: benchmarks, logger: context.logger)
                return NationalImportBody(
                    kind: imported.kind, rates: imported.rows, new: imported.counts.new, changed: imported.counts.changed,
                    unchanged: imported.counts.unchanged, skippedRows: imported.skippedRows, rejections: imported.rejections)
            } catch let failure as NationalReleaseReader.Failure {
                throw APIError(.unprocessableContent, failure.description)
            }
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

    /// The school's comparator, or nil for a special school or AP when no rate of its kind is loaded (it is then
    /// shown apart, not compared with all schools). No rate at all for a mainstream school: 503.
    func comparator(for school: SchoolFigures, level: ComparatorLevel, term: AcademicTerm, rates: ComparatorRates) throws -> Comparator? {
        let (phase, reason) = ComparatorPhase.forSchool(phase: school.phase, establishmentType: school.establishmentType)
        guard let (rate, note) = rates.rate(for: school, phase: phase, level: level) else {
            if phase.setting != .mainstream { return nil }
            throw APIError(.serviceUnavailable, "no national SEN rates are loaded; import DfE's release")
        }
        var notes: [String] = []
        if let note { notes.append(note) }
        if rate.censusYear < term.januaryCensusYear {
            notes.append("census \(term.januaryCensusYear) is not published yet; \(rate.censusYear) used")
        }
        let range = rate.rateRange
        return Comparator(
            level: rate.level, area: rate.areaName, phase: phase.rawValue, phaseReason: reason, setting: phase.setting.rawValue,
            censusYear: rate.censusYear, requestedCensusYear: term.januaryCensusYear, rate: round5(rate.rate),
            rateBasis: range == nil ? "dfe_counts" : "published_percent", publishedPercent: rate.percent,
            rateRange: range.map { Interval(lower: round5($0.lowerBound), upper: round5($0.upperBound)) },
            note: notes.isEmpty ? nil : notes.joined(separator: "; "), source: Self.source, exactRate: rate.rate, range: range)
    }

    static func notComparedReason(_ school: SchoolFigures) -> String {
        let (phase, _) = ComparatorPhase.forSchool(phase: school.phase, establishmentType: school.establishmentType)
        return "no national rate for \(phase.label) is loaded (the reference data senstat ships has none); an admin imports DfE's sen_phase_type file, which has them"
    }

    func schoolBenchmark(_ request: Request, _ context: AppRequestContext) async throws -> SchoolBenchmark {
        let (trust, urn, _) = try await register.authorizedSchool(context, roles: [.trustExecutive, .schoolLeader])
        let (term, level, _) = try parameters(request)
        guard let figures = try await benchmarks.figures(trust: trust, term: term, only: [urn], logger: context.logger).first,
            let roll = figures.pupilsOnRoll, let k = figures.senSupport, let e = figures.ehcPlan
        else { throw APIError.notFound("a return for \(term)") }

        // The last nine terms, oldest first, with gaps where no return was sent.
        let terms = lastNineTerms(term)
        let history = try await benchmarks.trend(trust: trust, urn: urn, terms: terms, logger: context.logger)
        let lastYear = term.sameTermLastYear

        var measures: [Provision: Measure] = [:]
        for provision in Provision.allCases {
            let rates = try await benchmarks.comparatorRates(provision: provision, censusYear: term.januaryCensusYear, logger: context.logger)
            guard let comparator = try comparator(for: figures, level: level, term: term, rates: rates) else {
                throw APIError.notFound("a comparator for this school: \(Self.notComparedReason(figures))")
            }
            func measured(_ h: (roll: Int, senSupport: Int, ehcPlan: Int)) -> Int { provision == .senSupport ? h.senSupport : h.ehcPlan }
            let count = provision == .senSupport ? k : e
            let earlier = lastYear.flatMap { t in history[t].flatMap { $0.roll > 0 ? (term: t.description, count: measured($0), n: $0.roll) : nil } }
            let trendTest = ChangeOverTime.trend(terms.map { t in history[t].flatMap { $0.roll > 0 ? (count: measured($0), n: $0.roll) : nil } })
            measures[provision] = Measure(
                RateComparison(count: count, n: roll, target: comparator.exactRate, targetRange: comparator.range), comparator: comparator,
                change: ChangeBody(count: count, n: roll, earlier: earlier), trendTest: TrendTestBody(trendTest))
        }
        let trend = terms.map { t -> TrendPoint in
            guard let h = history[t], h.roll > 0 else {
                return TrendPoint(term: t.description, pupilsOnRoll: nil, senSupportRate: nil, ehcPlanRate: nil)
            }
            return TrendPoint(
                term: t.description, pupilsOnRoll: h.roll, senSupportRate: round5(Double(h.senSupport) / Double(h.roll)),
                ehcPlanRate: round5(Double(h.ehcPlan) / Double(h.roll)))
        }
        let profile = try await needProfile(trust: trust, urn: urn, term: term, context: context)
        return SchoolBenchmark(
            urn: urn.value, name: figures.name, term: term.description, level: level.rawValue,
            senSupport: measures[.senSupport]!, ehcPlan: measures[.ehcPlan]!, needProfile: profile, trend: trend)
    }

    /// The school's mix of primary needs against the trust's and the nation's, from its latest return with needs.
    func needProfile(trust: TrustID, urn: URN, term: AcademicTerm, context: AppRequestContext) async throws -> NeedProfile? {
        guard let needs = try await benchmarks.needProfile(trust: trust, urn: urn, upTo: term, logger: context.logger) else { return nil }
        let profileYear = needs.term.januaryCensusYear
        let national = try await benchmarks.nationalNeedShares(upTo: profileYear, logger: context.logger)
        // A trust executive sees every school of the trust; a school leader sees the other schools' part of the
        // pool only under disclosure control (Docs/privacy.md).
        let leader = context.principal?.role == .schoolLeader
        func shares(_ provision: Provision) -> [NeedShare] {
            let codes = NeedCode.allCases.filter { $0.allowed(for: provision) }.map(\.rawValue)
            let mine = needs.school[provision.rawValue] ?? [:]
            let raw = Dictionary(uniqueKeysWithValues: codes.map { ($0, needs.trust[provision.rawValue]?[$0] ?? 0) })
            let pooled: [String: Int?] = leader ? DisclosureControl.poolForMember(own: mine, pooled: raw) : raw.mapValues { $0 }
            let schoolTotal = mine.values.reduce(0, +)
            let total = max(1, schoolTotal)
            // Shares of the shown pool are computed from what is shown, so they give nothing more away.
            let trustTotal = max(1, leader ? raw.values.reduce(0, +) : pooled.values.compactMap { $0 }.reduce(0, +))
            let shownTotal = max(1, DisclosureControl.round(trustTotal, to: leader ? DisclosureControl.Rules().rounding : 1))
            return codes.map { need in
                let count = mine[need] ?? 0
                let trustCount = pooled[need] ?? nil
                let trustShare = trustCount.map { round5(Double($0) / Double(shownTotal)) }
                let nationalShare = NeedCode(rawValue: need).flatMap { national?.shares[provision]?[$0] }
                let interval = Statistics.wilson(count: count, n: schoolTotal, z: Statistics.z95)
                return NeedShare(
                    need: need, count: count, share: round5(Double(count) / Double(total)), wilson95: Interval(interval),
                    trustCount: trustCount, trustShare: trustShare, trustSuppressed: trustCount == nil,
                    vsTrust: schoolTotal == 0 ? nil : trustShare.map { NeedMix.compare(count: count, total: schoolTotal, reference: $0).verdict },
                    nationalShare: nationalShare.map(round5),
                    vsNational: schoolTotal == 0 ? nil : nationalShare.map { NeedMix.compare(count: count, total: schoolTotal, reference: $0).verdict })
            }
        }
        let note: String
        if let national {
            note =
                national.censusYear < profileYear
                ? "DfE's national shares are from January \(national.censusYear), the latest senstat has for January \(profileYear); an admin imports later years from DfE's type-of-need file"
                : "DfE's national shares for January \(national.censusYear)"
        } else {
            note = "senstat has no national shares by primary need for January \(profileYear) or before; the trust's pooled shares are given"
        }
        return NeedProfile(
            term: needs.term.description, senSupport: shares(.senSupport), ehcPlan: shares(.ehcPlan),
            national: national.map { "Department for Education, January \($0.censusYear) school census: pupils by primary type of need (state-funded schools, non-maintained special schools and PRUs). Open Government Licence v3.0." },
            nationalCensusYear: national?.censusYear, nationalNote: note)
    }

    func compare(_ request: Request, _ context: AppRequestContext) async throws -> Comparison {
        let principal = try context.require(.trustExecutive)
        let trust = try context.parameters.trustID()
        guard principal.canSee(trust: trust) else { throw APIError.notFound("the trust") }
        let (term, level, measure) = try parameters(request)
        let schools = try await benchmarks.figures(trust: trust, term: term, logger: context.logger)
        let rates = try await benchmarks.comparatorRates(provision: measure, censusYear: term.januaryCensusYear, logger: context.logger)
        var mainstream: [TrustComparison.Input] = []
        var specialist: [TrustComparison.Input] = []
        var comparators: [URN: Comparator] = [:]
        var missing: [Missing] = []
        var notCompared: [NotCompared] = []
        var bySchool: [URN: SchoolFigures] = [:]
        var pooledCount = 0
        var pooledN = 0
        for school in schools {
            guard let roll = school.pupilsOnRoll, roll > 0, let count = school.count(measure) else {
                missing.append(Missing(urn: school.urn.value, name: school.name))
                continue
            }
            pooledCount += count
            pooledN += roll
            guard let comparator = try comparator(for: school, level: level, term: term, rates: rates) else {
                let (phase, _) = ComparatorPhase.forSchool(phase: school.phase, establishmentType: school.establishmentType)
                notCompared.append(
                    NotCompared(
                        urn: school.urn.value, name: school.name, phase: school.phase, setting: phase.setting.rawValue, pupilsOnRoll: roll,
                        count: count, rate: round5(Double(count) / Double(roll)), reason: Self.notComparedReason(school)))
                continue
            }
            comparators[school.urn] = comparator
            bySchool[school.urn] = school
            let input = TrustComparison.Input(urn: school.urn, count: count, n: roll, target: comparator.exactRate, targetRange: comparator.range)
            if comparator.setting == ComparatorPhase.Setting.mainstream.rawValue { mainstream.append(input) } else { specialist.append(input) }
        }
        let mainstreamResult = TrustComparison.compute(mainstream)
        let specialistResult = TrustComparison.compute(specialist)
        // The last nine terms, for the change on a year and the pooled trend: one query.
        let terms = lastNineTerms(term)
        let lastYear = term.sameTermLastYear
        let history = try await benchmarks.history(trust: trust, terms: terms, logger: context.logger)
        func count(_ h: (roll: Int, senSupport: Int, ehcPlan: Int)) -> Int { measure == .senSupport ? h.senSupport : h.ehcPlan }
        func earlier(_ urn: URN) -> (term: String, count: Int, n: Int)? {
            lastYear.flatMap { t in history[urn]?[t].flatMap { $0.roll > 0 ? (term: t.description, count: count($0), n: $0.roll) : nil } }
        }
        let pooledByTerm = terms.map { t -> (count: Int, n: Int)? in
            let figures = history.values.compactMap { $0[t] }.filter { $0.roll > 0 }
            return figures.isEmpty ? nil : (figures.map(count).reduce(0, +), figures.map(\.roll).reduce(0, +))
        }
        let pooledEarlier = lastYear.flatMap { t in
            terms.firstIndex { $0 == t }.flatMap { pooledByTerm[$0] }.map { (term: t.description, count: $0.count, n: $0.n) }
        }
        func row(_ row: TrustComparison.Row) -> ComparisonRow {
            let school = bySchool[row.input.urn]!
            let comparator = comparators[school.urn]!
            let c = row.unadjusted
            return ComparisonRow(
                urn: school.urn.value, name: school.name, phase: school.phase, setting: comparator.setting, pupilsOnRoll: c.n, count: c.count,
                rate: round5(c.rate), wilson95: Interval(c.wilson95), comparator: comparator,
                differencePP: (c.differencePP * 100).rounded() / 100, z: (c.z * 1000).rounded() / 1000,
                limits95: Interval(c.limits95), limits998: Interval(c.limits998),
                limits998Phi: Interval(row.phiAdjusted.limits998), limits998Tau2: Interval(row.tau2Adjusted.limits998),
                limitsMethod: c.limitsMethod.rawValue, flag: c.flag.rawValue, flagAtRate: flagAtPointRate(c), flagLimits: "unadjusted",
                flags: ["unadjusted": c.flag.rawValue, "phi": row.phiAdjusted.flag.rawValue, "tau2": row.tau2Adjusted.flag.rawValue],
                ratio: RatioBody(count: c.count, n: c.n, comparator: comparator),
                change: ChangeBody(count: c.count, n: c.n, earlier: earlier(school.urn)))
        }
        func overdispersion(_ result: TrustComparison.Result) -> Overdispersion? {
            result.overdispersion.map {
                Overdispersion(
                    schools: $0.units, phi: $0.phi.map { ($0 * 1000).rounded() / 1000 }, tau2: $0.tau2,
                    chiSquare: $0.chiSquare.map { ($0 * 1000).rounded() / 1000 }, degreesOfFreedom: $0.degreesOfFreedom,
                    pValue: $0.pValue.map { ($0 * 100_000).rounded() / 100_000 }, overdispersed: $0.isOverdispersed,
                    method: Self.overdispersionMethod, note: $0.note)
            }
        }
        let units = (mainstream + specialist).map { IndirectStandardisation.Unit(observed: $0.count, expected: Double($0.n) * $0.target) }
        return Comparison(
            trustID: trust.uuidString, term: term.description, measure: measure.rawValue, level: level.rawValue,
            pooled: ["count": Double(pooledCount), "pupils_on_roll": Double(pooledN), "rate": round5(pooledN > 0 ? Double(pooledCount) / Double(pooledN) : 0)],
            pooledChange: pooledN > 0 ? ChangeBody(count: pooledCount, n: pooledN, earlier: pooledEarlier) : nil,
            pooledTrendTest: TrendTestBody(ChangeOverTime.trend(pooledByTerm)),
            standardised: StandardisedBody(units),
            overdispersion: overdispersion(mainstreamResult), schools: mainstreamResult.rows.map(row),
            specialistSchools: specialistResult.rows.map(row), specialistOverdispersion: overdispersion(specialistResult),
            notCompared: notCompared, missing: missing, source: Self.source)
    }

    func lastNineTerms(_ term: AcademicTerm) -> [AcademicTerm] {
        var terms: [AcademicTerm] = [term]
        while terms.count < 9, let previous = previousTerm(terms[0]) { terms.insert(previous, at: 0) }
        return terms
    }

    func previousTerm(_ term: AcademicTerm) -> AcademicTerm? {
        switch term.season {
        case .autumn: AcademicTerm(startYear: term.startYear - 1, season: .summer)
        case .spring: AcademicTerm(startYear: term.startYear, season: .autumn)
        case .summer: AcademicTerm(startYear: term.startYear, season: .spring)
        }
    }

    static let overdispersionMethod =
        "on the arcsine square-root scale (Spiegelhalter 2005; FunnelPlotR): phi is the mean squared z-score winsorised at the interpolated 10th and 90th percentiles; chi_square = k*phi on k-1 degrees of freedom; tau2 by DerSimonian-Laird; from 10 schools; flags.phi and flags.tau2 use limits widened by each only when p_value < 0.05"

}
