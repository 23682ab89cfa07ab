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

/// Every term whose census day has passed is open; today (after every deadline below) submissions are late.
let openTerm = "2025-26-autumn"

@Suite struct ReturnsAPITests {
    let body1 = #"{"pupils_on_roll": 420, "sen_support": 61, "ehc_plan": 14, "senco": {"on_slt": true, "national_award": "held"}}"#
    let body2 = #"{"pupils_on_roll": 421, "sen_support": 63, "ehc_plan": 14, "senco": {"on_slt": true, "national_award": "held"}}"#

    @Test func submitAmendWithIfMatchAndSeeTheHistory() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let path = "/v1/schools/\(f.ownSchool.urn)/sen-returns/\(openTerm)"
            try await withApp(db) { client in
                try await client.execute(uri: path, method: .put, headers: f.headers("school_leader"), body: ByteBuffer(string: body1)) { response in
                    #expect(response.status == .created)
                    #expect(response.headers[.eTag] == "\"1\"")
                    let body = try response.decode(ReturnBody.self)
                    #expect(body.version == 1)
                    #expect(body.late, "the deadline of \(openTerm) has passed")
                    #expect(body.value["sen_support"] == .integer(61))
                }
                try await client.execute(uri: path, method: .put, headers: f.headers("school_leader"), body: ByteBuffer(string: body2)) { response in
                    #expect(response.status == .preconditionRequired)
                    #expect(response.headers[.eTag] == "\"1\"")
                }
                var headers = f.headers("school_leader")
                headers[.ifMatch] = "\"1\""
                try await client.execute(uri: path, method: .put, headers: headers, body: ByteBuffer(string: body2)) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.eTag] == "\"2\"")
                }
                try await client.execute(uri: path, method: .put, headers: headers, body: ByteBuffer(string: body1)) { response in
                    #expect(response.status == .preconditionFailed)
                }
                try await client.execute(uri: path, method: .get, headers: f.headers("trust_executive")) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.eTag] == "\"2\"")
                    let decoded = try response.decode(ReturnBody.self)
                    #expect(decoded.value["sen_support"] == .integer(63))
                }
                try await client.execute(uri: path + "/versions", method: .get, headers: f.headers("school_leader")) { response in
                    #expect(response.status == .ok)
                    let versions = try response.decode(ReturnVersions.self).versions
                    #expect(versions.map(\.version) == [1, 2])
                    let changes = versions[1].changes
                    #expect(changes.map(\.field) == ["pupils_on_roll", "sen_support"])
                    #expect(changes[1].from == .integer(61) && changes[1].to == .integer(63))
                }
                // Who: each version names the token that sent it.
                let leaderTokenID = try await client.execute(uri: "/v1/me", method: .get, headers: f.headers("school_leader")) {
                    try $0.decode(Me.self).tokenID
                }
                try await client.execute(uri: path + "/versions", method: .get, headers: f.headers("school_leader")) { response in
                    let versions = try response.decode(ReturnVersions.self).versions
                    #expect(versions.map(\.submittedBy) == [leaderTokenID, leaderTokenID])
                }
            }
            let audit = try await db.adminSQL(
                "SELECT action, before_digest IS NULL, after_digest IS NOT NULL FROM audit_log ORDER BY audit_id")
            #expect(audit == [["sen_return.create", "t", "t"], ["sen_return.amend", "f", "t"]])
            let chained = try await db.adminSQL(
                """
                SELECT (SELECT after_digest FROM audit_log WHERE action = 'sen_return.create') =
                       (SELECT before_digest FROM audit_log WHERE action = 'sen_return.amend')
                """)
            #expect(chained == [["t"]], "the amendment's before is the creation's after")
        }
    }

    /// A stored row the code cannot read (here warnings that are not a list of warnings, which jsonb allows) is an
    /// error the caller sees as a 500 problem and the log records — never a default value such as no warnings.
    @Test func aRowThatCannotBeReadIsAnErrorNotADefault() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let path = "/v1/schools/\(f.ownSchool.urn)/sen-returns/\(openTerm)"
            try await withApp(db) { client in
                try await client.execute(uri: path, method: .put, headers: f.headers("school_leader"), body: ByteBuffer(string: body1)) { response in
                    #expect(response.status == .created)
                }
                _ = try await db.adminSQL("UPDATE sen_return_versions SET warnings = '{\"not\": \"a list\"}'::jsonb WHERE urn = \(f.ownSchool.urn)")
                for uri in [path, path + "/versions"] {
                    try await client.execute(uri: uri, method: .get, headers: f.headers("school_leader")) { response in
                        #expect(response.status == .internalServerError, "\(uri)")
                        #expect(response.headers[.contentType] == "application/problem+json")
                        #expect(!response.text.contains("warnings\":[]"))
                    }
                }
            }
        }
    }

    @Test func invalidReturnsNameEveryFieldAndStoreNothing() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let path = "/v1/schools/\(f.ownSchool.urn)/sen-returns/\(openTerm)"
            try await withApp(db) { client in
                let bad = #"{"pupils_on_roll": 10, "sen_support": 9, "ehc_plan": -2, "primary_need": {"NSA": {"ehc_plan": 1}}, "notes": "free text"}"#
                try await client.execute(uri: path, method: .put, headers: f.headers("school_leader"), body: ByteBuffer(string: bad)) { response in
                    #expect(response.status == .unprocessableContent)
                    let details = try response.problem
                    let pointers = Set((details.errors ?? []).compactMap(\.pointer))
                    #expect(pointers.isSuperset(of: ["/ehc_plan", "/notes", "/primary_need/NSA/ehc_plan"]))
                }
                for broken in ["{", "[1,2]", "\"text\"", ""] {
                    try await client.execute(uri: path, method: .put, headers: f.headers("school_leader"), body: ByteBuffer(string: broken)) { response in
                        #expect(response.status.code >= 400 && response.status.code < 500, "\(broken)")
                        #expect(response.headers[.contentType] == "application/problem+json")
                    }
                }
                // Not yet open, malformed, another trust's school, a researcher.
                try await client.execute(uri: "/v1/schools/\(f.ownSchool.urn)/sen-returns/2027-28-autumn", method: .put, headers: f.headers("school_leader"), body: ByteBuffer(string: body1)) { response in
                    #expect(response.status == .unprocessableContent)
                }
                for term in ["2025-26-winter", "..%2F..%2Fetc", "2025-26-autumn%00"] {
                    try await client.execute(uri: "/v1/schools/\(f.ownSchool.urn)/sen-returns/\(term)", method: .put, headers: f.headers("school_leader"), body: ByteBuffer(string: body1)) { response in
                        #expect(response.status == .badRequest, "\(term)")
                    }
                }
                try await client.execute(uri: "/v1/schools/\(f.foreignSchool.urn)/sen-returns/\(openTerm)", method: .put, headers: f.headers("trust_executive"), body: ByteBuffer(string: body1)) { response in
                    #expect(response.status == .notFound)
                }
                try await client.execute(uri: path, method: .put, headers: f.headers("researcher"), body: ByteBuffer(string: body1)) { response in
                    #expect(response.status == .forbidden)
                }
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_returns") == [["0"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM audit_log") == [["0"]])
        }
    }

    @Test func approvalLocksAndAReasonUnlocks() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let path = "/v1/schools/\(f.ownSchool.urn)/sen-returns/\(openTerm)"
            try await withApp(db) { client in
                try await client.execute(uri: path, method: .put, headers: f.headers("school_leader"), body: ByteBuffer(string: body1)) { _ in }
                try await client.execute(uri: path + "/approval", method: .post, headers: f.headers("school_leader")) { response in
                    #expect(response.status == .forbidden)
                }
                try await client.execute(uri: path + "/approval", method: .post, headers: f.headers("other_trust_executive")) { response in
                    #expect(response.status == .notFound)
                }
                try await client.execute(uri: path + "/approval", method: .post, headers: f.headers("trust_executive")) { response in
                    #expect(response.status == .ok)
                    let decoded = try response.decode(ReturnBody.self)
                    #expect(decoded.status == "approved")
                }
                var headers = f.headers("school_leader")
                headers[.ifMatch] = "\"1\""
                try await client.execute(uri: path, method: .put, headers: headers, body: ByteBuffer(string: body2)) { response in
                    #expect(response.status == .conflict)
                }
                try await client.execute(uri: path + "/approval", method: .delete, headers: f.headers("trust_executive")) { response in
                    #expect(response.status == .unprocessableContent)
                }
                try await client.execute(uri: path + "/approval?reason=SEN%20support%20count%20wrong", method: .delete, headers: f.headers("trust_executive")) { response in
                    #expect(response.status == .ok)
                    let decoded = try response.decode(ReturnBody.self)
                    #expect(decoded.status == "submitted")
                }
                try await client.execute(uri: path, method: .put, headers: headers, body: ByteBuffer(string: body2)) { response in
                    #expect(response.status == .ok)
                }
            }
            let audit = try await db.adminSQL("SELECT action, detail->>'reason' FROM audit_log ORDER BY audit_id")
            #expect(audit == [
                ["sen_return.create", nil], ["sen_return.approve", nil], ["sen_return.unapprove", "SEN support count wrong"],
                ["sen_return.amend", nil],
            ])
        }
    }
}

@Suite struct ReturnsImportTests {
    func csv(_ f: Fixture, _ rows: [(Int, Int, Int, Int)]) -> String {
        "urn,pupils_on_roll,sen_support,ehc_plan\n" + rows.map { "\($0.0),\($0.1),\($0.2),\($0.3)" }.joined(separator: "\n") + "\n"
    }

    func importHeaders(_ f: Fixture, key: String?) -> HTTPFields {
        var headers = f.headers("trust_executive")
        headers[.contentType] = "text/csv"
        if let key { headers[HTTPField.Name("Idempotency-Key")!] = key }
        return headers
    }

    @Test func aBadCSVIsRefusedWithEveryErrorAndNothingStored() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let schools = f.trustA.schools
            let text = "urn,pupils_on_roll,sen_support,ehc_plan\n"
                + "\(schools[0].urn),200,30,7\n"
                + "\(schools[1].urn),100,90,20\n"
                + "\(f.foreignSchool.urn),100,10,2\n"
                + "\(schools[2].urn),abc,1,1\n"
                + "\(schools[0].urn),5,1,1\n"
            try await withApp(db) { client in
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/sen-returns/\(openTerm)/imports", method: .post,
                    headers: importHeaders(f, key: "k1"), body: ByteBuffer(string: text)
                ) { response in
                    #expect(response.status == .unprocessableContent)
                    let errors = try response.problem.errors ?? []
                    #expect(errors.map { "\($0.row ?? 0):\($0.column ?? "")" } == ["3:sen_support", "4:urn", "5:pupils_on_roll", "6:urn"])
                    #expect(errors.map(\.code) == ["exceeds_roll", "not_in_trust", "type", "duplicate_urn"])
                }
                // The core errors are fixed; now only the school of another trust is wrong: the database says so.
                let onlyForeign = "urn,pupils_on_roll,sen_support,ehc_plan\n\(schools[0].urn),200,30,7\n\(f.foreignSchool.urn),100,10,2\n"
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/sen-returns/\(openTerm)/imports", method: .post,
                    headers: importHeaders(f, key: "k2"), body: ByteBuffer(string: onlyForeign)
                ) { response in
                    #expect(response.status == .unprocessableContent)
                    let errors = try response.problem.errors ?? []
                    #expect(errors.map { "\($0.row ?? 0):\($0.column ?? ""):\($0.code)" } == ["3:urn:not_in_trust"])
                }
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_returns") == [["0"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_return_versions") == [["0"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM audit_log") == [["0"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM idempotency_keys") == [["0"]])
        }
    }

    @Test func theSameImportTwiceStoresOnceAndTheExportReimports() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let schools = f.trustA.schools
            let text = csv(f, [(schools[0].urn, 420, 60, 14), (schools[1].urn, 210, 30, 6), (schools[2].urn, 630, 90, 20)])
            let uri = "/v1/trusts/\(f.trustA.id)/sen-returns/\(openTerm)/imports"
            try await withApp(db) { client in
                let first = try await client.execute(uri: uri, method: .post, headers: importHeaders(f, key: "term-1"), body: ByteBuffer(string: text)) { response in
                    #expect(response.status == .ok)
                    let body = try response.decode(ImportResult.self)
                    #expect(body.created == 3 && body.amended == 0)
                    return response.text
                }
                try await client.execute(uri: uri, method: .post, headers: importHeaders(f, key: "term-1"), body: ByteBuffer(string: text)) { response in
                    #expect(response.status == .ok)
                    #expect(response.text == first)
                    #expect(response.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
                }
                try await client.execute(uri: uri, method: .post, headers: importHeaders(f, key: "term-1"), body: ByteBuffer(string: text + "\(schools[3].urn),180,20,3\n")) { response in
                    #expect(response.status == .unprocessableContent)
                }
                try await client.execute(uri: uri, method: .post, headers: importHeaders(f, key: nil), body: ByteBuffer(string: text)) { response in
                    #expect(response.status == .badRequest)
                }
                try await client.execute(uri: uri, method: .post, headers: f.headers("school_leader").merging([.contentType: "text/csv", HTTPField.Name("Idempotency-Key")!: "x"]), body: ByteBuffer(string: text)) { response in
                    #expect(response.status == .forbidden)
                }
                // Download, edit one value, upload again.
                var headers = f.headers("trust_executive")
                headers[.accept] = "text/csv"
                let exported = try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/sen-returns/\(openTerm)", method: .get, headers: headers) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("text/csv") == true)
                    return response.text
                }
                #expect(exported.hasPrefix("urn,pupils_on_roll,sen_support,ehc_plan,"))
                let edited = exported.replacingOccurrences(of: "\(schools[1].urn),210,30,6", with: "\(schools[1].urn),210,31,6")
                #expect(edited != exported)
                try await client.execute(uri: uri, method: .post, headers: importHeaders(f, key: "term-1-edit"), body: ByteBuffer(string: edited)) { response in
                    #expect(response.status == .ok)
                    let body = try response.decode(ImportResult.self)
                    #expect(body.created == 0 && body.amended == 1 && body.unchanged == 2)
                }
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_returns") == [["3"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_return_versions") == [["4"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM audit_log") == [["4"]], "one audit row per version")
        }
    }

    @Test func completenessShowsMissingLateAndApproved() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let schools = f.trustA.schools
            try await withApp(db) { client in
                try await client.execute(
                    uri: "/v1/trusts/\(f.trustA.id)/sen-returns/\(openTerm)/imports", method: .post,
                    headers: importHeaders(f, key: "c1"), body: ByteBuffer(string: csv(f, [(schools[0].urn, 420, 60, 14), (schools[1].urn, 210, 30, 6)]))
                ) { #expect($0.status == .ok) }
                try await client.execute(uri: "/v1/schools/\(schools[0].urn)/sen-returns/\(openTerm)/approval", method: .post, headers: f.headers("trust_executive")) {
                    #expect($0.status == .ok)
                }
                try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/completeness?term=\(openTerm)", method: .get, headers: f.headers("trust_executive")) { response in
                    #expect(response.status == .ok)
                    let body = try response.decode(Completeness.self)
                    #expect(body.totals == ["approved": 1, "late": 1, "submitted": 0, "missing": schools.count - 2])
                    let rows = body.schools
                    #expect(rows.count == schools.count)
                    #expect(rows.first { $0.urn == schools[0].urn }?.status == "approved")
                    #expect(rows.first { $0.urn == schools[2].urn }?.status == "missing")
                }
                var headers = f.headers("trust_executive")
                headers[.accept] = "text/csv"
                try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/completeness?term=\(openTerm)", method: .get, headers: headers) { response in
                    let lines = response.text.split(separator: "\r\n")
                    #expect(lines.first == "urn,name,phase,status,late,version,first_submitted_at,updated_at,approved_at")
                    #expect(lines.count == schools.count + 1)
                }
                try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/completeness?term=\(openTerm)", method: .get, headers: f.headers("other_trust_executive")) {
                    #expect($0.status == .notFound)
                }
                try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/completeness", method: .get, headers: f.headers("trust_executive")) {
                    #expect($0.status == .unprocessableContent)
                }
            }
        }
    }

    @Test func theDemoHasReturnsOutliersAndGaps() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                try await DemoData.load(into: database, logger: Logger.test)
                try await DemoData.loadReturns(into: ReturnsStore(database: database), logger: Logger.test)
                try await DemoData.loadReturns(into: ReturnsStore(database: database), logger: Logger.test)
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_returns") == [["\(16 * 9 - 2)"]])
            #expect(try await db.adminSQL("SELECT max(current_version) FROM sen_returns") == [["1"]], "reloading changes nothing")
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_returns WHERE term = '2025-26-summer'") == [["14"]])
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_returns WHERE status = 'approved'") == [["128"]])
            let heaton = try await db.adminSQL("SELECT round(avg(sen_support::numeric / pupils_on_roll), 2) FROM sen_returns WHERE urn = 990103")
            #expect(Double(heaton[0][0]!)! > 0.22)
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_returns WHERE late") == [["0"]])
        }
    }
}
