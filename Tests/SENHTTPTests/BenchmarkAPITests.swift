import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SENAPI
import SENCore
import SENHTTP
import SENStore
import SENTestSupport
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

let latestDemoTerm = "2025-26-summer"

@Suite struct BenchmarkAPITests {
    @Test func theComparisonFlagsThePlantedOutliersAndNotTheOrdinarySchools() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.withReturns(db)
            try await withApp(db) { client in
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)&measure=sen_support", method: .get,
                    headers: f.headers("trust_executive")
                ) { response in
                    #expect(response.status == .ok)
                    let body = try response.decode(Comparison.self)
                    let schools = body.schools
                    func flag(_ urn: Int) -> String? { schools.first { $0.urn == urn }?.flag }
                    #expect(flag(990_103) == "high_99_8", "Heaton Brook Primary is planted far above")
                    #expect(flag(990_105) == "low_99_8", "Pennine High School is planted far below")
                    for ordinary in [990_101, 990_102, 990_106] {
                        #expect(flag(ordinary) == "within", "\(ordinary)")
                    }
                    #expect(body.missing.map(\.urn) == [990_104])
                    let heaton = try #require(schools.first { $0.urn == 990_103 })
                    let comparator = heaton.comparator
                    #expect(comparator.phase == "state_funded_primary")
                    #expect(comparator.censusYear == 2025)
                    #expect(comparator.requestedCensusYear == 2026)
                    #expect(comparator.note?.contains("2026 is not published") == true)
                    #expect(comparator.rate == 0.148)
                    #expect(comparator.source.contains("Open Government Licence"))
                    // A published 14.8% stands for 14.75-14.85%: the answer says so.
                    #expect(comparator.rateBasis == "published_percent" && comparator.publishedPercent == 14.8)
                    #expect(comparator.rateRange == Interval(lower: 0.1475, upper: 0.1485))
                    #expect(comparator.setting == "mainstream" && heaton.setting == "mainstream")
                    // The special school is not compared with all schools: no rate of its kind is shipped, so it is
                    // shown apart with the reason, and it is in neither the mainstream rows nor their dispersion.
                    #expect(schools.first { $0.urn == 990_107 } == nil)
                    #expect(body.specialistSchools.isEmpty)
                    let special = try #require(body.notCompared.first { $0.urn == 990_107 })
                    #expect(special.setting == "special")
                    #expect(special.reason.contains("sen_phase_type"))
                    // The trust's pooled rate still counts every school with a return.
                    let counts = schools.map(\.count).reduce(0, +) + body.notCompared.map(\.count).reduce(0, +)
                    #expect(body.pooled["count"] == Double(counts))
                    // Its standardised ratio: observed over expected of the compared schools, each with its own rate.
                    let standardised = try #require(body.standardised)
                    #expect(standardised.observed == schools.map(\.count).reduce(0, +) && standardised.schools == schools.count)
                    for row in schools {
                        let expected = Double(row.pupilsOnRoll) * row.comparator.rate
                        #expect(abs(row.ratio.expected - expected) < 0.0006, "expected = pupils × the comparator's rate")
                    }
                    // Six schools: too few to estimate over-dispersion (one school would decide it), and the answer
                    // says so instead of giving a φ.
                    let od = try #require(body.overdispersion)
                    #expect(od.phi == nil && od.tau2 == nil && !od.overdispersed)
                    #expect(od.schools == schools.count && od.note?.contains("\(schools.count) schools") == true)
                    #expect(heaton.flags.keys.sorted() == ["phi", "tau2", "unadjusted"])
                    #expect(heaton.flagLimits == "unadjusted")
                }
            }
        }
    }

    @Test func csvAndJSONAgree() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.withReturns(db)
            try await withApp(db) { client in
                let uri = "/v1/trusts/\(f.trustB.id)/comparison?term=\(latestDemoTerm)&measure=ehc_plan&comparator=regional"
                let body = try await client.execute(uri: uri, method: .get, headers: f.headers("other_trust_executive")) {
                    try $0.decode(Comparison.self)
                }
                var headers = f.headers("other_trust_executive")
                headers[.accept] = "text/csv"
                let csv = try await client.execute(uri: uri, method: .get, headers: headers) { response in
                    #expect(response.headers[.contentType]?.hasPrefix("text/csv") == true)
                    return response.text
                }
                let lines = csv.split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
                let header = try #require(lines.first)
                let schools = body.schools
                let returned = lines.dropFirst().filter { $0[header.firstIndex(of: "status")!] == "returned" }
                #expect(returned.count == schools.count)
                for row in returned {
                    let urn = Int(row[0])!
                    let school = try #require(schools.first { $0.urn == urn })
                    #expect(Double(row[header.firstIndex(of: "rate")!]) == school.rate)
                    #expect(row[header.firstIndex(of: "flag")!] == school.flag)
                    #expect(Double(row[header.firstIndex(of: "comparator_rate")!]) == school.comparator.rate)
                    #expect(row[header.firstIndex(of: "comparator_level")!] == "regional")
                    // Differences and z below zero are numbers a spreadsheet reads, not escaped text.
                    for column in ["difference_pp", "z"] where header.contains(column) {
                        let cell = row[header.firstIndex(of: column)!]
                        #expect(cell.isEmpty || Double(cell) != nil, "\(column): \(cell)")
                    }
                }
                #expect(csv.contains(",-"), "the demo has schools below their comparator")
                #expect(!csv.contains(",'-"), "no number is escaped as a formula")
                #expect(lines.count - 1 == schools.count + body.missing.count)
            }
        }
    }

    @Test func theFunnelIsWellFormedSVGWithOnePointPerSchool() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.withReturns(db)
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
                    #expect(counter.schoolMarks == f.trustA.schools.count - 2, "one point per compared mainstream school")
                    #expect(counter.schoolTriangles >= 2, "the demo's outliers are drawn as triangles, not by colour alone")
                    #expect(counter.otherPaths == 4, "95% and 99.8% limits around 1, above and below")
                    #expect(!response.text.contains("<a "), "the API's SVG stands alone: no links")
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
                    #expect(counter.schoolMarks == f.trustA.schools.count - 2)
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
            let f = try await Fixture.withReturns(db)
            try await withApp(db) { client in
                var rows: [ComparisonRow] = []
                for (trust, who) in [(f.trustA.id, "trust_executive"), (f.trustB.id, "other_trust_executive")] {
                    for measure in ["sen_support", "ehc_plan"] {
                        let uri = "/v1/trusts/\(trust)/comparison?term=2025-26-spring&measure=\(measure)"
                        rows += try await client.execute(uri: uri, method: .get, headers: f.headers(who)) { try $0.decode(Comparison.self).schools }
                    }
                }
                #expect(rows.count > 20)
                var cases: [[String: Any]] = []
                // The flag must hold across the published rate's rounding: lower limits at the bottom of its
                // range, upper limits at the top.
                var ends: [[String: Any]] = []
                for row in rows {
                    let n = row.pupilsOnRoll
                    for q in [0.001, 0.025, 0.975, 0.999] { cases.append(["n": n, "p0": row.comparator.rate, "q": q]) }
                    let range = try #require(row.comparator.rateRange)
                    for (q, end) in [(0.001, range.lower), (0.025, range.lower), (0.975, range.upper), (0.999, range.upper)] {
                        ends.append(["n": n, "p0": end, "q": q])
                    }
                }
                let reference = try await StatisticsReference.values("binomial_limit", cases)
                let robust = try await StatisticsReference.values("binomial_limit", ends)
                for (index, row) in rows.enumerated() {
                    #expect(row.limitsMethod == "exact_binomial")
                    let mine = [row.limits998.lower, row.limits95.lower, row.limits95.upper, row.limits998.upper]
                    for (k, value) in mine.enumerated() {
                        #expect(abs(value - reference[index * 4 + k]) <= 0.000005 + 1e-12, "\(row.name): \(value) vs \(reference[index * 4 + k])")
                    }
                    // The flag from the rate against scipy's limits (rates and limits as the API rounds them).
                    let rate = row.rate
                    func flag(_ limits: [Double]) -> String {
                        rate > limits[3] ? "high_99_8" : rate > limits[2] ? "high_95" : rate < limits[0] ? "low_99_8" : rate < limits[1] ? "low_95" : "within"
                    }
                    let limits = robust[(index * 4)..<(index * 4 + 4)].map { (($0 * 100_000).rounded()) / 100_000 }
                    #expect(row.flag == flag(limits), "\(row.name) at \(rate): \(limits)")
                    // Where the rounding weakened the flag, the flag at the published rate is given beside it.
                    let atRate = flag(reference[(index * 4)..<(index * 4 + 4)].map { (($0 * 100_000).rounded()) / 100_000 })
                    #expect((row.flagAtRate ?? row.flag) == atRate)
                }
            }
        }
    }

    /// Every school's observed ÷ expected and its Poisson funnel limits, and each trust's standardised ratio with
    /// its exact interval, against scipy (to the API's five decimals), for both demo trusts and both measures.
    @Test func theDemoRatiosAreScipys() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.withReturns(db)
            try await withApp(db) { client in
                for (trust, who) in [(f.trustA.id, "trust_executive"), (f.trustB.id, "other_trust_executive")] {
                    for measure in ["sen_support", "ehc_plan"] {
                        let uri = "/v1/trusts/\(trust)/comparison?term=2025-26-spring&measure=\(measure)"
                        let body = try await client.execute(uri: uri, method: .get, headers: f.headers(who)) { try $0.decode(Comparison.self) }
                        let rows = body.schools + body.specialistSchools
                        #expect(!rows.isEmpty)
                        var cases: [[String: Any]] = []
                        var observedTotal = 0
                        var expectedTotal = 0.0
                        for row in rows {
                            let n = Double(row.pupilsOnRoll)
                            let p0 = row.comparator.rate
                            observedTotal += row.count
                            expectedTotal += n * p0
                            for q in [0.001, 0.025, 0.975, 0.999] { cases.append(["mean": n * p0, "q": q]) }
                        }
                        let reference = try await StatisticsReference.values("poisson_limit", cases)
                        for (index, row) in rows.enumerated() {
                            let ratio = row.ratio
                            let e = (cases[index * 4]["mean"] as? Double) ?? 0
                            #expect(abs(ratio.ratio - Double(row.count) / e) <= 0.000005 + 1e-12)
                            let mine = [ratio.limits998.lower, ratio.limits95.lower, ratio.limits95.upper, ratio.limits998.upper]
                            for k in 0..<4 {
                                #expect(abs(mine[k] - reference[index * 4 + k] / e) <= 0.000005 + 1e-12, "\(row.name) \(k)")
                            }
                        }
                        let standardised = try #require(body.standardised)
                        #expect(standardised.observed == observedTotal)
                        #expect(abs(standardised.expected - expectedTotal) <= 0.0005 + 1e-9)
                        let exact = try await StatisticsReference.values(
                            "poisson_exact", [["observed": observedTotal, "z": Statistics.z95], ["observed": observedTotal, "z": Statistics.z998]])
                        let (i95, i998) = (standardised.interval95, standardised.interval998)
                        #expect(abs(i95.lower - exact[0] / expectedTotal) <= 0.000005 + 1e-12)
                        #expect(abs(i95.upper - exact[1] / expectedTotal) <= 0.000005 + 1e-12)
                        #expect(abs(i998.lower - exact[2] / expectedTotal) <= 0.000005 + 1e-12)
                        #expect(abs(i998.upper - exact[3] / expectedTotal) <= 0.000005 + 1e-12)
                        let verdict = exact[0] / expectedTotal > 1 ? "above" : exact[1] / expectedTotal < 1 ? "below" : "as_expected"
                        #expect(standardised.verdict == verdict)
                    }
                }
            }
        }
    }

    /// A school's change on a year and its trend, and the trust's, as the benchmark and the comparison give them,
    /// against statsmodels with the counts of the returns themselves.
    @Test func changeOnAYearAndTrendAgreeWithStatsmodels() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.withReturns(db)
            try await withApp(db) { client in
                let urn = f.trustA.schools[2].urn
                let benchmark = try await client.execute(uri: "/v1/schools/\(urn)/benchmark?term=2025-26-spring", method: .get, headers: f.headers("trust_executive")) {
                    try $0.decode(SchoolBenchmark.self)
                }
                let rows = try await db.adminSQL(
                    "SELECT term, pupils_on_roll, sen_support, ehc_plan FROM sen_returns WHERE urn = \(urn) ORDER BY term")
                let byTerm = Dictionary(uniqueKeysWithValues: rows.map { ($0[0] ?? "", $0.dropFirst().map { Int($0 ?? "") ?? 0 }) })
                let now = try #require(byTerm["2025-26-spring"]), then = try #require(byTerm["2024-25-spring"])
                for (index, m) in [benchmark.senSupport, benchmark.ehcPlan].enumerated() {
                    let change = try #require(m.change)
                    #expect(change.fromTerm == "2024-25-spring")
                    let reference = try await StatisticsReference.values("newcombe", [["x1": now[index + 1], "n1": now[0], "x2": then[index + 1], "n2": then[0]]])
                    let interval = change.interval95PP
                    #expect(abs(interval.lower - reference[0] * 100) <= 0.005 + 1e-9 && abs(interval.upper - reference[1] * 100) <= 0.005 + 1e-9)
                    #expect(change.significant == (reference[0] > 0 || reference[1] < 0))
                    let trend = try #require(m.trendTest)
                    let points = benchmark.trend.map { point -> Any in
                        guard let counts = byTerm[point.term] else { return NSNull() }
                        return [counts[index + 1], counts[0]]
                    }
                    let expected = try await StatisticsReference.values("trend", [["points": points]])
                    #expect(abs(trend.chiSquare - (expected[0] * 1000).rounded() / 1000) < 1e-9)
                    #expect(trend.terms == points.filter { !($0 is NSNull) }.count)
                }
                // The comparison: each school's change, and the trust's pooled change and trend.
                let comparison = try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/comparison?term=2025-26-spring", method: .get, headers: f.headers("trust_executive")) {
                        try $0.decode(Comparison.self)
                    }
                #expect(comparison.schools.allSatisfy { $0.change?.fromTerm == "2024-25-spring" })
                let pooled = try #require(comparison.pooledChange)
                let lastYear = try await db.adminSQL(
                    "SELECT sum(pupils_on_roll), sum(sen_support) FROM sen_returns WHERE trust_id = '\(f.trustA.id)' AND term = '2024-25-spring'")
                let pooledNow = comparison.pooled
                let reference = try await StatisticsReference.values("newcombe", [[
                    "x1": Int(pooledNow["count"]!), "n1": Int(pooledNow["pupils_on_roll"]!), "x2": Int(lastYear[0][1] ?? "") ?? 0,
                    "n2": Int(lastYear[0][0] ?? "") ?? 0,
                ]])
                #expect(abs(pooled.interval95PP.lower - reference[0] * 100) <= 0.005 + 1e-9)
                // Nine terms back from 2025-26 spring reach 2022-23 summer; the demo's returns start in 2023-24 autumn.
                #expect(comparison.pooledTrendTest?.terms == 8)
            }
        }
    }

    /// A school leader learns the other schools' part of the trust's need profile only where it is at least 10
    /// pupils, never with exactly one need hidden, rounded to 5; the trust executive sees it all.
    @Test func aSchoolLeaderSeesNoSmallCountsOfOtherSchools() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.withReturns(db)
            try await withApp(db) { client in
                let uri = "/v1/schools/\(f.ownSchool.urn)/benchmark?term=2025-26-spring"
                func profile(_ who: String) async throws -> NeedProfile {
                    try await client.execute(uri: uri, method: .get, headers: f.headers(who)) { response in
                        #expect(response.status == .ok)
                        return try #require(try response.decode(SchoolBenchmark.self).needProfile)
                    }
                }
                let full = try await profile("trust_executive")
                let leader = try await profile("school_leader")
                // A hidden share is written as null, not left out.
                let leaderText = try await client.execute(uri: uri, method: .get, headers: f.headers("school_leader")) { $0.text }
                #expect(leaderText.contains(#""trust_count":null"#) && leaderText.contains(#""trust_share":null"#))
                var suppressed = 0
                for (provision, raw, shown) in [("sen_support", full.senSupport, leader.senSupport), ("ehc_plan", full.ehcPlan, leader.ehcPlan)] {
                    #expect(raw.map(\.need) == shown.map(\.need))
                    var hidden = 0
                    for (r, s) in zip(raw, shown) {
                        let trust = try #require(r.trustCount)
                        let own = r.count
                        #expect(s.count == own, "their own school's counts are theirs")
                        if let count = s.trustCount {
                            #expect(trust - own >= 10, "\(provision) \(r.need): other schools hold \(trust - own)")
                            #expect(count % 5 == 0 && abs(count - trust) <= 2)
                            #expect(!s.trustSuppressed)
                        } else {
                            #expect(s.trustShare == nil)
                            #expect(s.trustSuppressed)
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
            let f = try await Fixture.withReturns(db)
            try await withApp(db) { client in
                let uri = "/v1/schools/990103/benchmark?term=2025-26-spring"
                let body = try await client.execute(uri: uri, method: .get, headers: f.headers("trust_executive")) {
                    try $0.decode(SchoolBenchmark.self)
                }
                let profile = try #require(body.needProfile)
                #expect(profile.nationalCensusYear == 2022)
                #expect(profile.nationalNote.contains("January 2022"))
                #expect(profile.national?.contains("Open Government Licence") == true)
                let asd = try #require(profile.ehcPlan.first { $0.need == "ASD" })
                #expect(asd.nationalShare == ((103_430.0 / 330_450 * 100_000).rounded() / 100_000))
                var cases: [[String: Any]] = []
                var rows: [NeedShare] = []
                for shares in [profile.senSupport, profile.ehcPlan] {
                    let total = shares.map(\.count).reduce(0, +)
                    for share in shares {
                        cases.append(["count": share.count, "n": total, "z": 1.959963984540054])
                        rows.append(share)
                    }
                }
                let reference = try await StatisticsReference.values("wilson", cases)
                var verdicts: Set<String> = []
                for (index, row) in rows.enumerated() {
                    #expect(abs(row.wilson95.lower - reference[index * 2]) <= 0.000005 + 1e-12)
                    #expect(abs(row.wilson95.upper - reference[index * 2 + 1]) <= 0.000005 + 1e-12)
                    let national = try #require(row.nationalShare)
                    let verdict = national < reference[index * 2] ? "higher" : national > reference[index * 2 + 1] ? "lower" : "similar"
                    #expect(row.vsNational == verdict, "\(row.need)")
                    #expect(["higher", "lower", "similar"].contains(row.vsTrust ?? ""))
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
                    let result = try response.decode(NationalImportResult.self)
                    #expect(result.kind == "primary_need" && result.rates == 2 && result.new == 2)
                }
                let after = try await client.execute(uri: uri, method: .get, headers: f.headers("trust_executive")) {
                    try $0.decode(SchoolBenchmark.self)
                }
                let newProfile = try #require(after.needProfile)
                #expect(newProfile.nationalCensusYear == 2025)
                let newASD = try #require(newProfile.ehcPlan.first { $0.need == "ASD" })
                #expect(newASD.nationalShare == 0.3, "150,000 of the 500,000 in the file's total row")
                let mld = try #require(newProfile.ehcPlan.first { $0.need == "MLD" })
                #expect(mld.nationalShare == nil && mld.vsNational == nil, "a need the file does not give has no national share")
            }
        }
    }

    @Test func oneSchoolsBenchmarkAtEachLevel() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.withReturns(db)
            try await withApp(db) { client in
                var rates: [String: Double] = [:]
                for level in ["national", "regional", "la"] {
                    try await client.execute(
                        uri: "/v1/schools/990103/benchmark?term=2025-26-spring&comparator=\(level)", method: .get,
                        headers: f.headers("trust_executive")
                    ) { response in
                        #expect(response.status == .ok, "\(level)")
                        let body = try response.decode(SchoolBenchmark.self)
                        rates[level] = body.senSupport.comparator.rate
                        #expect(body.senSupport.flag == "high_99_8")
                        #expect(body.ehcPlan.comparator.level == body.senSupport.comparator.level && body.ehcPlan.pupilsOnRoll == body.senSupport.pupilsOnRoll)
                        #expect(body.trend.count == 9)
                        #expect(body.trend.last?.term == "2025-26-spring")
                        let profile = try #require(body.needProfile)
                        #expect(profile.term == "2025-26-spring")
                        #expect(abs(profile.senSupport.map(\.share).reduce(0, +) - 1) < 0.001)
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

    /// The server keeps computed comparisons (`ComparisonMemo`) but reads the figures at every request: a change
    /// made by anyone, even straight into PostgreSQL behind the server's back, shows in the very next answer.
    @Test func aKeptComparisonNeverOutlivesAChangeToItsFigures() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.withReturns(db)
            try await withApp(db) { client in
                func comparison(measure: String = "sen_support") async throws -> Comparison {
                    try await client.execute(
                        uri: "/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)&measure=\(measure)", method: .get,
                        headers: f.headers("trust_executive")
                    ) { response in
                        #expect(response.status == .ok)
                        return try response.decode(Comparison.self)
                    }
                }
                let first = try await comparison()
                #expect(try await comparison() == first, "the same figures give the same answer")
                let before = try #require(first.schools.first { $0.urn == 990_101 })

                _ = try await db.adminSQL(
                    "UPDATE sen_returns SET pupils_on_roll = pupils_on_roll + 50, sen_support = sen_support + 3 WHERE urn = 990101 AND term = $1",
                    [latestDemoTerm])
                let changed = try await comparison()
                let after = try #require(changed.schools.first { $0.urn == 990_101 })
                #expect(after.count == before.count + 3 && after.pupilsOnRoll == before.pupilsOnRoll + 50)
                #expect(changed.pooled["count"] == first.pooled["count"]! + 3)
                #expect(changed.standardised?.observed == first.standardised!.observed + 3)

                _ = try await db.adminSQL("UPDATE schools SET name = 'Heaton Brook Renamed' WHERE urn = 990101")
                #expect(try await comparison().schools.contains { $0.urn == 990_101 && $0.name == "Heaton Brook Renamed" })

                let lastYear = try #require(AcademicTerm(latestDemoTerm)?.sameTermLastYear?.description)
                _ = try await db.adminSQL("UPDATE sen_returns SET sen_support = sen_support + 1 WHERE urn = 990101 AND term = $1", [lastYear])
                let earlier = try #require(try await comparison().schools.first { $0.urn == 990_101 }?.change?.fromRate)
                #expect(earlier != after.change?.fromRate, "last year's figure is read again too")

                // The other measure is another key, computed from the same fresh figures.
                #expect(try await comparison(measure: "ehc_plan").measure == "ehc_plan")
            }
        }
    }

    @Test func aNewDfEReleaseExtendsTheSeriesOnceAndIsUsed() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.withReturns(db)
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/sen_phase_type_202526.csv")
            let file = try Data(contentsOf: url)
            try await withApp(db) { client in
                for expectedNew in [true, false] {
                    try await client.execute(uri: "/v1/admin/national-imports", method: .post, headers: f.headers("admin"), body: ByteBuffer(bytes: file)) { response in
                        #expect(response.status == .ok)
                        let body = try response.decode(NationalImportResult.self)
                        #expect((body.new > 0) == expectedNew)
                        #expect((body.unchanged > 0) == !expectedNew)
                        #expect(body.changed == 0)
                        #expect(body.rejections.count == 1, "Atlantis is not an English region")
                    }
                }
                try await client.execute(uri: "/v1/admin/national-imports", method: .post, headers: f.headers("trust_executive"), body: ByteBuffer(bytes: file)) {
                    #expect($0.status == .forbidden)
                }
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)", method: .get, headers: f.headers("trust_executive")
                ) { response in
                    let body = try response.decode(Comparison.self)
                    let primary = try #require(body.schools.first { $0.urn == 990_101 }?.comparator)
                    #expect(primary.censusYear == 2026)
                    // From the file's counts (670,000 of 4,500,000), not its rounded 14.9%.
                    #expect(primary.rate == ((670_000.0 / 4_500_000 * 100_000).rounded() / 100_000))
                    #expect(primary.rateBasis == "dfe_counts" && primary.publishedPercent == 14.9)
                    #expect(primary.rateRange == nil)
                    #expect(primary.note == nil)
                    // SEN support in special schools is suppressed (c) in the file: still not compared.
                    #expect(body.notCompared.map(\.urn) == [990_107])
                }
                // EHC plans in special schools are published: the special school is compared with them, apart.
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)&measure=ehc_plan", method: .get, headers: f.headers("trust_executive")
                ) { response in
                    let body = try response.decode(Comparison.self)
                    let special = try #require(body.specialistSchools.first { $0.urn == 990_107 })
                    #expect(special.comparator.phase == "special" && special.comparator.setting == "special")
                    #expect(special.comparator.rate == 0.9375, "150,000 of 160,000")
                    #expect(special.setting == "special")
                    #expect(body.notCompared.isEmpty)
                    let schools = body.schools
                    #expect(!schools.contains { $0.urn == 990_107 })
                    #expect(body.overdispersion?.schools == schools.count, "mainstream dispersion leaves it out")
                    #expect(body.specialistOverdispersion?.schools == 1)
                    #expect(body.standardised?.schools == schools.count + 1)
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
    /// Schools' marks: circles within the limits, triangles (paths) outside them.
    var schoolMarks = 0
    var schoolTriangles = 0
    /// Paths that are not schools' marks: the limit curves.
    var otherPaths = 0

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        elements[name, default: 0] += 1
        let school = attributes["class"] == "school"
        if school && (name == "circle" || name == "path") { schoolMarks += 1 }
        if school && name == "path" { schoolTriangles += 1 }
        if !school && name == "path" && attributes["class"] != "sample" { otherPaths += 1 }
    }
}
