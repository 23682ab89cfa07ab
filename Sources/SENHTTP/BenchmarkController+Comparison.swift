import Foundation
import Hummingbird
import Logging
import SENAPI
import NIOCore
import SENCore
import SENStore

/// The trust comparison: every school of the trust against its comparator, as JSON, CSV or a funnel plot.
extension BenchmarkController {
    @Sendable func comparison(_ request: Request, context: TrustContext) async throws -> Response {
        let (term, level, measure) = try parameters(request)
        let compared = try await compared(term: term, level: level, measure: measure, context: context)
        if wantsCSV(request) {
            let comparison = compared.comparison
            return csvResponse(comparisonCSV(comparison), name: "comparison-\(comparison.term)-\(comparison.measure).csv")
        }
        return compared.jsonResponse
    }

    @Sendable func funnelPlot(_ request: Request, context: TrustContext) async throws -> Response {
        let view = request.uri.queryParameters.get("view") ?? "ratio"
        guard let kind = FunnelView(rawValue: view) else {
            throw APIError(.badRequest, "view must be ratio (one funnel of observed / expected) or phase (one panel per comparator)")
        }
        let (term, level, measure) = try parameters(request)
        let compared = try await compared(term: term, level: level, measure: measure, context: context)
        return Response(
            status: .ok, headers: [.contentType: "image/svg+xml; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: funnel(compared, view: kind))))
    }

    /// Every school of the trust against its comparator for `term` (the API's comparison, CSV and funnel, and the
    /// web app's pages).
    func compare(term: AcademicTerm, level: ComparatorLevel, measure: Provision, context: TrustContext) async throws -> Comparison {
        try await compared(term: term, level: level, measure: measure, context: context).comparison
    }

    /// The comparison with its JSON: the figures read afresh, the statistics on them computed, or taken from
    /// `comparisons` when a request read exactly the same figures and rates before.
    func compared(term: AcademicTerm, level: ComparatorLevel, measure: Provision, context: TrustContext) async throws -> ComparedEntry {
        let trust = context.trust
        // The last nine terms, for the change on a year and the pooled trend: read with the schools, in one transaction.
        let terms = lastNineTerms(term)
        let lastYear = term.sameTermLastYear
        let inputs = try await benchmarks.comparisonInputs(trust: trust, term: term, lastYear: lastYear, terms: terms, logger: context.logger)
        let rates = try await benchmarks.comparatorRates(provision: measure, censusYear: term.januaryCensusYear, logger: context.logger)
        let key = ComparisonKey(trust: trust, term: term, level: level, measure: measure, rates: rates, inputs: inputs)
        if let kept = comparisons.value(for: key) { return kept }
        let entry = ComparedEntry(
            try compute(trust: trust, term: term, terms: terms, level: level, measure: measure, inputs: inputs, rates: rates))
        comparisons.keep(entry, for: key)
        return entry
    }

    /// The comparison of what one transaction read: statistics only, no I/O.
    func compute(
        trust: TrustID, term: AcademicTerm, terms: [AcademicTerm], level: ComparatorLevel, measure: Provision, inputs: ComparisonInputs,
        rates: ComparatorRates
    ) throws -> Comparison {
        let lastYear = term.sameTermLastYear
        let schools = inputs.schools
        var mainstream: [TrustComparison.Input] = []
        var specialist: [TrustComparison.Input] = []
        var targets: [URN: RateTarget] = [:]
        var missing: [MissingSchool] = []
        var notCompared: [NotCompared] = []
        var bySchool: [URN: SchoolFigures] = [:]
        var pooledCount = 0
        var pooledN = 0
        for school in schools {
            guard let roll = school.pupilsOnRoll, roll > 0, let count = school.count(measure) else {
                missing.append(MissingSchool(urn: school.urn.value, name: school.name))
                continue
            }
            pooledCount += count
            pooledN += roll
            guard let target = try comparator(for: school, level: level, term: term, rates: rates) else {
                let (phase, _) = ComparatorPhase.forSchool(phase: school.phase, establishmentType: school.establishmentType)
                notCompared.append(
                    NotCompared(
                        urn: school.urn.value, name: school.name, phase: school.phase, setting: phase.setting.rawValue, pupilsOnRoll: roll,
                        count: count, rate: round5(Double(count) / Double(roll)), reason: Self.notComparedReason(school)))
                continue
            }
            targets[school.urn] = target
            bySchool[school.urn] = school
            let input = TrustComparison.Input(urn: school.urn, count: count, n: roll, target: target.exactRate, targetRange: target.range)
            if target.comparator.setting == ComparatorPhase.Setting.mainstream.rawValue { mainstream.append(input) } else { specialist.append(input) }
        }
        let mainstreamResult = TrustComparison.compute(mainstream)
        let specialistResult = TrustComparison.compute(specialist)
        func count(_ h: (roll: Int, senSupport: Int, ehcPlan: Int)) -> Int { measure == .senSupport ? h.senSupport : h.ehcPlan }
        func earlier(_ urn: URN) -> (term: String, count: Int, n: Int)? {
            lastYear.flatMap { t in inputs.lastYear[urn].flatMap { $0.roll > 0 ? (term: t.description, count: count($0), n: $0.roll) : nil } }
        }
        let pooledByTerm = terms.map { t in inputs.pooled[t].map { (count: count($0), n: $0.roll) } }
        let pooledEarlier = lastYear.flatMap { t in
            terms.firstIndex { $0 == t }.flatMap { pooledByTerm[$0] }.map { (term: t.description, count: $0.count, n: $0.n) }
        }
        func row(_ row: TrustComparison.Row) -> ComparisonRow {
            let school = bySchool[row.input.urn]!
            let target = targets[school.urn]!
            let comparator = target.comparator
            let c = row.unadjusted
            return ComparisonRow(
                urn: school.urn.value, name: school.name, phase: school.phase, setting: comparator.setting, pupilsOnRoll: c.n, count: c.count,
                rate: round5(c.rate), wilson95: Interval(c.wilson95), comparator: comparator,
                differencePP: (c.differencePP * 100).rounded() / 100, z: (c.z * 1000).rounded() / 1000,
                limits95: Interval(c.limits95), limits998: Interval(c.limits998),
                limits998Phi: Interval(row.phiAdjusted.limits998), limits998Tau2: Interval(row.tau2Adjusted.limits998),
                limitsMethod: c.limitsMethod.rawValue, flag: c.flag.rawValue, flagAtRate: flagAtPointRate(c), flagLimits: "unadjusted",
                flags: ["unadjusted": c.flag.rawValue, "phi": row.phiAdjusted.flag.rawValue, "tau2": row.tau2Adjusted.flag.rawValue],
                ratio: RatioBody(count: c.count, n: c.n, target: target),
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
}
