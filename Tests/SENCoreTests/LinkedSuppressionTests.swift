import Foundation
import SENCore
import SENTestSupport
import Testing

/// Random releases (random trusts, schools, LAs, regions, phases, needs and survey answers), every table a release
/// can produce controlled together, then audited by linear programming with scipy's HiGHS (Tests/privacy/lp_audit.py):
/// no hidden value may be narrowed below its protection by anything published from its release.
@Suite struct LinkedSuppressionTests {
    typealias Cell = DisclosureControl.Cell

    struct School {
        let urn: Int
        let trust: Int
        let region: String
        let la: String
        let phase: String
        let band: String
        let roll: Int
        let support: Int
        let plans: Int
        let needs: [String: (support: Int, plans: Int)]
        let respondents: Int
        let answers: [String: Int]
    }

    static let needCodes = ["ASD", "MLD", "SEMH", "SLCN", "SPLD"]
    static let options = ["not", "somewhat", "very"]

    static func release(seed: UInt64) -> [School] {
        var random = SplitMix64(seed: seed)
        func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(range.count)) }
        let regions = (0..<int(2...5)).map { "R\($0)" }
        let las = regions.flatMap { region in (0..<int(1...4)).map { (region, "\(region)-L\($0)") } }
        var schools: [School] = []
        for trust in 0..<int(3...12) {
            let size = int(1...9)
            let home = las[int(0...(las.count - 1))]
            let band = size <= 5 ? "1-5" : "6-15"
            for _ in 0..<size {
                // Mostly in the trust's home LA, sometimes anywhere.
                let (region, la) = int(0...3) == 0 ? las[int(0...(las.count - 1))] : home
                let phase = ["primary", "primary", "primary", "secondary", "special", "ap"][int(0...5)]
                let roll =
                    switch phase {
                    case "primary": int(30...600)
                    case "secondary": int(300...1500)
                    case "special": int(20...150)
                    default: int(3...60)
                    }
                let plans = phase == "special" ? roll - int(0...3) : roll * int(0...6) / 100
                let support = phase == "special" ? min(roll - plans, int(0...3)) : min(roll - plans, roll * int(3...22) / 100)
                var needs: [String: (support: Int, plans: Int)] = [:]
                var leftSupport = support
                var leftPlans = plans
                for (i, code) in needCodes.enumerated() {
                    let last = i == needCodes.count - 1
                    let s = last ? leftSupport : int(0...leftSupport)
                    let p = last ? leftPlans : int(0...leftPlans)
                    (leftSupport, leftPlans) = (leftSupport - s, leftPlans - p)
                    needs[code] = (s, p)
                }
                let respondents = int(0...45)
                var left = respondents - int(0...min(3, respondents))
                var answers: [String: Int] = [:]
                for (i, option) in options.enumerated() {
                    let n = i == options.count - 1 ? left : int(0...left)
                    answers[option] = n
                    left -= n
                }
                schools.append(
                    School(
                        urn: schools.count, trust: trust, region: region, la: la, phase: phase, band: band, roll: roll,
                        support: support, plans: plans, needs: needs, respondents: respondents, answers: answers))
            }
        }
        return schools
    }

    /// One cell per key, from (key, parent, units, values) contributions of each school.
    static func cells(_ schools: [School], _ rows: (School) -> [(key: String, parent: String?, units: Int, values: [String: Int])]) -> (cells: [Cell], total: Cell) {
        var units: [String: Int] = [:]
        var parents: [String: String?] = [:]
        var values: [String: [String: Int]] = [:]
        var urns: [String: Set<Int>] = [:]
        var trusts: [String: Set<Int>] = [:]
        for school in schools {
            for row in rows(school) {
                for key in [row.key, "\u{0}all"] {
                    units[key, default: 0] += row.units
                    urns[key, default: []].insert(school.urn)
                    trusts[key, default: []].insert(school.trust)
                    for (name, value) in row.values { values[key, default: [:]][name, default: 0] += value }
                }
                parents[row.key] = row.parent
            }
        }
        func cell(_ key: String) -> Cell {
            Cell(
                key: key == "\u{0}all" ? "all" : key, parent: parents[key] ?? nil, units: units[key] ?? 0, schools: urns[key]?.count ?? 0,
                trusts: trusts[key]?.count ?? 0, values: values[key] ?? [:])
        }
        return (units.keys.filter { $0 != "\u{0}all" }.sorted().map(cell), cell("\u{0}all"))
    }

    /// The release in the audit's format: every cell with what is shown and its true values.
    static func audited(name: String, kind: String, tables: [LinkedSuppression.Table], total: Cell) -> [String: Any] {
        let result = LinkedSuppression.control(tables: tables, total: total)
        let columns = ["units"] + Set(tables.flatMap { $0.cells.flatMap { $0.values.keys } }).sorted()
        func row(_ cell: Cell, _ shown: DisclosureControl.Controlled) -> [String: Any] {
            var truth: [String: Int] = ["units": cell.units]
            var published: [String: Int] = [:]
            for column in columns.dropFirst() { truth[column] = cell.values[column, default: 0] }
            if let units = shown.units, let values = shown.values {
                published["units"] = units
                for column in columns.dropFirst() { published[column] = values[column, default: 0] }
            }
            return [
                "key": cell.key, "parent": cell.parent as Any, "suppressed": shown.suppression?.rawValue as Any,
                "shown": shown.suppression == nil ? published as Any : NSNull(), "true": truth,
            ]
        }
        return [
            "name": name, "columns": columns, "rounding": 5, "within_cell": kind,
            "tables": tables.map { table in
                [
                    "name": table.name, "parent_table": table.parentTable as Any,
                    "cells": zip(table.cells, result.tables[table.name] ?? []).map { row($0, $1) },
                ] as [String: Any]
            },
            "total": row(total, result.total),
        ]
    }

    static func families(seed: UInt64) -> [[String: Any]] {
        let schools = release(seed: seed)
        func oneWay(_ values: @escaping (School) -> (Int, [String: Int])) -> [LinkedSuppression.Table] {
            let dimensions: [(String, String?, (School) -> (String, String?))] = [
                ("region", nil, { ($0.region, nil) }), ("la", "region", { ($0.la, $0.region) }),
                ("phase", nil, { ($0.phase, nil) }), ("trust_size", nil, { ($0.band, nil) }),
            ]
            return dimensions.map { name, parentTable, key in
                let table = cells(schools) { school in
                    let (units, v) = values(school)
                    let (k, parent) = key(school)
                    return [(k, parent, units, v)]
                }
                return LinkedSuppression.Table(name: name, parentTable: parentTable, cells: table.cells)
            }
        }
        let sen = oneWay { ($0.roll, ["sen_support": $0.support, "ehc_plan": $0.plans]) }
        let senTotal = cells(schools) { [($0.region, nil, $0.roll, ["sen_support": $0.support, "ehc_plan": $0.plans])] }.total
        let survey = oneWay { ($0.respondents, $0.answers) }
        let surveyTotal = cells(schools) { [($0.region, nil, $0.respondents, $0.answers)] }.total
        let need = cells(schools) { school in
            school.needs.map { code, n in (code, nil, n.support + n.plans, ["sen_support": n.support, "ehc_plan": n.plans]) }
        }
        return [
            audited(name: "\(seed)-sen", kind: "sen", tables: sen, total: senTotal),
            audited(name: "\(seed)-survey", kind: "single", tables: survey, total: surveyTotal),
            audited(name: "\(seed)-need", kind: "need", tables: [.init(name: "need", cells: need.cells)], total: need.total),
        ]
    }

    @Test func everyHiddenValueKeepsItsProtectionInAnLPAuditOfRandomReleases() async throws {
        let releases = (1...60).flatMap { Self.families(seed: UInt64($0)) }
        // The generator must make the cases that matter: hidden regions beside published LAs, and complements.
        let hidden = releases.flatMap { release in
            (release["tables"] as! [[String: Any]]).flatMap { ($0["cells"] as! [[String: Any]]).compactMap { $0["suppressed"] as? String } }
        }
        #expect(hidden.filter { $0 == "primary" }.count > 100)
        #expect(hidden.filter { $0 == "complementary" }.count > 50)
        let report = try await Self.runAudit(releases)
        #expect(report["releases"] as? Int == 180)
        #expect((report["programmes"] as? Int ?? 0) > 1_000)
        #expect(report["violation_count"] as? Int == 0, "\(report["violations"] ?? "")")
    }

    /// The attack that defeated per-table suppression: a region hidden with its complement, and the complement's
    /// LAs published. Now a hidden region has a hidden LA beside it, and its range stays wide.
    @Test func aHiddenRegionCannotBeRebuiltFromItsLAs() async throws {
        func cell(_ key: String, _ parent: String? = nil, units: Int, trusts: Int = 3) -> Cell {
            Cell(key: key, parent: parent, units: units, schools: 6, trusts: trusts, values: [:])
        }
        let regions = [cell("A", units: 400, trusts: 1), cell("B", units: 300), cell("C", units: 900), cell("D", units: 800)]
        let las = [
            cell("A1", "A", units: 400, trusts: 1), cell("B1", "B", units: 150), cell("B2", "B", units: 150), cell("C1", "C", units: 450),
            cell("C2", "C", units: 450), cell("D1", "D", units: 800),
        ]
        let total = cell("all", units: 2_400, trusts: 9)
        let tables = [LinkedSuppression.Table(name: "region", cells: regions), .init(name: "la", parentTable: "region", cells: las)]
        let result = LinkedSuppression.control(tables: tables, total: total)
        let hiddenRegions = (result.tables["region"] ?? []).filter { $0.suppression != nil }.map(\.key)
        #expect(hiddenRegions.contains("A") && hiddenRegions.count >= 2)
        let ranges = LinkedSuppression.ranges(tables: tables, total: total)
        let a = try #require(ranges["region"]?["A"]?["units"])
        #expect(a.lo <= 200 && a.hi >= 600, "A is 400: its range must reach ±200, got \(a)")
        for region in hiddenRegions where region != "A" {
            let las = (result.tables["la"] ?? []).filter { $0.parent == region }
            #expect(las.contains { $0.suppression != nil }, "\(region) is hidden: its LAs must not all be shown")
        }
        let report = try await Self.runAudit([Self.audited(name: "attack", kind: "", tables: tables, total: total)])
        #expect(report["violation_count"] as? Int == 0, "\(report["violations"] ?? "")")
    }

    /// The same release always gives the same pattern: it is what is frozen.
    @Test func theSameReleaseGivesTheSamePattern() {
        let a = Self.families(seed: 7)
        let b = Self.families(seed: 7)
        #expect(
            (try? JSONSerialization.data(withJSONObject: a, options: .sortedKeys)) == (try? JSONSerialization.data(withJSONObject: b, options: .sortedKeys)))
    }

    static func runAudit(_ releases: [[String: Any]]) async throws -> [String: Any] {
        let report = try await DisclosureAudit.run(releases)
        #expect(!report.isEmpty, "the audit printed no report")
        return report
    }
}
