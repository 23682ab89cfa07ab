import Foundation
import Logging
import SENCore

/// Plausible returns for the demo schools, every term from 2023-24 autumn to 2025-26 summer: rates near the
/// national rate for each phase, a few clear outliers, and two schools missing in the latest term. Deterministic.
extension DemoData {
    public static let returnTerms: [AcademicTerm] = (2023...2025).flatMap { year in
        AcademicTerm.Season.allCases.map { AcademicTerm(startYear: year, season: $0)! }
    }

    /// Schools planted as outliers: (SEN support rate, EHC plan rate).
    static let outliers: [Int: (Double, Double)] = [
        990_103: (0.265, 0.036),  // Heaton Brook Primary: far above the primary rate
        990_105: (0.052, 0.030),  // Pennine High School: far below the secondary rate
        990_204: (0.128, 0.085),  // Chelmer Vale Academy: many EHC plans
    ]
    /// Schools with no return in the latest term.
    static let missingLatest: Set<Int> = [990_104, 990_202]

    /// Typical shares of primary need (SEN support, then EHC plans), England 2025 in round numbers.
    static let supportShares: [(NeedCode, Double)] = [
        (.SLCN, 0.25), (.SEMH, 0.20), (.MLD, 0.17), (.SPLD, 0.12), (.ASD, 0.09), (.NSA, 0.06), (.OTH, 0.04),
        (.PD, 0.02), (.HI, 0.015), (.VI, 0.01), (.SLD, 0.01), (.MSI, 0.005), (.PMLD, 0.0),
    ]
    static let planShares: [(NeedCode, Double)] = [
        (.ASD, 0.33), (.SLCN, 0.21), (.SEMH, 0.15), (.SLD, 0.09), (.MLD, 0.07), (.PD, 0.05), (.PMLD, 0.03),
        (.OTH, 0.02), (.HI, 0.02), (.SPLD, 0.015), (.VI, 0.01), (.MSI, 0.005),
    ]

    /// Splits `total` by `shares` so that the parts add up exactly (largest remainder).
    static func apportion(_ total: Int, _ shares: [(NeedCode, Double)]) -> [(NeedCode, Int)] {
        let sum = shares.map(\.1).reduce(0, +)
        let exact = shares.map { ($0.0, Double(total) * $0.1 / sum) }
        var parts = exact.map { ($0.0, Int($0.1.rounded(.down))) }
        let order = exact.indices.sorted { exact[$0].1 - exact[$0].1.rounded(.down) > exact[$1].1 - exact[$1].1.rounded(.down) }
        for index in order.prefix(total - parts.map(\.1).reduce(0, +)) { parts[index].1 += 1 }
        return parts
    }

    static func demoReturn(_ school: School, term: AcademicTerm, index: Int) -> SENReturn {
        var noise = SplitMix64(seed: UInt64(school.urn) &* 31 &+ UInt64(index))
        let base: (Double, Double) =
            switch school.phase {
            case .primary, .middleDeemedPrimary: (0.148, 0.035)
            case .secondary, .middleDeemedSecondary, .sixteenPlus: (0.134, 0.031)
            case .notApplicable: (0.03, 0.94)  // special school
            default: (0.142, 0.053)
            }
        let (supportRate, planRate) = outliers[school.urn] ?? base
        let roll = school.pupils + Int((noise.unit() - 0.5) * Double(school.pupils) * 0.04)
        let k = Int((Double(roll) * supportRate * (0.94 + noise.unit() * 0.12)).rounded())
        let e = min(roll - k, Int((Double(roll) * planRate * (0.92 + noise.unit() * 0.16)).rounded()))
        var raw: [String: RawField] = [
            "pupils_on_roll": .text(String(roll)), "sen_support": .text(String(k)), "ehc_plan": .text(String(e)),
            "senco.on_slt": .text(noise.unit() < 0.75 ? "true" : "false"),
            "senco.national_award": .text(noise.unit() < 0.7 ? "held" : "not_started"),
            "senco.start_date": .text("20\(14 + school.urn % 9)-09-01"),
            "senco.hours_per_week": .text(String(Int(10 + noise.unit() * 25))),
            "senco.ta_fte": .text(String(Double(Int(Double(roll) / 60 * 10)) / 10)),
            "senco.governor_meetings": .text(String(Int(noise.unit() * 3) + 1)),
            "senco.cpd_sessions": .text(String(Int(noise.unit() * 4) + 1)),
            "senco.learning_walks": .text(String(Int(noise.unit() * 5))),
            "senco.parent_forum": .text(noise.unit() < 0.5 ? "true" : "false"),
        ]
        if term.season == .spring {
            // Type of need is collected in the spring census.
            for (need, count) in apportion(k, supportShares) { raw["primary_need.\(need.rawValue).sen_support"] = .text(String(count)) }
            for (need, count) in apportion(e, planShares) { raw["primary_need.\(need.rawValue).ehc_plan"] = .text(String(count)) }
        }
        guard case .success(let value) = SENReturnValidator.validate(raw) else {
            fatalError("demo return for \(school.urn) \(term) does not validate")
        }
        return value
    }

    /// Loads (idempotently) the demo's returns through the same bulk path a trust's CSV import takes, each dated
    /// ten days after its census day, and approves every term but the latest.
    public static func loadReturns(into store: ReturnsStore, logger: Logger) async throws {
        for (index, term) in returnTerms.enumerated() {
            let latest = term == returnTerms.last
            let submitted = Date(timeIntervalSince1970: Double(term.censusDay.adding(days: 10).daysSinceEpoch) * 86_400 + 36_000)
            for trust in trusts {
                let rows = trust.schools.filter { !(latest && missingLatest.contains($0.urn)) }.map {
                    ReturnsStore.ImportRow(urn: URN($0.urn)!, value: demoReturn($0, term: term, index: index), warnings: [])
                }
                _ = try await store.importReturns(
                    trust: trust.id, term: term, rows: rows, actor: nil, late: false, source: "demo",
                    submittedAt: submitted, logger: logger)
                if !latest {
                    for row in rows {
                        _ = try await store.approve(trust: trust.id, urn: row.urn, term: term, actor: nil, logger: logger)
                    }
                }
            }
        }
        logger.info("demo returns loaded", metadata: ["terms": "\(returnTerms.count)"])
    }
}
