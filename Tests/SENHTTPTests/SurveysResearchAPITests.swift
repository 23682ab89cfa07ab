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
                    let body = try json(response)
                    let codes = (body["instruments"] as? [[String: Any]])?.compactMap { $0["code"] as? String }
                    #expect(codes == ["leader_concerns", "pupil_wellbeing"])
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
                    let pointers = Set((try problem(response).errors ?? []).compactMap(\.pointer))
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
                    let body = try json(response)
                    let rows = try #require(body["schools"] as? [[String: Any]])
                    func respondents(_ urn: Int) -> Any? { rows.first { $0["urn"] as? Int == urn }?["respondents"] }
                    #expect(respondents(schools[0].urn) as? String == "c", "6 respondents")
                    #expect(respondents(schools[1].urn) as? String == "c", "the smallest other school, hidden as a complement")
                    #expect(respondents(schools[2].urn) as? Int == 45)
                    let pooled = try #require(body["pooled"] as? [String: Any])
                    #expect(pooled["respondents"] as? Int == 141)
                    let small = rows.first { $0["urn"] as? Int == schools[0].urn }?["items"] as? [String: Any]
                    let safe = (small?["feel_safe"] as? [String: Any])?["agree"] as? [String: Any]
                    #expect(safe?["count"] as? String == "c")
                }
                try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/surveys/pupil_wellbeing?term=\(openTerm)", method: .get, headers: f.headers("other_trust_executive")) {
                    #expect($0.status == .notFound)
                }
            }
        }
    }
}

@Suite struct ResearchAPITests {
    let released = "2024-25-summer"

    func load(_ db: TestDatabase) async throws -> Fixture {
        let f = try await Fixture.load(db)
        try await db.withDatabase { database in
            let logger = Logger(label: "test")
            try await DemoData.loadReturns(into: ReturnsStore(database: database), logger: logger)
            try await DemoData.loadSurveys(into: SurveyStore(database: database), logger: logger)
            try await DemoData.releaseTerms(into: ResearchStore(database: database), logger: logger)
        }
        return f
    }

    func cells(_ body: [String: Any]) -> [[String: Any]] { body["cells"] as? [[String: Any]] ?? [] }

    /// Mental-health concern by region for a released term: the rules applied, and no single school or
    /// unreleased term to be had.
    @Test func mentalHealthConcernByRegion() async throws {
        try await withTestDatabase { db in
            let f = try await load(db)
            try await withApp(db) { client in
                let uri = "/v1/research/surveys/leader_concerns?term=\(released)&item=concern_mental_health&group_by=region"
                try await client.execute(uri: uri, method: .get, headers: f.headers("researcher")) { response in
                    #expect(response.status == .ok)
                    let body = try json(response)
                    let byKey = Dictionary(uniqueKeysWithValues: cells(body).map { ($0["key"] as! String, $0) })
                    #expect(Set(byKey.keys) == ["North West", "Yorkshire and the Humber", "East of England"])
                    // East of England has one trust only: hidden. Then one more region is hidden with it.
                    #expect(byKey["East of England"]?["units"] as? String == "c")
                    #expect(byKey["East of England"]?["suppressed"] as? String == "primary")
                    #expect(cells(body).filter { $0["suppressed"] as? String == "complementary" }.count == 1)
                    for cell in cells(body) where cell["suppressed"] is NSNull || cell["suppressed"] == nil {
                        let units = try #require(cell["units"] as? Int)
                        #expect(units % 5 == 0 && units >= 10)
                        for (_, value) in (cell["values"] as? [String: Any]) ?? [:] { #expect((value as? Int ?? 1) % 5 == 0) }
                    }
                    #expect(!response.text.contains("990"), "no URN anywhere")
                    #expect(!response.text.contains("Pennine") && !response.text.contains("Fenland"), "no trust or school name")
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
                    let regions = try await client.execute(uri: "/v1/research/\(query)&group_by=region", method: .get, headers: f.headers("researcher")) { try json($0) }
                    let las = try await client.execute(uri: "/v1/research/\(query)&group_by=la", method: .get, headers: f.headers("researcher")) { try json($0) }
                    let shownRegions = Set(cells(regions).filter { $0["units"] is Int }.compactMap { $0["key"] as? String })
                    let byRegion = Dictionary(grouping: cells(las), by: { $0["parent"] as? String ?? "" })
                    for (region, members) in byRegion where shownRegions.contains(region) {
                        let hidden = members.filter { $0["units"] is String }.count
                        #expect(hidden == 0 || hidden >= 2, "\(query): \(region) has exactly one hidden LA")
                    }
                    // And against the national total.
                    let total = (las["total"] as? [String: Any])?["units"]
                    if total is Int {
                        #expect(cells(las).filter { $0["units"] is String }.count != 1)
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
                    let body = try json(response)
                    #expect(body["schools"] as? Int == 14)
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
                    let body = try json(response)
                    #expect(body["units"] as? String == "pupils_with_need")
                    let keys = Set(cells(body).compactMap { $0["key"] as? String })
                    #expect(keys.isSubset(of: Set(NeedCode.allCases.map(\.rawValue))))
                    #expect(keys.contains("ASD") && keys.contains("SLCN"))
                    #expect(cells(body).allSatisfy { $0["parent"] is NSNull })
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
                    let details = try problem(response)
                    #expect(details.detail?.contains("0.0 of the release's budget remains") == true)
                }
                try await client.execute(uri: "/v1/research/sen?term=2025-26-summer&privacy=dp&epsilon=0.5", method: .get, headers: f.headers("researcher")) {
                    #expect($0.status == .notFound)
                }
            }
        }
    }
}
