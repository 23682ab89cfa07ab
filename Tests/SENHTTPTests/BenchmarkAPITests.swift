import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SENCore
import SENHTTP
import SENStore
import SENTestSupport
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The demo with its returns: the planted outliers must stand out and ordinary schools must not.
func loadDemoWithReturns(_ db: TestDatabase) async throws -> Fixture {
    let fixture = try await Fixture.load(db)
    try await db.withDatabase { database in
        try await DemoData.loadReturns(into: ReturnsStore(database: database), logger: Logger.test)
    }
    return fixture
}

let latestDemoTerm = "2025-26-summer"

@Suite struct BenchmarkAPITests {
    @Test func theComparisonFlagsThePlantedOutliersAndNotTheOrdinarySchools() async throws {
        try await withTestDatabase { db in
            let f = try await loadDemoWithReturns(db)
            try await withApp(db) { client in
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)&measure=sen_support", method: .get,
                    headers: f.headers("trust_executive")
                ) { response in
                    #expect(response.status == .ok)
                    let body = try json(response)
                    let schools = try #require(body["schools"] as? [[String: Any]])
                    func flag(_ urn: Int) -> String? { schools.first { $0["urn"] as? Int == urn }?["flag"] as? String }
                    #expect(flag(990_103) == "high_99_8", "Heaton Brook Primary is planted far above")
                    #expect(flag(990_105) == "low_99_8", "Pennine High School is planted far below")
                    for ordinary in [990_101, 990_102, 990_106] {
                        #expect(flag(ordinary) == "within", "\(ordinary)")
                    }
                    let missing = try #require(body["missing"] as? [[String: Any]])
                    #expect(missing.compactMap { $0["urn"] as? Int } == [990_104])
                    let heaton = try #require(schools.first { $0["urn"] as? Int == 990_103 })
                    let comparator = try #require(heaton["comparator"] as? [String: Any])
                    #expect(comparator["phase"] as? String == "state_funded_primary")
                    #expect(comparator["census_year"] as? Int == 2025)
                    #expect(comparator["requested_census_year"] as? Int == 2026)
                    #expect((comparator["note"] as? String)?.contains("2026 is not published") == true)
                    #expect(comparator["rate"] as? Double == 0.148)
                    #expect((comparator["source"] as? String)?.contains("Open Government Licence") == true)
                    // A published 14.8% stands for 14.75-14.85%: the answer says so.
                    #expect(comparator["rate_basis"] as? String == "published_percent" && comparator["published_percent"] as? Double == 14.8)
                    #expect((comparator["rate_range"] as? [String: Double]) == ["lower": 0.1475, "upper": 0.1485])
                    #expect(comparator["setting"] as? String == "mainstream" && heaton["setting"] as? String == "mainstream")
                    // The special school is not compared with all schools: no rate of its kind is shipped, so it is
                    // shown apart with the reason, and it is in neither the mainstream rows nor their dispersion.
                    #expect(schools.first { $0["urn"] as? Int == 990_107 } == nil)
                    #expect((body["specialist_schools"] as? [Any])?.isEmpty == true)
                    let notCompared = try #require(body["not_compared"] as? [[String: Any]])
                    let special = try #require(notCompared.first { $0["urn"] as? Int == 990_107 })
                    #expect(special["setting"] as? String == "special")
                    #expect((special["reason"] as? String)?.contains("sen_phase_type") == true)
                    // The trust's pooled rate still counts every school with a return.
                    let pooled = try #require(body["pooled"] as? [String: Double])
                    let counts = (schools + notCompared).map { $0["count"] as? Int ?? 0 }.reduce(0, +)
                    #expect(pooled["count"] == Double(counts))
                    // Its standardised ratio: observed over expected of the compared schools, each with its own rate.
                    let standardised = try #require(body["standardised"] as? [String: Any])
                    let observed = schools.map { $0["count"] as? Int ?? 0 }.reduce(0, +)
                    #expect(standardised["observed"] as? Int == observed && standardised["schools"] as? Int == schools.count)
                    for row in schools {
                        let ratio = try #require(row["ratio"] as? [String: Any])
                        let n = Double(row["pupils_on_roll"] as? Int ?? 0), p0 = (row["comparator"] as? [String: Any])?["rate"] as? Double ?? 0
                        #expect(abs((ratio["expected"] as? Double ?? 0) - n * p0) < 0.0006, "expected = pupils × the comparator's rate")
                    }
                    // Six schools: too few to estimate over-dispersion (one school would decide it), and the answer
                    // says so instead of giving a φ.
                    let od = try #require(body["overdispersion"] as? [String: Any])
                    #expect(od["phi"] == nil && od["tau2"] == nil && od["overdispersed"] as? Bool == false)
                    #expect(od["schools"] as? Int == schools.count && (od["note"] as? String)?.contains("\(schools.count) schools") == true)
                    #expect((heaton["flags"] as? [String: String])?.keys.sorted() == ["phi", "tau2", "unadjusted"])
                    #expect(heaton["flag_limits"] as? String == "unadjusted")
                }
            }
        }
    }

    @Test func csvAndJSONAgree() async throws {
        try await withTestDatabase { db in
            let f = try await loadDemoWithReturns(db)
            try await withApp(db) { client in
                let uri = "/v1/trusts/\(f.trustB.id)/comparison?term=\(latestDemoTerm)&measure=ehc_plan&comparator=regional"
                let body = try await client.execute(uri: uri, method: .get, headers: f.headers("other_trust_executive")) { try json($0) }
                var headers = f.headers("other_trust_executive")
                headers[.accept] = "text/csv"
                let csv = try await client.execute(uri: uri, method: .get, headers: headers) { response in
                    #expect(response.headers[.contentType]?.hasPrefix("text/csv") == true)
                    return response.text
                }
                let lines = csv.split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
                let header = try #require(lines.first)
                let schools = try #require(body["schools"] as? [[String: Any]])
                let returned = lines.dropFirst().filter { $0[header.firstIndex(of: "status")!] == "returned" }
                #expect(returned.count == schools.count)
                for row in returned {
                    let urn = Int(row[0])!
                    let school = try #require(schools.first { $0["urn"] as? Int == urn })
                    #expect(Double(row[header.firstIndex(of: "rate")!]) == school["rate"] as? Double)
                    #expect(row[header.firstIndex(of: "flag")!] == school["flag"] as? String)
                    #expect(Double(row[header.firstIndex(of: "comparator_rate")!]) == (school["comparator"] as? [String: Any])?["rate"] as? Double)
                    #expect(row[header.firstIndex(of: "comparator_level")!] == "regional")
                    // Differences and z below zero are numbers a spreadsheet reads, not escaped text.
                    for column in ["difference_pp", "z"] where header.contains(column) {
                        let cell = row[header.firstIndex(of: column)!]
                        #expect(cell.isEmpty || Double(cell) != nil, "\(column): \(cell)")
                    }
                }
                #expect(csv.contains(",-"), "the demo has schools below their comparator")
                #expect(!csv.contains(",'-"), "no number is escaped as a formula")
                #expect(lines.count - 1 == schools.count + ((body["missing"] as? [Any])?.count ?? 0))
            }
        }
    }

    @Test func theFunnelIsWellFormedSVGWithOnePointPerSchool() async throws {
        try await withTestDatabase { db in
            let f = try await loadDemoWithReturns(db)
            try await withApp(db) { client in
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/funnel.svg?term=\(latestDemoTerm)&measure=sen_support", method: .get,
                    headers: f.headers("trust_executive")
                ) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("image/svg+xml") == true)
                    let counter = ElementCounter()
                    let parser = XMLParser(data: Data(response.text.utf8))
                    parser.delegate = counter
                    #expect(parser.parse(), "the SVG parses as XML")
                    // One funnel of observed ÷ expected for the mainstream schools with a return (the special
                    // school, with no comparator of its kind, is not on it).
                    #expect(counter.schoolCircles == f.trustA.schools.count - 2, "one point per compared mainstream school")
                    #expect(counter.elements["path", default: 0] == 4, "95% and 99.8% limits around 1, above and below")
                    #expect(!response.text.contains("<script"))
                    #expect(response.text.contains("Heaton Brook Primary"))
                    #expect(response.text.contains("Expected count"))
                    #expect(response.text.contains("observed ÷ expected"))
                }
                // Per-phase panels: one funnel per comparator phase, and the school not compared said so.
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/funnel.svg?term=\(latestDemoTerm)&measure=sen_support&view=phase", method: .get,
                    headers: f.headers("trust_executive")
                ) { response in
                    #expect(response.status == .ok)
                    let counter = ElementCounter()
                    let parser = XMLParser(data: Data(response.text.utf8))
                    parser.delegate = counter
                    #expect(parser.parse(), "the SVG parses as XML")
                    #expect(counter.schoolCircles == f.trustA.schools.count - 2)
                    #expect(counter.elements["svg", default: 0] >= 3, "the document and a panel each for primary and secondary")
                    #expect(response.text.contains("state-funded primary") && response.text.contains("state-funded secondary"))
                    #expect(response.text.contains("not compared") && response.text.contains("Pupils on roll"))
                }
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/funnel.svg?term=\(latestDemoTerm)&view=stacked", method: .get, headers: f.headers("trust_executive")
                ) { response in
                    #expect(response.status == .badRequest)
                }
            }
        }
    }

    /// Every school of every demo trust, both measures: its limits are scipy's exact binomial limits (to the API's
    /// five decimals), the method is stated, and its flag follows those limits.
    @Test func theDemoLimitsAreScipysExactBinomialLimits() async throws {
        try await withTestDatabase { db in
            let f = try await loadDemoWithReturns(db)
            try await withApp(db) { client in
                var rows: [[String: Any]] = []
                for (trust, who) in [(f.trustA.id, "trust_executive"), (f.trustB.id, "other_trust_executive")] {
                    for measure in ["sen_support", "ehc_plan"] {
                        let uri = "/v1/trusts/\(trust)/comparison?term=2025-26-spring&measure=\(measure)"
                        let body = try await client.execute(uri: uri, method: .get, headers: f.headers(who)) { try json($0) }
                        rows += try #require(body["schools"] as? [[String: Any]])
                    }
                }
                #expect(rows.count > 20)
                var cases: [[String: Any]] = []
                // The flag must hold across the published rate's rounding: lower limits at the bottom of its
                // range, upper limits at the top.
                var ends: [[String: Any]] = []
                for row in rows {
                    let n = try #require(row["pupils_on_roll"] as? Int)
                    let comparator = try #require(row["comparator"] as? [String: Any])
                    let p0 = try #require(comparator["rate"] as? Double)
                    for q in [0.001, 0.025, 0.975, 0.999] { cases.append(["n": n, "p0": p0, "q": q]) }
                    let range = try #require(comparator["rate_range"] as? [String: Double])
                    for (q, end) in [(0.001, "lower"), (0.025, "lower"), (0.975, "upper"), (0.999, "upper")] {
                        ends.append(["n": n, "p0": range[end]!, "q": q])
                    }
                }
                let reference = try await StatisticsReference.values("binomial_limit", cases)
                let robust = try await StatisticsReference.values("binomial_limit", ends)
                for (index, row) in rows.enumerated() {
                    #expect(row["limits_method"] as? String == "exact_binomial")
                    let l95 = try #require(row["limits_95"] as? [String: Double])
                    let l998 = try #require(row["limits_99_8"] as? [String: Double])
                    let mine = [l998["lower"]!, l95["lower"]!, l95["upper"]!, l998["upper"]!]
                    for (k, value) in mine.enumerated() {
                        #expect(abs(value - reference[index * 4 + k]) <= 0.000005 + 1e-12, "\(row["name"] ?? ""): \(value) vs \(reference[index * 4 + k])")
                    }
                    // The flag from the rate against scipy's limits (rates and limits as the API rounds them).
                    let rate = try #require(row["rate"] as? Double)
                    func flag(_ limits: [Double]) -> String {
                        rate > limits[3] ? "high_99_8" : rate > limits[2] ? "high_95" : rate < limits[0] ? "low_99_8" : rate < limits[1] ? "low_95" : "within"
                    }
                    let limits = robust[(index * 4)..<(index * 4 + 4)].map { (($0 * 100_000).rounded()) / 100_000 }
                    #expect(row["flag"] as? String == flag(limits), "\(row["name"] ?? "") at \(rate): \(limits)")
                    // Where the rounding weakened the flag, the flag at the published rate is given beside it.
                    let atRate = flag(reference[(index * 4)..<(index * 4 + 4)].map { (($0 * 100_000).rounded()) / 100_000 })
                    #expect((row["flag_at_rate"] as? String ?? row["flag"] as? String) == atRate)
                }
            }
        }
    }

    /// Every school's observed ÷ expected and its Poisson funnel limits, and each trust's standardised ratio with
    /// its exact interval, against scipy (to the API's five decimals), for both demo trusts and both measures.
    @Test func theDemoRatiosAreScipys() async throws {
        try await withTestDatabase { db in
            let f = try await loadDemoWithReturns(db)
            try await withApp(db) { client in
                for (trust, who) in [(f.trustA.id, "trust_executive"), (f.trustB.id, "other_trust_executive")] {
                    for measure in ["sen_support", "ehc_plan"] {
                        let uri = "/v1/trusts/\(trust)/comparison?term=2025-26-spring&measure=\(measure)"
                        let body = try await client.execute(uri: uri, method: .get, headers: f.headers(who)) { try json($0) }
                        let rows = try #require(body["schools"] as? [[String: Any]]) + (body["specialist_schools"] as? [[String: Any]] ?? [])
                        #expect(!rows.isEmpty)
                        var cases: [[String: Any]] = []
                        var observedTotal = 0
                        var expectedTotal = 0.0
                        for row in rows {
                            let n = Double(try #require(row["pupils_on_roll"] as? Int))
                            let p0 = try #require((row["comparator"] as? [String: Any])?["rate"] as? Double)
                            observedTotal += row["count"] as? Int ?? 0
                            expectedTotal += n * p0
                            for q in [0.001, 0.025, 0.975, 0.999] { cases.append(["mean": n * p0, "q": q]) }
                        }
                        let reference = try await StatisticsReference.values("poisson_limit", cases)
                        for (index, row) in rows.enumerated() {
                            let ratio = try #require(row["ratio"] as? [String: Any])
                            let e = (cases[index * 4]["mean"] as? Double) ?? 0
                            let count = Double(row["count"] as? Int ?? 0)
                            #expect(abs((ratio["ratio"] as? Double ?? -1) - count / e) <= 0.000005 + 1e-12)
                            let l95 = try #require(ratio["limits_95"] as? [String: Double])
                            let l998 = try #require(ratio["limits_99_8"] as? [String: Double])
                            let mine = [l998["lower"]!, l95["lower"]!, l95["upper"]!, l998["upper"]!]
                            for k in 0..<4 {
                                #expect(abs(mine[k] - reference[index * 4 + k] / e) <= 0.000005 + 1e-12, "\(row["name"] ?? "") \(k)")
                            }
                        }
                        let standardised = try #require(body["standardised"] as? [String: Any])
                        #expect(standardised["observed"] as? Int == observedTotal)
                        #expect(abs((standardised["expected"] as? Double ?? -1) - expectedTotal) <= 0.0005 + 1e-9)
                        let exact = try await StatisticsReference.values(
                            "poisson_exact", [["observed": observedTotal, "z": Statistics.z95], ["observed": observedTotal, "z": Statistics.z998]])
                        let i95 = try #require(standardised["interval_95"] as? [String: Double])
                        let i998 = try #require(standardised["interval_99_8"] as? [String: Double])
                        #expect(abs(i95["lower"]! - exact[0] / expectedTotal) <= 0.000005 + 1e-12)
                        #expect(abs(i95["upper"]! - exact[1] / expectedTotal) <= 0.000005 + 1e-12)
                        #expect(abs(i998["lower"]! - exact[2] / expectedTotal) <= 0.000005 + 1e-12)
                        #expect(abs(i998["upper"]! - exact[3] / expectedTotal) <= 0.000005 + 1e-12)
                        let verdict = exact[0] / expectedTotal > 1 ? "above" : exact[1] / expectedTotal < 1 ? "below" : "as_expected"
                        #expect(standardised["verdict"] as? String == verdict)
                    }
                }
            }
        }
    }

    /// A school's change on a year and its trend, and the trust's, as the benchmark and the comparison give them,
    /// against statsmodels with the counts of the returns themselves.
    @Test func changeOnAYearAndTrendAgreeWithStatsmodels() async throws {
        try await withTestDatabase { db in
            let f = try await loadDemoWithReturns(db)
            try await withApp(db) { client in
                let urn = f.trustA.schools[2].urn
                let benchmark = try await client.execute(uri: "/v1/schools/\(urn)/benchmark?term=2025-26-spring", method: .get, headers: f.headers("trust_executive")) { try json($0) }
                let rows = try await db.adminSQL(
                    "SELECT term, pupils_on_roll, sen_support, ehc_plan FROM sen_returns WHERE urn = \(urn) ORDER BY term")
                let byTerm = Dictionary(uniqueKeysWithValues: rows.map { ($0[0] ?? "", $0.dropFirst().map { Int($0 ?? "") ?? 0 }) })
                let now = try #require(byTerm["2025-26-spring"]), then = try #require(byTerm["2024-25-spring"])
                for (index, measure) in ["sen_support", "ehc_plan"].enumerated() {
                    let m = try #require(benchmark[measure] as? [String: Any])
                    let change = try #require(m["change"] as? [String: Any])
                    #expect(change["from_term"] as? String == "2024-25-spring")
                    let reference = try await StatisticsReference.values("newcombe", [["x1": now[index + 1], "n1": now[0], "x2": then[index + 1], "n2": then[0]]])
                    let interval = try #require(change["interval_95_pp"] as? [String: Double])
                    #expect(abs(interval["lower"]! - reference[0] * 100) <= 0.005 + 1e-9 && abs(interval["upper"]! - reference[1] * 100) <= 0.005 + 1e-9)
                    #expect(change["significant"] as? Bool == (reference[0] > 0 || reference[1] < 0))
                    let trend = try #require(m["trend_test"] as? [String: Any])
                    let points = (benchmark["trend"] as? [[String: Any]] ?? []).map { point -> Any in
                        guard let counts = byTerm[point["term"] as? String ?? ""] else { return NSNull() }
                        return [counts[index + 1], counts[0]]
                    }
                    let expected = try await StatisticsReference.values("trend", [["points": points]])
                    #expect(abs((trend["chi_square"] as? Double ?? -1) - (expected[0] * 1000).rounded() / 1000) < 1e-9)
                    #expect(trend["terms"] as? Int == points.filter { !($0 is NSNull) }.count)
                }
                // The comparison: each school's change, and the trust's pooled change and trend.
                let comparison = try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/comparison?term=2025-26-spring", method: .get, headers: f.headers("trust_executive")) { try json($0) }
                let schools = try #require(comparison["schools"] as? [[String: Any]])
                #expect(schools.allSatisfy { ($0["change"] as? [String: Any])?["from_term"] as? String == "2024-25-spring" })
                let pooled = try #require(comparison["pooled_change"] as? [String: Any])
                let lastYear = try await db.adminSQL(
                    "SELECT sum(pupils_on_roll), sum(sen_support) FROM sen_returns WHERE trust_id = '\(f.trustA.id)' AND term = '2024-25-spring'")
                let pooledNow = try #require(comparison["pooled"] as? [String: Double])
                let reference = try await StatisticsReference.values("newcombe", [[
                    "x1": Int(pooledNow["count"]!), "n1": Int(pooledNow["pupils_on_roll"]!), "x2": Int(lastYear[0][1] ?? "") ?? 0,
                    "n2": Int(lastYear[0][0] ?? "") ?? 0,
                ]])
                let interval = try #require(pooled["interval_95_pp"] as? [String: Double])
                #expect(abs(interval["lower"]! - reference[0] * 100) <= 0.005 + 1e-9)
                // Nine terms back from 2025-26 spring reach 2022-23 summer; the demo's returns start in 2023-24 autumn.
                #expect((comparison["pooled_trend_test"] as? [String: Any])?["terms"] as? Int == 8)
            }
        }
    }

    /// A school leader learns the other schools' part of the trust's need profile only where it is at least 10
    /// pupils, never with exactly one need hidden, rounded to 5; the trust executive sees it all.
    @Test func aSchoolLeaderSeesNoSmallCountsOfOtherSchools() async throws {
        try await withTestDatabase { db in
            let f = try await loadDemoWithReturns(db)
            try await withApp(db) { client in
                let uri = "/v1/schools/\(f.ownSchool.urn)/benchmark?term=2025-26-spring"
                func profile(_ who: String) async throws -> [String: Any] {
                    try await client.execute(uri: uri, method: .get, headers: f.headers(who)) { response in
                        #expect(response.status == .ok)
                        return try #require(try json(response)["need_profile"] as? [String: Any])
                    }
                }
                let full = try await profile("trust_executive")
                let leader = try await profile("school_leader")
                var suppressed = 0
                for provision in ["sen_support", "ehc_plan"] {
                    let raw = try #require(full[provision] as? [[String: Any]])
                    let shown = try #require(leader[provision] as? [[String: Any]])
                    #expect(raw.map { $0["need"] as? String } == shown.map { $0["need"] as? String })
                    var hidden = 0
                    for (r, s) in zip(raw, shown) {
                        let trust = try #require(r["trust_count"] as? Int)
                        let own = try #require(r["count"] as? Int)
                        #expect(s["count"] as? Int == own, "their own school's counts are theirs")
                        if let count = s["trust_count"] as? Int {
                            #expect(trust - own >= 10, "\(provision) \(r["need"] ?? ""): other schools hold \(trust - own)")
                            #expect(count % 5 == 0 && abs(count - trust) <= 2)
                            #expect(s["trust_suppressed"] as? Bool == false)
                        } else {
                            #expect(s["trust_count"] is NSNull && s["trust_share"] is NSNull)
                            #expect(s["trust_suppressed"] as? Bool == true)
                            hidden += 1
                        }
                    }
                    #expect(hidden != 1, "\(provision): a lone hidden need is the pool less the shown ones")
                    suppressed += hidden
                }
                #expect(suppressed > 0, "the demo trust has needs with fewer than 10 pupils in other schools")
            }
        }
    }

    /// The need mix against the nation: DfE's shares as shipped (January 2022, counts over the provision's total),
    /// the school's Wilson interval as statsmodels gives it, and the verdict from the two; a later DfE file of
    /// needs, imported by the national importer, replaces them.
    @Test func theNeedMixIsComparedWithTheNation() async throws {
        try await withTestDatabase { db in
            let f = try await loadDemoWithReturns(db)
            try await withApp(db) { client in
                let uri = "/v1/schools/990103/benchmark?term=2025-26-spring"
                let body = try await client.execute(uri: uri, method: .get, headers: f.headers("trust_executive")) { try json($0) }
                let profile = try #require(body["need_profile"] as? [String: Any])
                #expect(profile["national_census_year"] as? Int == 2022)
                #expect((profile["national_note"] as? String)?.contains("January 2022") == true)
                #expect((profile["national"] as? String)?.contains("Open Government Licence") == true)
                let ehc = try #require(profile["ehc_plan"] as? [[String: Any]])
                let asd = try #require(ehc.first { $0["need"] as? String == "ASD" })
                #expect(asd["national_share"] as? Double == ((103_430.0 / 330_450 * 100_000).rounded() / 100_000))
                var cases: [[String: Any]] = []
                var rows: [[String: Any]] = []
                for provision in ["sen_support", "ehc_plan"] {
                    let shares = try #require(profile[provision] as? [[String: Any]])
                    let total = shares.map { $0["count"] as? Int ?? 0 }.reduce(0, +)
                    for share in shares {
                        cases.append(["count": share["count"] as? Int ?? 0, "n": total, "z": 1.959963984540054])
                        rows.append(share)
                    }
                }
                let reference = try await StatisticsReference.values("wilson", cases)
                var verdicts: Set<String> = []
                for (index, row) in rows.enumerated() {
                    let interval = try #require(row["wilson_95"] as? [String: Double])
                    #expect(abs(interval["lower"]! - reference[index * 2]) <= 0.000005 + 1e-12)
                    #expect(abs(interval["upper"]! - reference[index * 2 + 1]) <= 0.000005 + 1e-12)
                    let national = try #require(row["national_share"] as? Double)
                    let verdict = national < reference[index * 2] ? "higher" : national > reference[index * 2 + 1] ? "lower" : "similar"
                    #expect(row["vs_national"] as? String == verdict, "\(row["need"] ?? "")")
                    #expect(["higher", "lower", "similar"].contains(row["vs_trust"] as? String ?? ""))
                    verdicts.insert(verdict)
                }
                #expect(verdicts.contains("similar"))

                // A DfE file of needs for January 2025 (labels, time_period): imported, then used.
                let file = """
                    time_period,time_identifier,geographic_level,country_name,phase_type_grouping,sen_provision,sen_primary_need,pupil_count,pupil_percent
                    202425,Academic year,National,England,Total,EHC plan,Autistic Spectrum Disorder,150000,30.0
                    202425,Academic year,National,England,Total,EHC plan,Total,500000,100
                    202425,Academic year,National,England,Total,SEN support,Speech language and communication needs,300000,25.0
                    """
                try await client.execute(uri: "/v1/admin/national-imports", method: .post, headers: f.headers("admin"), body: ByteBuffer(string: file)) { response in
                    #expect(response.status == .ok)
                    let result = try json(response)
                    #expect(result["kind"] as? String == "primary_need" && result["rates"] as? Int == 2 && result["new"] as? Int == 2)
                }
                let after = try await client.execute(uri: uri, method: .get, headers: f.headers("trust_executive")) { try json($0) }
                let newProfile = try #require(after["need_profile"] as? [String: Any])
                #expect(newProfile["national_census_year"] as? Int == 2025)
                let newASD = try #require((newProfile["ehc_plan"] as? [[String: Any]])?.first { $0["need"] as? String == "ASD" })
                #expect(newASD["national_share"] as? Double == 0.3, "150,000 of the 500,000 in the file's total row")
                let mld = try #require((newProfile["ehc_plan"] as? [[String: Any]])?.first { $0["need"] as? String == "MLD" })
                #expect(mld["national_share"] is NSNull && mld["vs_national"] is NSNull, "a need the file does not give has no national share")
            }
        }
    }

    @Test func oneSchoolsBenchmarkAtEachLevel() async throws {
        try await withTestDatabase { db in
            let f = try await loadDemoWithReturns(db)
            try await withApp(db) { client in
                var rates: [String: Double] = [:]
                for level in ["national", "regional", "la"] {
                    try await client.execute(
                        uri: "/v1/schools/990103/benchmark?term=2025-26-spring&comparator=\(level)", method: .get,
                        headers: f.headers("trust_executive")
                    ) { response in
                        #expect(response.status == .ok, "\(level)")
                        let body = try json(response)
                        let support = try #require(body["sen_support"] as? [String: Any])
                        let comparator = try #require(support["comparator"] as? [String: Any])
                        rates[level] = comparator["rate"] as? Double
                        #expect(support["flag"] as? String == "high_99_8")
                        #expect(body["ehc_plan"] is [String: Any])
                        let trend = try #require(body["trend"] as? [[String: Any]])
                        #expect(trend.count == 9)
                        #expect(trend.last?["term"] as? String == "2025-26-spring")
                        let profile = try #require(body["need_profile"] as? [String: Any])
                        #expect(profile["term"] as? String == "2025-26-spring")
                        let shares = try #require(profile["sen_support"] as? [[String: Any]])
                        let total = shares.compactMap { $0["share"] as? Double }.reduce(0, +)
                        #expect(abs(total - 1) < 0.001)
                    }
                }
                // Bradford (LA 380) and Yorkshire and the Humber, state-funded primary, January 2025.
                #expect(rates == ["national": 0.148, "regional": 0.154, "la": 0.144])
                try await client.execute(uri: "/v1/schools/990104/benchmark?term=\(latestDemoTerm)", method: .get, headers: f.headers("trust_executive")) {
                    #expect($0.status == .notFound, "no return in the latest term")
                }
                try await client.execute(uri: "/v1/schools/990101/benchmark?term=\(latestDemoTerm)", method: .get, headers: f.headers("school_leader")) {
                    #expect($0.status == .ok)
                }
                try await client.execute(uri: "/v1/schools/990102/benchmark?term=\(latestDemoTerm)", method: .get, headers: f.headers("school_leader")) {
                    #expect($0.status == .notFound)
                }
                try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)", method: .get, headers: f.headers("other_trust_executive")) {
                    #expect($0.status == .notFound)
                }
                try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)", method: .get, headers: f.headers("researcher")) {
                    #expect($0.status == .forbidden)
                }
                try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)&comparator=planet", method: .get, headers: f.headers("trust_executive")) {
                    #expect($0.status == .badRequest)
                }
            }
        }
    }

    @Test func aNewDfEReleaseExtendsTheSeriesOnceAndIsUsed() async throws {
        try await withTestDatabase { db in
            let f = try await loadDemoWithReturns(db)
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/sen_phase_type_202526.csv")
            let file = try Data(contentsOf: url)
            try await withApp(db) { client in
                for expectedNew in [true, false] {
                    try await client.execute(uri: "/v1/admin/national-imports", method: .post, headers: f.headers("admin"), body: ByteBuffer(bytes: file)) { response in
                        #expect(response.status == .ok)
                        let body = try json(response)
                        #expect((body["new"] as? Int ?? 0 > 0) == expectedNew)
                        #expect((body["unchanged"] as? Int ?? 0 > 0) == !expectedNew)
                        #expect(body["changed"] as? Int == 0)
                        #expect((body["rejections"] as? [Any])?.count == 1, "Atlantis is not an English region")
                    }
                }
                try await client.execute(uri: "/v1/admin/national-imports", method: .post, headers: f.headers("trust_executive"), body: ByteBuffer(bytes: file)) {
                    #expect($0.status == .forbidden)
                }
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)", method: .get, headers: f.headers("trust_executive")
                ) { response in
                    let body = try json(response)
                    let schools = try #require(body["schools"] as? [[String: Any]])
                    let primary = try #require(schools.first { $0["urn"] as? Int == 990_101 }?["comparator"] as? [String: Any])
                    #expect(primary["census_year"] as? Int == 2026)
                    // From the file's counts (670,000 of 4,500,000), not its rounded 14.9%.
                    #expect(primary["rate"] as? Double == ((670_000.0 / 4_500_000 * 100_000).rounded() / 100_000))
                    #expect(primary["rate_basis"] as? String == "dfe_counts" && primary["published_percent"] as? Double == 14.9)
                    #expect(primary["rate_range"] == nil)
                    #expect(primary["note"] == nil)
                    // SEN support in special schools is suppressed (c) in the file: still not compared.
                    let notCompared = try #require(body["not_compared"] as? [[String: Any]])
                    #expect(notCompared.map { $0["urn"] as? Int } == [990_107])
                }
                // EHC plans in special schools are published: the special school is compared with them, apart.
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)&measure=ehc_plan", method: .get, headers: f.headers("trust_executive")
                ) { response in
                    let body = try json(response)
                    let specialist = try #require(body["specialist_schools"] as? [[String: Any]])
                    let special = try #require(specialist.first { $0["urn"] as? Int == 990_107 })
                    let comparator = try #require(special["comparator"] as? [String: Any])
                    #expect(comparator["phase"] as? String == "special" && comparator["setting"] as? String == "special")
                    #expect(comparator["rate"] as? Double == 0.9375, "150,000 of 160,000")
                    #expect(special["setting"] as? String == "special")
                    #expect((body["not_compared"] as? [Any])?.isEmpty == true)
                    let schools = try #require(body["schools"] as? [[String: Any]])
                    #expect(!schools.contains { $0["urn"] as? Int == 990_107 })
                    #expect((body["overdispersion"] as? [String: Any])?["schools"] as? Int == schools.count, "mainstream dispersion leaves it out")
                    #expect((body["specialist_overdispersion"] as? [String: Any])?["schools"] as? Int == 1)
                    let standardised = try #require(body["standardised"] as? [String: Any])
                    #expect(standardised["schools"] as? Int == schools.count + 1)
                }
                // The same special school's own benchmark uses its own kind's rate.
                try await client.execute(
                    uri: "/v1/schools/990107/benchmark?term=\(latestDemoTerm)", method: .get, headers: f.headers("trust_executive")
                ) { response in
                    #expect(response.status == .notFound, "SEN support has no special-school rate in the file")
                    #expect(response.text.contains("state-funded special schools"))
                }
            }
            let symbol = try await db.adminSQL("SELECT percent, symbol FROM national_rates WHERE census_year = 2026 AND area_code = 350 AND provision = 'sen_support'")
            #expect(symbol == [[nil, "z"]])
        }
    }
}

final class ElementCounter: NSObject, XMLParserDelegate {
    var elements: [String: Int] = [:]
    var schoolCircles = 0

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        elements[name, default: 0] += 1
        if name == "circle" && attributes["class"] == "school" { schoolCircles += 1 }
    }
}
