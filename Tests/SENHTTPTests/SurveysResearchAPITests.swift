import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SENCore
import SENAPI
import SENHTTP
import SENStore
import SENTestSupport
import Testing

@Suite struct SurveysAPITests {
    func wellbeing(_ respondents: Int, safe: Int) -> String {
        #"{"respondents": \#(respondents), "items": {"feel_safe": {"agree": \#(safe), "disagree": \#(respondents - safe)}}}"#
    }

    @Test func instrumentsAndVersionedReturns() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let path = "/v1/schools/\(f.ownSchool.urn)/surveys/pupil_wellbeing/\(openTerm)"
            try await withApp(db) { client in
                try await client.execute(uri: "/v1/instruments", method: .get, headers: f.headers("school_leader")) { response in
                    let decoded = try response.decode(InstrumentList.self)
                    #expect(decoded.instruments.map(\.code) == ["leader_concerns", "pupil_wellbeing"])
                }
                try await client.execute(uri: path, method: .put, headers: f.headers("school_leader"), body: ByteBuffer(string: wellbeing(40, safe: 30))) { response in
                    #expect(response.status == .created)
                    #expect(response.headers[.eTag] == "\"1\"")
                }
                try await client.execute(uri: path, method: .put, headers: f.headers("school_leader"), body: ByteBuffer(string: wellbeing(41, safe: 30))) {
                    #expect($0.status == .preconditionRequired)
                }
                var headers = f.headers("school_leader")
                headers[.ifMatch] = "\"1\""
                try await client.execute(uri: path, method: .put, headers: headers, body: ByteBuffer(string: wellbeing(41, safe: 30))) {
                    #expect($0.status == .ok)
                }
                let bad = #"{"respondents": 10, "comment": "names", "items": {"feel_safe": {"agree": 11}, "unknown_item": {}}}"#
                try await client.execute(uri: path, method: .put, headers: headers, body: ByteBuffer(string: bad)) { response in
                    #expect(response.status == .unprocessableContent)
                    let pointers = Set((try response.problem.errors ?? []).compactMap(\.pointer))
                    #expect(pointers == ["/comment", "/items/feel_safe", "/items/feel_safe/agree", "/items/unknown_item"])
                }
                try await client.execute(uri: path, method: .get, headers: f.headers("researcher")) { #expect($0.status == .forbidden) }
                try await client.execute(uri: "/v1/schools/\(f.foreignSchool.urn)/surveys/pupil_wellbeing/\(openTerm)", method: .put, headers: f.headers("trust_executive"), body: ByteBuffer(string: wellbeing(40, safe: 30))) {
                    #expect($0.status == .notFound)
                }
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM survey_return_versions") == [["2"]])
            #expect(try await db.adminSQL("SELECT action FROM audit_log ORDER BY audit_id") == [["survey_return.create"], ["survey_return.amend"]])
        }
    }

    /// Cells from fewer than 10 respondents are `c` even to the trust, and one more school is hidden so that the
    /// pooled figures cannot give the small school away.
    @Test func theTrustViewSuppressesSmallCells() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let schools = f.trustA.schools
            try await withApp(db) { client in
                for (school, respondents) in [(schools[0], 6), (schools[1], 30), (schools[2], 45), (schools[3], 60)] {
                    try await client.execute(
                        uri: "/v1/schools/\(school.urn)/surveys/pupil_wellbeing/\(openTerm)", method: .put,
                        headers: f.headers("trust_executive"), body: ByteBuffer(string: wellbeing(respondents, safe: respondents / 2))
                    ) { #expect($0.status == .created) }
                }
                try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/surveys/pupil_wellbeing?term=\(openTerm)", method: .get, headers: f.headers("trust_executive")) { response in
                    #expect(response.status == .ok)
                    let body = try response.decode(TrustSurveyView.self)
                    func respondents(_ urn: Int) -> ShownValue? { body.schools.first { $0.urn == urn }?.respondents }
                    #expect(respondents(schools[0].urn) == .suppressed, "6 respondents")
                    #expect(respondents(schools[1].urn) == .suppressed, "the smallest other school, hidden as a complement")
                    #expect(respondents(schools[2].urn) == .value(45))
                    #expect(body.pooled.respondents == .value(141))
                    let small = body.schools.first { $0.urn == schools[0].urn }?.items
                    #expect(small?["feel_safe"]?["agree"]?["count"] == .suppressed)
                }
                try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/surveys/pupil_wellbeing?term=\(openTerm)", method: .get, headers: f.headers("other_trust_executive")) {
                    #expect($0.status == .notFound)
                }
                // One school's page shows the trust executive what the trust view shows: the 6-respondent school and
                // its complement are `c`, every count of theirs too; a school leader sees their own school's counts.
                func schoolView(_ urn: Int, as who: String) async throws -> TestResponse {
                    try await client.execute(uri: "/v1/schools/\(urn)/surveys/pupil_wellbeing/\(openTerm)", method: .get, headers: f.headers(who)) { response in
                        #expect(response.status == .ok)
                        #expect(response.headers[.eTag] == "\"1\"")
                        return response
                    }
                }
                for (school, reason) in [(schools[0], "primary"), (schools[1], "complementary")] {
                    let answer = try await schoolView(school.urn, as: "trust_executive")
                    let view = try answer.decode(SchoolSurveyView.self)
                    #expect(view.suppressed == reason)
                    #expect(view.survey.respondents == .suppressed)
                    let options = view.survey.items["feel_safe"] ?? [:]
                    #expect(!options.isEmpty)
                    for (_, shown) in options { #expect(shown["count"] == .suppressed && shown["percent"] == .suppressed) }
                    #expect(!answer.text.contains("\"agree\":3"), "no raw count")
                }
                let shown = try await schoolView(schools[2].urn, as: "trust_executive")
                #expect(shown.text.contains(#""suppressed":null"#), "a shown school says so: null, not left out")
                let decoded = try shown.decode(SchoolSurveyView.self)
                #expect(decoded.survey.respondents == .value(45))
                let own = try await schoolView(f.ownSchool.urn, as: "school_leader")
                let ownReturn = try own.decode(SchoolSurveyReturn.self)
                #expect(ownReturn.survey["respondents"] == .integer(6), "a school's own leader sees its counts")
            }
        }
    }
}

@Suite struct ResearchAPITests {
    let released = "2024-25-summer"

    func load(_ db: TestDatabase) async throws -> Fixture {
        let f = try await Fixture.load(db)
        try await db.withDatabase { database in
            let logger = Logger.test
            try await DemoData.loadReturns(into: ReturnsStore(database: database), logger: logger)
            try await DemoData.loadSurveys(into: SurveyStore(database: database), logger: logger)
            try await DemoData.releaseTerms(into: ResearchStore(database: database), logger: logger)
        }
        return f
    }

    func cells(_ response: TestResponse) throws -> [ResearchCell] { try response.decode(ResearchAnswer.self).cells }

    /// Mental-health concern by region for a released term: the rules applied, and no single school or
    /// unreleased term to be had.
    @Test func mentalHealthConcernByRegion() async throws {
        try await withTestDatabase { db in
            let f = try await load(db)
            try await withApp(db) { client in
                let uri = "/v1/research/surveys/leader_concerns?term=\(released)&item=concern_mental_health&group_by=region"
                try await client.execute(uri: uri, method: .get, headers: f.headers("researcher")) { response in
                    #expect(response.status == .ok)
                    let byKey = Dictionary(uniqueKeysWithValues: try cells(response).map { ($0.key, $0) })
                    #expect(Set(byKey.keys) == ["North West", "Yorkshire and the Humber", "East of England"])
                    // East of England has one trust only: hidden.
                    #expect(byKey["East of England"]?.units == .suppressed)
                    #expect(byKey["East of England"]?.suppressed == "primary")
                    // Every value, not only the cell: a region any of whose answer counts is 1 to 9 (counted here
                    // from the snapshot) is hidden whole, as primary.
                    let raw = try await db.adminSQL(
                        """
                        SELECT region, sum(respondents), count(DISTINCT urn), count(DISTINCT trust_key),
                               sum(coalesce((counts -> 'concern_mental_health' ->> 'not')::int, 0)),
                               sum(coalesce((counts -> 'concern_mental_health' ->> 'somewhat')::int, 0)),
                               sum(coalesce((counts -> 'concern_mental_health' ->> 'very')::int, 0))
                        FROM release_surveys WHERE term = '\(released)' AND instrument = 'leader_concerns' GROUP BY region
                        """)
                    #expect(raw.count == 3)
                    for row in raw {
                        let n = row.dropFirst().map { Int($0 ?? "") ?? -1 }
                        let small = n[0] < 10 || n[1] < 3 || n[2] < 2 || n[3...].contains { (1...9).contains($0) }
                        if small { #expect(byKey[row[0] ?? ""]?.suppressed == "primary", "\(row)") }
                    }
                    #expect(!response.text.contains("990"), "no URN anywhere")
                    #expect(!response.text.contains("Pennine") && !response.text.contains("Fenland"), "no trust or school name")
                }
                // SEN by region: the one-trust region is hidden, and at least one more region with it (as many as
                // its protection needs; the linear-programming audit checks the ranges).
                try await client.execute(uri: "/v1/research/sen?term=\(released)&group_by=region", method: .get, headers: f.headers("researcher")) { response in
                    let all = try cells(response)
                    #expect(all.first { $0.key == "East of England" }?.suppressed == "primary")
                    #expect(all.filter { $0.suppressed == "complementary" }.count >= 1)
                    for cell in all where cell.suppressed == nil {
                        guard case .value(let units) = cell.units else { Issue.record("\(cell.key): a shown cell has its units"); continue }
                        #expect(units.truncatingRemainder(dividingBy: 5) == 0 && units >= 10)
                        for (_, value) in cell.values {
                            guard case .value(let count) = value else { Issue.record("\(cell.key): a shown cell has its values"); continue }
                            #expect(count.truncatingRemainder(dividingBy: 5) == 0 && (count == 0 || count >= 10))
                        }
                    }
                }
                var headers = f.headers("researcher")
                headers[.accept] = "text/csv"
                try await client.execute(uri: uri, method: .get, headers: headers) { response in
                    #expect(response.headers[.contentType]?.hasPrefix("text/csv") == true)
                    #expect(response.text.contains("East of England,,c"))
                }
                try await client.execute(uri: "/v1/research/surveys/leader_concerns?term=2025-26-summer&item=concern_mental_health", method: .get, headers: f.headers("researcher")) {
                    #expect($0.status == .notFound, "the latest term is not released")
                }
                for who in ["trust_executive", "school_leader", "admin"] {
                    try await client.execute(uri: uri, method: .get, headers: f.headers(who)) { #expect($0.status == .forbidden, "\(who)") }
                }
                try await client.execute(uri: "/v1/schools/990101/sen-returns/\(released)", method: .get, headers: f.headers("researcher")) {
                    #expect($0.status == .forbidden)
                }
            }
        }
    }

    /// Differencing: an LA hidden within a region cannot be recovered from the region's figure, at any level.
    @Test func overlappingGroupsAndTheHierarchyHideTogether() async throws {
        try await withTestDatabase { db in
            let f = try await load(db)
            try await withApp(db) { client in
                for query in ["sen?term=\(released)", "surveys/pupil_wellbeing?term=\(released)&item=feel_safe"] {
                    let regions = try await client.execute(uri: "/v1/research/\(query)&group_by=region", method: .get, headers: f.headers("researcher")) {
                        try $0.decode(ResearchAnswer.self)
                    }
                    let las = try await client.execute(uri: "/v1/research/\(query)&group_by=la", method: .get, headers: f.headers("researcher")) {
                        try $0.decode(ResearchAnswer.self)
                    }
                    let shownRegions = Set(regions.cells.filter { $0.units != .suppressed }.map(\.key))
                    let byRegion = Dictionary(grouping: las.cells, by: { $0.parent ?? "" })
                    for (region, members) in byRegion where shownRegions.contains(region) {
                        let hidden = members.filter { $0.units == .suppressed }.count
                        #expect(hidden == 0 || hidden >= 2, "\(query): \(region) has exactly one hidden LA")
                    }
                    // And against the national total.
                    if las.total.units != .suppressed {
                        #expect(las.cells.filter { $0.units == .suppressed }.count != 1)
                    }
                }
                try await client.execute(uri: "/v1/admin/releases", method: .post, headers: f.headers("admin"), body: ByteBuffer(string: #"{"term": "\#(released)"}"#)) {
                    #expect($0.status == .conflict, "a term is released once")
                }
                try await client.execute(uri: "/v1/admin/releases", method: .post, headers: f.headers("admin"), body: ByteBuffer(string: #"{"term": "2026-27-spring"}"#)) {
                    #expect($0.status == .unprocessableContent, "before its deadline")
                }
                try await client.execute(uri: "/v1/admin/releases", method: .post, headers: f.headers("admin"), body: ByteBuffer(string: #"{"term": "2025-26-summer"}"#)) { response in
                    #expect(response.status == .created)
                    let decoded = try response.decode(ReleaseBody.self)
                    #expect(decoded.schools == 14)
                }
            }
        }
    }

    /// SEN by primary need: one cell per need code, each counting the pupils with that need (spring returns).
    @Test func senByNeed() async throws {
        try await withTestDatabase { db in
            let f = try await load(db)
            try await withApp(db) { client in
                try await client.execute(uri: "/v1/research/sen?term=2024-25-spring&group_by=need", method: .get, headers: f.headers("researcher")) { response in
                    #expect(response.status == .ok)
                    let body = try response.decode(ResearchAnswer.self)
                    #expect(body.units == "pupils_with_need")
                    let keys = Set(body.cells.map(\.key))
                    #expect(keys.isSubset(of: Set(NeedCode.allCases.map(\.rawValue))))
                    #expect(keys.contains("ASD") && keys.contains("SLCN"))
                    #expect(body.cells.allSatisfy { $0.parent == nil })
                    #expect(response.text.contains(#""parent":null"#), "written as null, not left out")
                }
            }
        }
    }

    @Test func differentialPrivacyChargesOnceAndStopsAtTheBudget() async throws {
        try await withTestDatabase { db in
            let f = try await load(db)
            try await withApp(db) { client in
                let base = "/v1/research/sen?term=\(released)&privacy=dp&epsilon=0.5"
                let first = try await client.execute(uri: base + "&group_by=region", method: .get, headers: f.headers("researcher")) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[HTTPField.Name("Privacy-Budget-Remaining")!] == "0.5")
                    return response.text
                }
                try await client.execute(uri: base + "&group_by=region", method: .get, headers: f.headers("researcher")) { response in
                    #expect(response.text == first, "the same query, the same answer")
                    #expect(response.headers[HTTPField.Name("Privacy-Replayed")!] == "true")
                    #expect(response.headers[HTTPField.Name("Privacy-Budget-Remaining")!] == "0.5")
                }
                try await client.execute(uri: base + "&group_by=phase", method: .get, headers: f.headers("researcher")) {
                    #expect($0.status == .ok)
                }
                try await client.execute(uri: base + "&group_by=trust_size", method: .get, headers: f.headers("researcher")) { response in
                    #expect(response.status == .forbidden)
                    let details = try response.problem
                    #expect(details.detail?.contains(" 0 of the release's budget remains") == true)
                }
                try await client.execute(uri: "/v1/research/sen?term=2025-26-summer&privacy=dp&epsilon=0.5", method: .get, headers: f.headers("researcher")) {
                    #expect($0.status == .notFound)
                }
            }
        }
    }

    /// Every number of every research answer of a release (SEN by every dimension; every item of every
    /// instrument by every dimension) is 0, at least 10, or `c`; shown counts are multiples of 5.
    @Test func everyReleasedNumberIsZeroOrAtLeastTen() async throws {
        try await withTestDatabase { db in
            let f = try await load(db)
            try await withApp(db) { client in
                var queries = ["region", "la", "phase", "trust_size", "need"].map { "sen?term=2024-25-spring&group_by=\($0)" }
                let instruments = try await client.execute(uri: "/v1/instruments", method: .get, headers: f.headers("researcher")) {
                    try $0.decode(InstrumentList.self).instruments
                }
                for instrument in instruments {
                    for item in instrument.items {
                        for by in ["region", "la", "phase", "trust_size"] {
                            queries.append("surveys/\(instrument.code)?term=\(released)&item=\(item.code)&group_by=\(by)")
                        }
                    }
                }
                #expect(queries.count > 60)
                var numbers = 0
                for query in queries {
                    try await client.execute(uri: "/v1/research/\(query)", method: .get, headers: f.headers("researcher")) { response in
                        #expect(response.status == .ok, "\(query)")
                        // Decoding already insists that every shown value is a number or `c`.
                        let body = try response.decode(ResearchAnswer.self)
                        for cell in body.cells + [body.total] {
                            for value in [cell.units] + cell.values.map(\.value) {
                                numbers += 1
                                if case .value(let n) = value {
                                    #expect(n == 0 || (n >= 10 && n.truncatingRemainder(dividingBy: 5) == 0), "\(query): \(cell.key) has \(n)")
                                }
                            }
                        }
                    }
                }
                #expect(numbers > 500)
            }
        }
    }

    /// The demo release's SEN tables as the API gives them, audited by linear programming against the true
    /// figures of the snapshot: no hidden value is narrowed below its protection by the four tables together.
    @Test func theDemoReleaseSurvivesTheLinearProgrammingAudit() async throws {
        try await withTestDatabase { db in
            let f = try await load(db)
            try await withApp(db) { client in
                let dimensions: [(String, String?, String, String)] = [
                    ("region", nil, "region", "NULL"), ("la", "region", "la_name", "region"), ("phase", nil, "phase", "NULL"),
                    ("trust_size", nil, "trust_size_band", "NULL"),
                ]
                var tables: [[String: Any]] = []
                var total: [String: Any] = [:]
                for (name, parentTable, column, parent) in dimensions {
                    let body = try await client.execute(uri: "/v1/research/sen?term=\(released)&group_by=\(name)", method: .get, headers: f.headers("researcher")) {
                        try $0.decode(ResearchAnswer.self)
                    }
                    let truth = try await db.adminSQL(
                        """
                        SELECT \(column), \(parent), sum(pupils_on_roll), sum(sen_support), sum(ehc_plan) FROM release_sen
                        WHERE term = '\(released)' GROUP BY 1, 2
                        """)
                    /// The cell as the audit script reads it: what the API shows, and the snapshot's true figures.
                    func audited(_ cell: ResearchCell, _ row: [String?]) -> [String: Any] {
                        func number(_ value: ShownValue?) -> Any {
                            if case .value(let n)? = value { Int(n) } else { NSNull() }
                        }
                        let shown: Any =
                            cell.units != .suppressed
                            ? ["units": number(cell.units), "sen_support": number(cell.values["sen_support"]), "ehc_plan": number(cell.values["ehc_plan"])]
                            : NSNull()
                        return [
                            "key": cell.key, "parent": cell.parent ?? NSNull(), "suppressed": cell.suppressed ?? NSNull(), "shown": shown,
                            "true": ["units": Int(row[2] ?? "") ?? -1, "sen_support": Int(row[3] ?? "") ?? -1, "ehc_plan": Int(row[4] ?? "") ?? -1],
                        ]
                    }
                    let byKey = Dictionary(uniqueKeysWithValues: truth.map { ($0[0] ?? "", $0) })
                    tables.append([
                        "name": name, "parent_table": parentTable as Any,
                        "cells": body.cells.map { audited($0, byKey[$0.key] ?? []) },
                    ])
                    let all = try await db.adminSQL(
                        "SELECT 'all', NULL, sum(pupils_on_roll), sum(sen_support), sum(ehc_plan) FROM release_sen WHERE term = '\(released)'")
                    total = audited(body.total, all[0])
                }
                let hidden = tables.flatMap { ($0["cells"] as! [[String: Any]]).filter { $0["suppressed"] is String } }
                #expect(hidden.count >= 2, "the demo release hides cells")
                let report = try await DisclosureAudit.run([
                    ["name": "demo", "columns": ["units", "ehc_plan", "sen_support"], "rounding": 5, "within_cell": "sen", "tables": tables, "total": total]
                ])
                #expect((report["programmes"] as? Int ?? 0) >= 2 * 3 * hidden.count)
                #expect(report["violation_count"] as? Int == 0, "\(report["violations"] ?? report)")
            }
        }
    }

    /// A release's answers are frozen at the first query of their family: later queries of any of its tables
    /// return what was stored, whatever happens to the snapshot afterwards.
    @Test func answersAreFrozenWithTheRelease() async throws {
        try await withTestDatabase { db in
            let f = try await load(db)
            try await withApp(db) { client in
                let region = "/v1/research/sen?term=\(released)&group_by=region"
                let first = try await client.execute(uri: region, method: .get, headers: f.headers("researcher")) { $0.text }
                #expect(try await db.adminSQL("SELECT group_by FROM release_answers WHERE term = '\(released)' AND query = 'sen' ORDER BY 1")
                    == [["la"], ["phase"], ["region"], ["trust_size"]], "the whole family is frozen at once")
                // Were the snapshot ever changed, the frozen answers would not be.
                _ = try await db.adminSQL("UPDATE release_sen SET pupils_on_roll = pupils_on_roll + 1000, sen_support = 0 WHERE term = '\(released)'")
                try await client.execute(uri: region, method: .get, headers: f.headers("researcher")) { #expect($0.text == first) }
                try await client.execute(uri: "/v1/research/sen?term=\(released)&group_by=la", method: .get, headers: f.headers("researcher")) { response in
                    let shown = try cells(response)
                    #expect(shown.contains { $0.values["sen_support"].map { $0 != .suppressed && $0 != .value(0) } == true }, "frozen before the change")
                }
            }
        }
    }

    /// ε=1e-300 stopped the server (the sampler trapped converting a huge Double). Every ε outside the documented
    /// range and precision is a 400, and the server answers the next request.
    @Test func anyEpsilonOutsideItsRangeIsRefusedAndTheServerStaysUp() async throws {
        try await withTestDatabase { db in
            let f = try await load(db)
            try await withApp(db) { client in
                for bad in ["1e-300", "1e300", "0.000001", "0.009", "0", "-1", "nan", "inf", "1.5", "0.0000001", "0x1p-3", "", "99999999999999999999"] {
                    let uri = "/v1/research/sen?term=\(released)&privacy=dp&epsilon=\(bad)"
                    try await client.execute(uri: uri, method: .get, headers: f.headers("researcher")) { response in
                        #expect(response.status == .badRequest, "epsilon=\(bad)")
                        let detail = try response.problem.detail
                        #expect(detail?.contains("from 0.01 to 1") == true)
                    }
                }
                #expect(try await db.adminSQL("SELECT count(*) FROM dp_budgets") == [["0"]], "nothing charged")
                try await client.execute(uri: "/v1/research/sen?term=\(released)&privacy=dp&epsilon=0.01", method: .get, headers: f.headers("researcher")) {
                    #expect($0.status == .ok, "the smallest ε is answered")
                }
            }
        }
    }

    /// The charge is the answer's whole privacy loss: ε, split over the counts one pupil or respondent can move
    /// (sensitivity from the item's definition, computed here independently), and recorded exactly.
    @Test func theChargeIsTheAnswersPrivacyLoss() async throws {
        try await withTestDatabase { db in
            let f = try await load(db)
            try await withApp(db) { client in
                let queries: [(String, Int)] = [
                    ("sen?term=\(released)&group_by=region", 2 * (1 + 1)),
                    ("surveys/leader_concerns?term=\(released)&item=concern_mental_health", 2 * (1 + 1)),
                    // specialist_support is multiple choice with four options: one respondent can tick all four.
                    ("surveys/leader_concerns?term=\(released)&item=specialist_support", 2 * (1 + 4)),
                ]
                var charged = 0
                for (query, sensitivity) in queries {
                    try await client.execute(uri: "/v1/research/\(query)&privacy=dp&epsilon=0.123", method: .get, headers: f.headers("researcher")) { response in
                        #expect(response.status == .ok)
                        let body = try response.decode(ResearchAnswer.self)
                        #expect(body.sensitivity == sensitivity, "\(query)")
                        let perCount = try #require(body.epsilonPerCount)
                        #expect(abs(perCount - 0.123 / Double(sensitivity)) < 1e-12)
                    }
                    charged += 123_000
                    #expect(try await db.adminSQL("SELECT spent_micro FROM dp_budgets") == [["\(charged)"]])
                }
            }
        }
    }

    /// Forty DP queries of one researcher at once: each is answered, refused for budget (403) or told to retry
    /// (429 with Retry-After) — never 503 — and the budget is not overspent.
    @Test func concurrentQueriesAreToldToRetryNotFailed() async throws {
        try await withTestDatabase { db in
            let f = try await load(db)
            try await withApp(db) { client in
                let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                    for query in 0..<40 {
                        group.addTask {
                            let epsilon = String(format: "0.%03d", 100 + query)
                            return try await client.execute(
                                uri: "/v1/research/sen?term=\(released)&privacy=dp&epsilon=\(epsilon)", method: .get, headers: f.headers("researcher")
                            ) { ($0.status, $0.headers[.retryAfter]) }
                        }
                    }
                    return try await group.reduce(into: [(HTTPResponse.Status, String?)]()) { $0.append($1) }
                }
                #expect(statuses.allSatisfy { [.ok, .forbidden, .tooManyRequests].contains($0.0) }, "\(statuses.map(\.0.code))")
                #expect(statuses.filter { $0.0 == .tooManyRequests }.allSatisfy { $0.1 == "1" })
                #expect(statuses.contains { $0.0 == .ok })
            }
            let spent = try #require(try await db.adminSQL("SELECT spent_micro, budget_micro FROM dp_budgets").first)
            #expect(Int(spent[0] ?? "") ?? .max <= Int(spent[1] ?? "") ?? 0)
        }
    }
}
