import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SENAPI
import SENCore
import SENHTTP
import SENStore
import SENTestSupport
import Testing

/// A browser's view of the web app, without the browser: its cookie, and the form token of the last page.
struct WebVisitor {
    let client: any TestClientProtocol
    var cookie: String?
    var csrf: String?

    init(_ client: any TestClientProtocol) { self.client = client }

    /// Signs in with an API token as the sign-in form does; returns the answer (a redirect when it worked).
    @discardableResult
    mutating func signIn(_ token: String, planted: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .origin: "http://localhost"]
        if let planted { headers[.cookie] = "senstat=\(planted)" }
        let response = try await client.execute(
            uri: "/sign-in", method: .post, headers: headers, body: ByteBuffer(string: "token=\(token)&next="))
        if let set = response.headers[.setCookie], let value = Self.cookieValue(set) { cookie = value }
        return response
    }

    mutating func get(_ path: String) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = "senstat=\(cookie)" }
        let response = try await client.execute(uri: path, method: .get, headers: headers, body: nil)
        if let token = Self.formToken(response.text) { csrf = token }
        return response
    }

    /// Posts a form as a page of this site would (with the page's token unless `csrf` says otherwise).
    func post(_ path: String, _ fields: [(String, String)], csrf: String?? = nil, origin: String? = "http://localhost", site: String? = nil)
        async throws -> TestResponse
    {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let origin { headers[.origin] = origin }
        if let site { headers[HTTPField.Name("Sec-Fetch-Site")!] = site }
        if let cookie { headers[.cookie] = "senstat=\(cookie)" }
        var all = fields
        if let token = csrf ?? self.csrf { all.append(("csrf", token)) }
        let body = all.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// Posts a multipart form (an upload) as a page of this site would, with the page's form token.
    func upload(_ path: String, fields: [(String, String)], file: (field: String, name: String, bytes: [UInt8])) async throws -> TestResponse {
        let boundary = "----senstat-test-\(UInt64.random(in: 0...UInt64.max))"
        var body: [UInt8] = []
        for (name, value) in fields + [("csrf", csrf ?? "")] {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.field)\"; filename=\"\(file.name)\"\r\nContent-Type: text/csv\r\n\r\n".utf8)
        body += file.bytes + Array("\r\n--\(boundary)--\r\n".utf8)
        var headers: HTTPFields = [.contentType: "multipart/form-data; boundary=\(boundary)", .origin: "http://localhost"]
        if let cookie { headers[.cookie] = "senstat=\(cookie)" }
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: body))
    }

    static func cookieValue(_ header: String) -> String? {
        guard header.hasPrefix("senstat=") else { return nil }
        return String(header.dropFirst("senstat=".count).prefix { $0 != ";" })
    }

    static func formToken(_ html: String) -> String? {
        guard let range = html.range(of: #"name="csrf" value=""#) else { return nil }
        let rest = html[range.upperBound...]
        return String(rest.prefix { $0 != "\"" })
    }
}

@Suite struct WebAppTests {
    static let openTerm = AcademicTerm.current(on: CalendarDate.todayUTC())!

    @Test func signInMakesANewSessionAndAPlantedIdNeverBecomesOne() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            try await withApp(db) { client in
                var visitor = WebVisitor(client)
                let first = try await visitor.get("/")
                #expect(first.status == .seeOther && first.headers[.location] == "/sign-in?next=/")

                let planted = "attacker-chosen-session-id"
                let signedIn = try await visitor.signIn(fixture.tokens["trust_executive"]!.token, planted: planted)
                #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/")
                let setCookie = try #require(signedIn.headers[.setCookie])
                #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax") && setCookie.contains("Path=/"))
                let id = try #require(visitor.cookie)
                #expect(id != planted && id.count >= 40)

                // The planted id is not a session.
                var attacker = WebVisitor(client)
                attacker.cookie = planted
                #expect(try await attacker.get("/").headers[.location]?.hasPrefix("/sign-in") == true)

                let home = try await visitor.get("/")
                #expect(home.status == .seeOther && home.headers[.location] == "/trusts/\(fixture.trustA.id)")
                let page = try await visitor.get("/trusts/\(fixture.trustA.id)")
                #expect(page.status == .ok)
                #expect(page.headers[.contentType] == "text/html; charset=utf-8")
                #expect(page.headers[.cacheControl] == "no-store")
                #expect(page.headers[.xContentTypeOptionsTest] == "nosniff")
                #expect(page.headers[.referrerPolicyTest] == "same-origin")
                let policy = try #require(page.headers[.contentSecurityPolicy])
                #expect(policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self'") && !policy.contains("unsafe"))
                #expect(page.text.contains("Moorside Primary Academy"))
            }
            // Only the digest of the id is stored.
            let stored = try await db.adminSQL("SELECT encode(key_digest, 'hex'), value::text FROM web_sessions")
            #expect(stored.count == 1)
            #expect(stored[0][1]?.contains("attacker") == false)
        }
    }

    @Test func aFormWithoutTheSessionsTokenOrFromAnotherSiteChangesNothing() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.withReturns(db)
            let urn = fixture.ownSchool.urn
            let term = "2025-26-summer"
            try await withApp(db) { client in
                var visitor = WebVisitor(client)
                try await visitor.signIn(fixture.tokens["trust_executive"]!.token)
                let page = try await visitor.get("/schools/\(urn)/returns/\(term)")
                #expect(page.status == .ok && page.text.contains("Approve and lock"))
                let path = "/schools/\(urn)/returns/\(term)/approve"
                #expect(try await visitor.post(path, [], csrf: .some(nil)).status == .forbidden, "no token")
                #expect(try await visitor.post(path, [], csrf: "forged").status == .forbidden, "a wrong token")
                #expect(try await visitor.post(path, [], origin: "https://evil.example").status == .forbidden, "another origin")
                #expect(try await visitor.post(path, [], origin: "null").status == .forbidden, "an opaque origin")
                #expect(try await visitor.post(path, [], site: "cross-site").status == .forbidden, "a cross-site request")
                let huge = try await visitor.post(path, [("padding", String(repeating: "x", count: 70_000))])
                #expect(huge.status == .contentTooLarge && huge.text.contains("64 KB"), "a form is small; only the upload pages take files")
                let api = try await client.execute(
                    uri: "/v1/schools/\(urn)/sen-returns/\(term)", method: .get, headers: fixture.headers("trust_executive"), body: nil)
                #expect(try api.decode(ReturnBody.self).status == "submitted", "none of them approved the return")

                let approved = try await visitor.post(path, [])
                #expect(approved.status == .seeOther && approved.headers[.location]?.hasSuffix("?done=approved") == true)
                let after = try await client.execute(
                    uri: "/v1/schools/\(urn)/sen-returns/\(term)", method: .get, headers: fixture.headers("trust_executive"), body: nil)
                #expect(try after.decode(ReturnBody.self).status == "approved")
            }
        }
    }

    @Test func signOutEndsTheSessionAndRevokingTheTokenEndsItsSessions() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            try await withApp(db) { client in
                var visitor = WebVisitor(client)
                try await visitor.signIn(fixture.tokens["school_leader"]!.token)
                let old = visitor.cookie
                #expect(try await visitor.get("/schools/\(fixture.ownSchool.urn)").status == .ok)
                let out = try await visitor.post("/sign-out", [])
                #expect(out.status == .seeOther && out.headers[.location] == "/sign-in?session=signed-out")
                #expect(out.headers[.setCookie]?.contains("Expires=") == true)
                var replay = WebVisitor(client)
                replay.cookie = old
                #expect(try await replay.get("/schools/\(fixture.ownSchool.urn)").headers[.location]?.hasPrefix("/sign-in") == true)

                var other = WebVisitor(client)
                try await other.signIn(fixture.tokens["trust_executive"]!.token)
                #expect(try await other.get("/trusts/\(fixture.trustA.id)").status == .ok)
                _ = try await db.adminSQL("UPDATE api_tokens SET revoked_at = now() WHERE label = 'demo:trust_executive'")
                let revoked = try await other.get("/trusts/\(fixture.trustA.id)")
                #expect(revoked.status == .seeOther && revoked.headers[.location]?.contains("session=revoked") == true)
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM web_sessions") == [["0"]], "signed out and revoked sessions are deleted")
        }
    }

    /// Time is moved in the session's row rather than waited for, so that a loaded machine cannot make the test
    /// flaky: the idle timeout is the row's expiry, the absolute one the sign-in time it holds.
    @Test func sessionsEndWhenIdleAndAtTheAbsoluteLimit() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            let token = fixture.tokens["school_leader"]!.token
            let school = "/schools/\(fixture.ownSchool.urn)"
            try await withApp(db) { client in
                var visitor = WebVisitor(client)
                try await visitor.signIn(token)
                #expect(try await visitor.get(school).status == .ok)
                let left = try await db.adminSQL("SELECT extract(epoch FROM expires_at - now())::int FROM web_sessions")
                let seconds = Int((left.first?.first ?? nil) ?? "") ?? -1
                #expect(seconds > 25 * 60 && seconds <= 30 * 60, "the idle window is 30 minutes")
                _ = try await db.adminSQL("UPDATE web_sessions SET expires_at = now() - interval '1 second'")
                #expect(try await visitor.get(school).headers[.location]?.hasPrefix("/sign-in") == true, "idle for longer than the idle timeout")

                var busy = WebVisitor(client)
                try await busy.signIn(token)
                #expect(try await busy.get(school).status == .ok)
                // Signed in nine hours ago and used all along: past the absolute timeout (8 hours).
                _ = try await db.adminSQL(
                    "UPDATE web_sessions SET value = jsonb_set(value, '{signed_in_at}', to_jsonb(to_char((now() - interval '9 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))")
                let ended = try await busy.get(school)
                #expect(ended.headers[.location]?.contains("session=ended") == true, "past the absolute timeout, however active")

                // A session near the end of its idle window is extended when used, and the cookie with it.
                var active = WebVisitor(client)
                try await active.signIn(token)
                _ = try await db.adminSQL("UPDATE web_sessions SET expires_at = now() + interval '5 minutes'")
                let used = try await active.get(school)
                #expect(used.status == .ok && used.headers[.setCookie]?.hasPrefix("senstat=") == true)
                let after = try await db.adminSQL("SELECT extract(epoch FROM expires_at - now())::int FROM web_sessions ORDER BY created_at DESC LIMIT 1")
                let all = try await db.adminSQL("SELECT extract(epoch FROM expires_at - now())::int, created_at::text FROM web_sessions")
                let extended = Int((after.first?.first ?? nil) ?? "0") ?? 0
                #expect(extended > 25 * 60, "the idle window starts again: \(all)")
            }
        }
    }

    /// A sign-out ends the session however long it has sat idle. The idle window's extension after a request used
    /// to write the session back (an upsert of the value read before the sign-out deleted it) and set its cookie
    /// again after the one that cleared it, once the session was more than a minute into its window.
    @Test func aSignOutAfterAnIdleMinuteEndsTheSession() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            let school = "/schools/\(fixture.ownSchool.urn)"
            try await withApp(db) { client in
                var visitor = WebVisitor(client)
                try await visitor.signIn(fixture.tokens["school_leader"]!.token)
                #expect(try await visitor.get(school).status == .ok)
                _ = try await db.adminSQL("UPDATE web_sessions SET expires_at = now() + interval '20 minutes'")
                let old = visitor.cookie
                let out = try await visitor.post("/sign-out", [])
                #expect(out.status == .seeOther && out.headers[.location] == "/sign-in?session=signed-out")
                let cookies = out.headers[values: .setCookie]
                #expect(cookies.count == 1, "only the cookie that clears the session: \(cookies)")
                #expect(try await db.adminSQL("SELECT count(*) FROM web_sessions") == [["0"]], "the session's row is gone")
                var replay = WebVisitor(client)
                replay.cookie = old
                #expect(try await replay.get(school).headers[.location]?.hasPrefix("/sign-in") == true, "the old cookie signs nobody in")
            }
        }
    }

    @Test func theComparisonPageLinksEveryPointAndOffersItsDownloads() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.withReturns(db)
            let trust = fixture.trustA.id
            try await withApp(db) { client in
                var executive = WebVisitor(client)
                try await executive.signIn(fixture.tokens["trust_executive"]!.token)
                let page = try await executive.get("/trusts/\(trust)/comparison?term=2025-26-summer&sort=-rate")
                #expect(page.status == .ok)
                #expect(page.text.utf8.count < 150_000, "no page over 150 KB")
                let figure = try #require(page.text.range(of: "<figure class=\"chart funnel\"").map { String(page.text[$0.upperBound...]) })
                let svg = String(figure.prefix { $0 != "\u{0}" }.components(separatedBy: "</figure>")[0])
                let api = try await client.execute(
                    uri: "/v1/trusts/\(trust)/comparison?term=2025-26-summer", method: .get, headers: fixture.headers("trust_executive"), body: nil)
                let comparison = try api.decode(Comparison.self)
                #expect(svg.components(separatedBy: "<a href=\"/schools/").count - 1 == comparison.schools.count, "one link per point")
                let links = svg.components(separatedBy: "<a href=\"/schools/").dropFirst()
                #expect(
                    links.allSatisfy { $0.drop { $0.isNumber }.hasPrefix("\"><title>") } && links.contains { $0.contains("<title>1. ") },
                    "each point's link has its name as its title")
                #expect(!svg.contains("<?xml"))
                // Sorted by rate, highest first, as the link asked.
                let rates = comparison.schools.sorted { $0.rate > $1.rate }.map(\.name)
                let order = rates.compactMap { name in page.text.range(of: ">\(name.replacingOccurrences(of: "'", with: "&#39;"))</a><span")?.lowerBound }
                #expect(order.count == rates.count && order == order.sorted(), "rows in the order asked for")
                let csv = try await executive.get("/trusts/\(trust)/comparison.csv?term=2025-26-summer&measure=ehc_plan")
                #expect(csv.headers[.contentType] == "text/csv; charset=utf-8" && csv.text.hasPrefix("urn,name,phase"))
                let download = try await executive.get("/trusts/\(trust)/funnel.svg?term=2025-26-summer")
                #expect(download.headers[.contentType]?.hasPrefix("image/svg+xml") == true && !download.text.contains("<a "))
                let senco = try await executive.get("/trusts/\(trust)/senco?term=2025-26-summer")
                #expect(senco.status == .ok && senco.text.contains("How the SENCO works") && senco.text.contains(fixture.ownSchool.name))
                #expect(senco.text.contains("of the \(comparison.schools.count + comparison.specialistSchools.count + comparison.notCompared.count) schools that sent a return"))
                let school = try await executive.get("/schools/\(fixture.ownSchool.urn)?term=2025-26-summer")
                #expect(school.text.contains("<svg") && school.text.contains("role=\"img\"") && !school.text.contains("NaN"), "the trend chart")
                // Every table of the school page as CSV, and its chart as SVG.
                let base = "/schools/\(fixture.ownSchool.urn)?term=2025-26-summer&download="
                let trendCSV = try await executive.get(base + "trend")
                #expect(trendCSV.headers[.contentType] == "text/csv; charset=utf-8" && trendCSV.text.hasPrefix("term,pupils_on_roll,sen_support_rate,ehc_plan_rate"))
                #expect(trendCSV.text.split(whereSeparator: \.isNewline).count == 10, "nine terms and a header")
                let benchmarkCSV = try await executive.get(base + "benchmark")
                #expect(benchmarkCSV.text.contains("sen_support,") && benchmarkCSV.text.contains("ehc_plan,"))
                #expect(try await executive.get(base + "needs").text.hasPrefix("need,school_count"))
                #expect(try await executive.get(base + "returns").text.hasPrefix("term,deadline,status"))
                let chart = try await executive.get(base + "trend.svg")
                #expect(chart.headers[.contentType]?.hasPrefix("image/svg+xml") == true && chart.text.hasPrefix("<svg"))
                #expect(try await executive.get(base + "nonsense").status == .notFound)
                let values = try await executive.get("/schools/\(fixture.ownSchool.urn)/returns/2025-26-summer?download=values")
                #expect(values.text.hasPrefix("urn,pupils_on_roll") && values.text.contains("\n\(fixture.ownSchool.urn),"), "the return as the import reads it")
                #expect(try await executive.get("/trusts/\(trust)/senco?term=2025-26-summer&download=progress").text.hasPrefix("urn,name,progress."))
                let account = try await executive.get("/account")
                #expect(account.status == .ok && account.text.contains(fixture.trustA.name) && account.text.contains("Trust executive"))
                let empty = try await executive.get("/trusts/\(trust)/comparison?term=2016-17-autumn")
                #expect(empty.status == .ok && empty.text.contains("No school has a return to compare") && !empty.text.contains("NaN"))
            }
        }
    }

    @Test func anotherTrustsPagesAreNotFoundPages() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.withReturns(db)
            try await withApp(db) { client in
                var executive = WebVisitor(client)
                try await executive.signIn(fixture.tokens["trust_executive"]!.token)
                for path in [
                    "/trusts/\(fixture.trustB.id)", "/trusts/\(fixture.trustB.id)/comparison", "/trusts/\(fixture.trustB.id)/comparison.csv",
                    "/schools/\(fixture.foreignSchool.urn)", "/schools/\(fixture.foreignSchool.urn)/returns/2025-26-summer",
                ] {
                    let page = try await executive.get(path)
                    #expect(page.status == .notFound, "\(path)")
                    #expect(page.text.contains("Page not found") && page.headers[.contentType] == "text/html; charset=utf-8", "\(path)")
                    #expect(!page.text.contains(fixture.foreignSchool.name), "\(path)")
                }
                var leader = WebVisitor(client)
                try await leader.signIn(fixture.tokens["school_leader"]!.token)
                #expect(try await leader.get("/schools/\(fixture.siblingSchool.urn)").status == .notFound, "a school of the trust that is not theirs")
                // A page that does not exist: HTML for a browser, problem+json for the API.
                let missing = try await client.execute(uri: "/no-such-page", method: .get, headers: [.accept: "text/html,*/*"], body: nil)
                #expect(missing.status == .notFound && missing.text.contains("Page not found"))
                let apiMissing = try await client.execute(uri: "/v1/no-such-thing", method: .get, headers: [.accept: "text/html,*/*"], body: nil)
                #expect(apiMissing.headers[.contentType] == "application/problem+json")
                #expect(try await leader.get("/trusts/\(fixture.trustA.id)").status == .forbidden, "a school leader has no trust pages")
            }
        }
    }

    @Test func theReturnFormShowsEveryErrorStoresNothingAndHandlesAConcurrentEdit() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            let urn = fixture.ownSchool.urn
            let path = "/schools/\(urn)/returns/\(Self.openTerm)"
            try await withApp(db) { client in
                var leader = WebVisitor(client)
                try await leader.signIn(fixture.tokens["school_leader"]!.token)
                let form = try await leader.get(path + "/edit")
                #expect(form.status == .ok && form.text.contains(#"name="primary_need.SEMH.sen_support""#))
                let wrong = try await leader.post(
                    path + "/edit", [("version", ""), ("pupils_on_roll", "300"), ("sen_support", "400"), ("ehc_plan", "many")])
                #expect(wrong.status == .unprocessableContent)
                #expect(wrong.text.contains("There is a problem"))
                #expect(wrong.text.contains(##"href="#f-sen_support""##) && wrong.text.contains(##"href="#f-ehc_plan""##), "both errors, linked to their fields")
                #expect(wrong.text.contains(#"value="many""#), "what was typed is kept")
                let missing = try await client.execute(uri: "/v1\(path.replacingOccurrences(of: "/returns/", with: "/sen-returns/"))", method: .get, headers: fixture.headers("school_leader"), body: nil)
                #expect(missing.status == .notFound, "nothing was stored")

                let saved = try await leader.post(path + "/edit", [("version", ""), ("pupils_on_roll", "300"), ("sen_support", "40"), ("ehc_plan", "9")])
                #expect(saved.status == .seeOther && saved.headers[.location] == path + "?done=saved")
                // Someone else amends it (through the API) while the leader has version 1 open.
                var executive = WebVisitor(client)
                try await executive.signIn(fixture.tokens["trust_executive"]!.token)
                _ = try await executive.get(path + "/edit")
                let theirs = try await executive.post(path + "/edit", [("version", "1"), ("pupils_on_roll", "300"), ("sen_support", "44"), ("ehc_plan", "9")])
                #expect(theirs.status == .seeOther)
                let conflict = try await leader.post(path + "/edit", [("version", "1"), ("pupils_on_roll", "301"), ("sen_support", "40"), ("ehc_plan", "9")])
                #expect(conflict.status == .conflict)
                #expect(conflict.text.contains("Someone else saved this return") && conflict.text.contains("40 → 44"))
                #expect(conflict.text.contains(#"name="version" value="2""#) && conflict.text.contains(#"value="301""#), "redo over the new version, with what was typed")
                let redone = try await leader.post(path + "/edit", [("version", "2"), ("pupils_on_roll", "301"), ("sen_support", "40"), ("ehc_plan", "9")])
                #expect(redone.status == .seeOther)

                // Approved: the leader can no longer change it.
                #expect(try await executive.post(path + "/approve", []).status == .seeOther)
                let locked = try await leader.post(path + "/edit", [("version", "3"), ("pupils_on_roll", "1"), ("sen_support", "0"), ("ehc_plan", "0")])
                #expect(locked.status == .conflict && locked.text.contains("approved"))
                let page = try await leader.get(path)
                #expect(page.text.contains("Approved") && !page.text.contains("Amend the return"))
            }
            let versions = try await db.adminSQL("SELECT max(version)::text FROM sen_return_versions WHERE urn = $1", [String(urn)])
            #expect(versions == [["3"]])
        }
    }

    @Test func aCSVImportWithABadRowStoresNothingAndTheFixedFileImportsOnce() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            try await withApp(db) { client in
                var executive = WebVisitor(client)
                try await executive.signIn(fixture.tokens["trust_executive"]!.token)
                let page = try await executive.get("/trusts/\(fixture.trustA.id)/import")
                let key = try #require(page.text.range(of: #"name="key" value=""#).map { String(page.text[$0.upperBound...].prefix { $0 != "\"" }) })
                let csv = "urn,pupils_on_roll,sen_support,ehc_plan\n\(fixture.siblingSchool.urn),300,40,5\n\(fixture.ownSchool.urn),abc,10,2\n"
                let answer = try await executive.upload(
                    "/trusts/\(fixture.trustA.id)/import", fields: [("key", key), ("term", Self.openTerm.description)],
                    file: ("file", "returns.csv", Array(csv.utf8)))
                #expect(answer.status == .unprocessableContent)
                #expect(answer.text.contains("<td class=\"numeric\">3</td><td><code>pupils_on_roll</code></td>"), "row 3, column pupils_on_roll")
                #expect(try await db.adminSQL("SELECT count(*) FROM sen_returns") == [["0"]], "nothing was stored")
                // The row put right and the form sent again with its key: both rows stored, and the receipt says so.
                let fixed = csv.replacingOccurrences(of: ",abc,", with: ",200,")
                let stored = try await executive.upload(
                    "/trusts/\(fixture.trustA.id)/import", fields: [("key", key), ("term", Self.openTerm.description)],
                    file: ("file", "returns.csv", Array(fixed.utf8)))
                #expect(stored.status == .ok)
                #expect(stored.text.contains("2 rows for ") && stored.text.contains(": 2 new, 0 amended, 0 unchanged"))
                // The same form sent twice (a double click) imports once and shows the same receipt.
                let again = try await executive.upload(
                    "/trusts/\(fixture.trustA.id)/import", fields: [("key", key), ("term", Self.openTerm.description)],
                    file: ("file", "returns.csv", Array(fixed.utf8)))
                #expect(again.status == .ok && again.text.contains(": 2 new, 0 amended, 0 unchanged"))
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_returns") == [["2"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_return_versions") == [["2"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM idempotency_keys") == [["1"]])
        }
    }
}

@Suite struct WebSurveyTests {
    @Test func aSchoolLeaderSendsASurveyReturnAndTheTrustSeesSmallSchoolsHidden() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.withReturns(db)
            try await db.withDatabase { database in
                try await DemoData.loadSurveys(into: SurveyStore(database: database), logger: .test)
            }
            let term = WebAppTests.openTerm
            let path = "/schools/\(fixture.ownSchool.urn)/surveys/leader_concerns/\(term)"
            try await withApp(db) { client in
                var leader = WebVisitor(client)
                try await leader.signIn(fixture.tokens["school_leader"]!.token)
                let form = try await leader.get(path)
                #expect(form.status == .ok && form.text.contains(#"name="items.concern_mental_health.very""#))
                let wrong = try await leader.post(path, [("version", ""), ("respondents", "3"), ("items.concern_mental_health.very", "five")])
                #expect(wrong.status == .unprocessableContent && wrong.text.contains("There is a problem") && wrong.text.contains(#"value="five""#))
                let saved = try await leader.post(path, [("version", ""), ("respondents", "3"), ("items.concern_mental_health.very", "2"), ("items.concern_mental_health.somewhat", "1")])
                #expect(saved.status == .seeOther)
                let again = try await leader.get(path)
                #expect(again.text.contains(#"name="version" value="1""#) && again.text.contains(#"value="2""#), "the form shows the stored return")
                var executive = WebVisitor(client)
                try await executive.signIn(fixture.tokens["trust_executive"]!.token)
                #expect(try await executive.get(path).status == .forbidden, "the form is the school leader's")
                let results = try await executive.get("/trusts/\(fixture.trustA.id)/surveys/leader_concerns?term=\(term)")
                #expect(results.status == .ok && results.text.contains(fixture.ownSchool.name))
                #expect(results.text.contains("c: fewer than 10 respondents"), "three respondents are hidden")
                #expect(!results.text.contains(">3</td>"), "the hidden count is not on the page")
                let csv = try await executive.get("/trusts/\(fixture.trustA.id)/surveys/leader_concerns?term=\(term)&download=results")
                #expect(csv.text.hasPrefix("urn,name,item,option,respondents,count,percent,suppressed"))
                let own = csv.text.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("\(fixture.ownSchool.urn),") }
                #expect(!own.isEmpty && own.allSatisfy { $0.hasSuffix(",c,c,c,primary") }, "hidden in the download as on the page")
            }
        }
    }
}

@Suite struct WebAdminAndResearchTests {
    @Test func aResearchersDifferentiallyPrivateQuerySpendsTheirBudgetOnceAndOnlyFromAForm() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.withReturns(db)
            try await db.withDatabase { database in
                try await DemoData.releaseTerms(into: ResearchStore(database: database), logger: .test)
            }
            try await withApp(db) { client in
                var researcher = WebVisitor(client)
                try await researcher.signIn(fixture.tokens["researcher"]!.token)
                let page = try await researcher.get("/research")
                #expect(page.status == .ok && page.text.contains("Released term"))
                let fields = [("term", "2024-25-autumn"), ("query", "sen"), ("group_by", "region"), ("privacy", "dp"), ("epsilon", "0.25"), ("format", "html")]
                #expect(try await researcher.post("/research", fields, csrf: .some(nil)).status == .forbidden, "no form token, no query")
                let first = try await researcher.post("/research", fields)
                #expect(first.status == .ok && first.text.contains("Budget left for this release: ε 0.75"))
                let again = try await researcher.post("/research", fields)
                #expect(again.text.contains("cost nothing") && again.text.contains("ε 0.75"), "asking again is free")
                let sdc = try await researcher.post("/research", [("term", "2024-25-autumn"), ("query", "sen"), ("group_by", "la"), ("privacy", "sdc"), ("format", "csv")])
                #expect(sdc.status == .ok && sdc.headers[.contentType]?.hasPrefix("text/csv") == true && sdc.text.hasPrefix("key,parent,pupils"))
                let unreleased = try await researcher.post("/research", [("term", "2025-26-summer"), ("query", "sen"), ("group_by", "region"), ("privacy", "sdc")])
                #expect(unreleased.status == .notFound && unreleased.text.contains("only released terms"))
                var executive = WebVisitor(client)
                try await executive.signIn(fixture.tokens["trust_executive"]!.token)
                #expect(try await executive.get("/research").status == .forbidden)
            }
            let spent = try await db.adminSQL("SELECT spent_micro::text FROM dp_budgets")
            #expect(spent == [["250000"]])
        }
    }

    @Test func tokensAreIssuedOnceRevokedAndLimitedToWhatTheIssuerMayGive() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            try await withApp(db) { client in
                var executive = WebVisitor(client)
                try await executive.signIn(fixture.tokens["trust_executive"]!.token)
                let page = try await executive.get("/tokens")
                #expect(page.status == .ok && !page.text.contains(#"value="admin""#), "a trust executive is offered school leaders' tokens only")
                let refused = try await executive.post("/tokens", [("role", "admin"), ("label", "x")])
                #expect(refused.status == .unprocessableContent)
                let foreign = try await executive.post("/tokens", [("role", "school_leader"), ("urns", String(fixture.foreignSchool.urn)), ("label", "x")])
                #expect(foreign.status == .unprocessableContent && foreign.text.contains("not in this trust"))
                let issued = try await executive.post("/tokens", [("role", "school_leader"), ("urns", String(fixture.ownSchool.urn)), ("label", "new leader")])
                #expect(issued.status == .created)
                let secret = try #require(issued.text.range(of: #"id="issued-token" type="text" readonly value=""#).map {
                    String(issued.text[$0.upperBound...].prefix { $0 != "\"" })
                })
                #expect(secret.hasPrefix("sst_"))
                #expect(try await executive.get("/tokens").text.contains(secret) == false, "shown once")
                var leader = WebVisitor(client)
                #expect(try await leader.signIn(secret).headers[.location] == "/")
                #expect(try await leader.get("/schools/\(fixture.ownSchool.urn)").status == .ok)
                let id = try #require(try await db.adminSQL("SELECT token_id::text FROM api_tokens WHERE label = 'new leader'").first?.first ?? nil)
                #expect(try await executive.post("/tokens/\(id)/revoke", []).status == .seeOther)
                #expect(try await leader.get("/schools/\(fixture.ownSchool.urn)").headers[.location]?.contains("session=revoked") == true)
                let admin = try #require(try await db.adminSQL("SELECT token_id::text FROM api_tokens WHERE label = 'demo:admin'").first?.first ?? nil)
                #expect(try await executive.post("/tokens/\(admin)/revoke", []).status == .notFound, "not a token the executive manages")
            }
        }
    }

    @Test func anAdministratorImportsTheRegisterAndReleasesATerm() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.withReturns(db)
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/gias-sample-cp1252.csv")
            let file = Array(try Data(contentsOf: url))
            try await withApp(db) { client in
                var admin = WebVisitor(client)
                try await admin.signIn(fixture.tokens["admin"]!.token)
                #expect(try await admin.get("/").headers[.location] == "/admin")
                let page = try await admin.get("/admin")
                #expect(page.status == .ok && page.text.contains(fixture.trustA.name))
                let imported = try await admin.upload("/admin/gias", fields: [("create_trusts", "true"), ("encoding", "")], file: ("file", "gias.csv", file))
                #expect(imported.status == .ok && imported.text.contains("5 new") && imported.text.contains("Rows left out"))
                let bad = try await admin.upload("/admin/gias", fields: [], file: ("file", "x.csv", Array("EstablishmentName,Town\nx,y\n".utf8)))
                #expect(bad.status == .unprocessableContent && bad.text.contains("There is a problem"))
                let trustPage = try await admin.get("/admin/trusts/\(fixture.trustA.id)")
                #expect(trustPage.status == .ok && trustPage.text.contains(fixture.ownSchool.name))
                let added = try await admin.post("/admin/trusts", [("name", "Northern Lights Trust"), ("gias_code", "TR55555")])
                #expect(added.status == .ok && added.text.contains("Northern Lights Trust is added"))
                let badCode = try await admin.post("/admin/trusts", [("name", "X"), ("gias_code", "nope")])
                #expect(badCode.status == .unprocessableContent && badCode.text.contains("TR01234"))
                let released = try await admin.post("/admin/releases", [("term", "2024-25-autumn")])
                #expect(released.status == .ok && released.text.contains("is released for research"))
                let twice = try await admin.post("/admin/releases", [("term", "2024-25-autumn")])
                #expect(twice.status == .conflict && twice.text.contains("already released"))
                var executive = WebVisitor(client)
                try await executive.signIn(fixture.tokens["trust_executive"]!.token)
                #expect(try await executive.get("/admin").status == .forbidden)
            }
        }
    }
}

extension HTTPField.Name {
    static let xContentTypeOptionsTest = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicyTest = HTTPField.Name("Referrer-Policy")!
}
