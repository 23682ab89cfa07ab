import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SENAPI
import NIOCore
import SENCore
import SENStore

/// Schools against DfE's national SEN rates: one school's benchmark (here), and the trust comparison (JSON and
/// CSV) and its funnel plot (SVG) in `BenchmarkController+Comparison.swift`. All of them are reports, so they may
/// read the replica.
struct BenchmarkController {
    let benchmarks: BenchmarkStore
    let register: RegisterStore
    let database: Database
    /// Comparisons computed from figures that later requests read again (`ComparisonMemo`).
    let comparisons: ComparisonMemo

    static let source = "Department for Education, Special educational needs in England. Contains public sector information licensed under the Open Government Licence v3.0."

    var routes: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.school("schools/:urn", .trustExecutive, .schoolLeader, register: register)
            .add(middleware: ReplicaReadMiddleware(database: database))
            .get("benchmark", use: schoolBenchmark)
        routes.trust("trusts/:trust", .trustExecutive)
            .add(middleware: ReplicaReadMiddleware(database: database))
            .get("comparison", use: comparison)
            .get("funnel.svg", use: funnelPlot)
        return routes
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
    func comparator(for school: SchoolFigures, level: ComparatorLevel, term: AcademicTerm, rates: ComparatorRates) throws -> RateTarget? {
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
        let comparator = Comparator(
            level: rate.level, area: rate.areaName, phase: phase.rawValue, phaseReason: reason, setting: phase.setting.rawValue,
            censusYear: rate.censusYear, requestedCensusYear: term.januaryCensusYear, rate: round5(rate.rate),
            rateBasis: range == nil ? "dfe_counts" : "published_percent", publishedPercent: rate.percent,
            rateRange: range.map { Interval(lower: round5($0.lowerBound), upper: round5($0.upperBound)) },
            note: notes.isEmpty ? nil : notes.joined(separator: "; "), source: Self.source)
        return RateTarget(comparator: comparator, exactRate: rate.rate, range: range)
    }

    static func notComparedReason(_ school: SchoolFigures) -> String {
        let (phase, _) = ComparatorPhase.forSchool(phase: school.phase, establishmentType: school.establishmentType)
        return "no national rate for \(phase.label) is loaded (the reference data senstat ships has none); an admin imports DfE's sen_phase_type file, which has them"
    }

    @Sendable func schoolBenchmark(_ request: Request, context: SchoolContext) async throws -> SchoolBenchmark {
        let (term, level, _) = try parameters(request)
        return try await schoolBenchmark(term: term, level: level, context: context)
    }

    /// One school against its comparators for `term`, with its trend and need profile.
    func schoolBenchmark(term: AcademicTerm, level: ComparatorLevel, context: SchoolContext) async throws -> SchoolBenchmark {
        let (trust, urn) = (context.school.trust, context.school.urn)
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
            guard let target = try comparator(for: figures, level: level, term: term, rates: rates) else {
                throw APIError.notFound("a comparator for this school: \(Self.notComparedReason(figures))")
            }
            func measured(_ h: (roll: Int, senSupport: Int, ehcPlan: Int)) -> Int { provision == .senSupport ? h.senSupport : h.ehcPlan }
            let count = provision == .senSupport ? k : e
            let earlier = lastYear.flatMap { t in history[t].flatMap { $0.roll > 0 ? (term: t.description, count: measured($0), n: $0.roll) : nil } }
            let trendTest = ChangeOverTime.trend(terms.map { t in history[t].flatMap { $0.roll > 0 ? (count: measured($0), n: $0.roll) : nil } })
            measures[provision] = Measure(
                RateComparison(count: count, n: roll, target: target.exactRate, targetRange: target.range), target: target,
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
    func needProfile(trust: TrustID, urn: URN, term: AcademicTerm, context: SchoolContext) async throws -> NeedProfile? {
        guard let needs = try await benchmarks.needProfile(trust: trust, urn: urn, upTo: term, logger: context.logger) else { return nil }
        let profileYear = needs.term.januaryCensusYear
        let national = try await benchmarks.nationalNeedShares(upTo: profileYear, logger: context.logger)
        // A trust executive sees every school of the trust; a school leader sees the other schools' part of the
        // pool only under disclosure control (Docs/privacy.md).
        let leader = context.principal.role == .schoolLeader
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

    func lastNineTerms(_ term: AcademicTerm) -> [AcademicTerm] { term.lastTerms(9) }

    static let overdispersionMethod =
        "on the arcsine square-root scale (Spiegelhalter 2005; FunnelPlotR): phi is the mean squared z-score winsorised at the interpolated 10th and 90th percentiles; chi_square = k*phi on k-1 degrees of freedom; tau2 by DerSimonian-Laird; from 10 schools; flags.phi and flags.tau2 use limits widened by each only when p_value < 0.05"

}
