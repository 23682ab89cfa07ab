import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SENCore
import SENHTTP
import SENStore
import SENTestSupport
import Testing

/// A GET with a token this server authenticated in the last five minutes confirms the token inside its own
/// transaction instead of a statement before it (`AuthMiddleware`, migration 0020). Whatever is kept, a token that
/// is revoked, expires or changes straight in the database answers for what it is now at its very next request.
@Suite struct KeptTokenTests {
    @Test func aKeptTokenAnswersOnlyWhileItStands() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            let trust = fixture.trustA.id.uuidString
            try await withApp(db) { client in
                let executive = fixture.headers("trust_executive")
                // One route whose handler runs a transaction, one that runs none (confirmed by a statement of its own).
                for path in ["/v1/trusts/\(trust)", "/v1/me"] {
                    func status(_ headers: HTTPFields = executive) async throws -> HTTPResponse.Status {
                        try await client.execute(uri: path, method: .get, headers: headers) { $0.status }
                    }
                    #expect(try await status() == .ok, "\(path): first use")
                    #expect(try await status() == .ok, "\(path): kept")
                    try await db.adminSQL("UPDATE api_tokens SET revoked_at = now() WHERE label = 'demo:trust_executive'")
                    try await client.execute(uri: path, method: .get, headers: executive) { response in
                        #expect(response.status == .unauthorized, "\(path): revoked while kept")
                        #expect(response.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
                        #expect(!response.text.contains(fixture.trustA.name))
                    }
                    try await db.adminSQL("UPDATE api_tokens SET revoked_at = NULL WHERE label = 'demo:trust_executive'")
                    #expect(try await status() == .ok, "\(path): standing again")
                    try await db.adminSQL("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE label = 'demo:trust_executive'")
                    #expect(try await status() == .unauthorized, "\(path): expired while kept")
                    try await db.adminSQL("UPDATE api_tokens SET expires_at = NULL WHERE label = 'demo:trust_executive'")
                    #expect(try await status() == .ok, "\(path): unexpired")
                }

                // A school leader's schools changed in the database: the next request sees the new ones.
                let leader = fixture.headers("school_leader")
                let own = "/v1/schools/\(fixture.ownSchool.urn)"
                let sibling = "/v1/schools/\(fixture.siblingSchool.urn)"
                for _ in 0..<2 {
                    try await client.execute(uri: own, method: .get, headers: leader) { #expect($0.status == .ok) }
                }
                try await client.execute(uri: sibling, method: .get, headers: leader) { #expect($0.status == .notFound) }
                try await db.adminSQL(
                    "UPDATE api_tokens SET urns = $1::integer[] WHERE label = 'demo:school_leader'", ["{\(fixture.siblingSchool.urn)}"])
                try await client.execute(uri: own, method: .get, headers: leader) { #expect($0.status == .notFound) }
                try await client.execute(uri: sibling, method: .get, headers: leader) { #expect($0.status == .ok) }
                try await client.execute(uri: "/v1/me", method: .get, headers: leader) { response in
                    #expect(response.text.contains("\(fixture.siblingSchool.urn)"))
                    #expect(!response.text.contains("\(fixture.ownSchool.urn)"))
                }
            }
        }
    }

    /// A write with a kept token: refuted, it stores nothing; run again for the token as it is now, it stores once.
    @Test func aKeptTokensWriteIsRefusedOrRunAgainWholeAndOnce() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            let body = #"{"pupils_on_roll": 420, "sen_support": 61, "ehc_plan": 14, "senco": {"on_slt": true, "national_award": "held"}}"#
            let term = "2025-26-autumn"
            try await withApp(db) { client in
                var leader = fixture.headers("school_leader")
                // Sized, as a client's body is, so that the server can read it first and run the handler again.
                leader[.contentLength] = String(body.utf8.count)
                let own = "/v1/schools/\(fixture.ownSchool.urn)"
                let sibling = "/v1/schools/\(fixture.siblingSchool.urn)"
                func returns(_ urn: Int) async throws -> [[String?]] {
                    try await db.adminSQL(
                        "SELECT count(*), max(version) FROM sen_return_versions WHERE urn = $1", [String(urn)])
                }
                try await client.execute(uri: own, method: .get, headers: fixture.headers("school_leader")) { #expect($0.status == .ok) }

                // Revoked while kept: 401, and nothing stored.
                try await db.adminSQL("UPDATE api_tokens SET revoked_at = now() WHERE label = 'demo:school_leader'")
                try await client.execute(uri: "\(own)/sen-returns/\(term)", method: .put, headers: leader, body: ByteBuffer(string: body)) {
                    #expect($0.status == .unauthorized)
                }
                #expect(try await returns(fixture.ownSchool.urn) == [["0", nil]])

                // Standing again and kept; then moved to the sibling school. The write for the sibling is refuted on
                // its first run, then authenticated afresh and run again on the same body: stored once, version 1.
                try await db.adminSQL("UPDATE api_tokens SET revoked_at = NULL WHERE label = 'demo:school_leader'")
                try await client.execute(uri: own, method: .get, headers: fixture.headers("school_leader")) { #expect($0.status == .ok) }
                try await db.adminSQL(
                    "UPDATE api_tokens SET urns = $1::integer[] WHERE label = 'demo:school_leader'", ["{\(fixture.siblingSchool.urn)}"])
                try await client.execute(uri: "\(sibling)/sen-returns/\(term)", method: .put, headers: leader, body: ByteBuffer(string: body)) {
                    response in
                    #expect(response.status == .created)
                    #expect(response.headers[.eTag] == "\"1\"")
                }
                #expect(try await returns(fixture.siblingSchool.urn) == [["1", "1"]])
                try await client.execute(uri: "\(own)/sen-returns/\(term)", method: .put, headers: leader, body: ByteBuffer(string: body)) {
                    #expect($0.status == .notFound)
                }
                #expect(try await returns(fixture.ownSchool.urn) == [["0", nil]])
            }
        }
    }

    /// How many times PostgreSQL ran each function during `body`'s requests (`track_functions`, counted once the
    /// application's connections have closed and reported their statistics).
    func functionCalls(_ db: TestDatabase, tokensKept: Int, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void)
        async throws -> (authenticate: Int, confirm: Int)
    {
        try await db.adminSQL(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET track_functions = ''pl''', current_database()); END $$")
        try await db.adminSQL("SELECT pg_stat_reset()")
        try await withApp(db, tokensKept: tokensKept, body)
        var last: (Int, Int) = (-1, -1)
        for _ in 0..<40 {
            try await Task.sleep(for: .milliseconds(250))
            let rows = try await db.adminSQL(
                """
                SELECT coalesce(sum(calls) FILTER (WHERE funcname = 'authenticate_token'), 0),
                       coalesce(sum(calls) FILTER (WHERE funcname = 'confirm_token'), 0)
                FROM pg_stat_user_functions
                """)
            let now = (Int(rows[0][0]!)!, Int(rows[0][1]!)!)
            // Settled: the same counts twice, once the connections have gone.
            let open = try await db.adminSQL(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND usename = 'senstat_app'")
            if now == last && open == [["0"]] { break }
            last = now
        }
        return last
    }

    @Test func aKeptTokensGetSendsNoStatementOfItsOwn() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            let trust = fixture.trustA.id.uuidString
            let requests: @Sendable (any TestClientProtocol) async throws -> Void = { client in
                for _ in 0..<10 {
                    try await client.execute(uri: "/v1/trusts/\(trust)", method: .get, headers: fixture.headers("trust_executive")) {
                        #expect($0.status == .ok)
                    }
                }
                for _ in 0..<5 {
                    try await client.execute(uri: "/v1/me", method: .get, headers: fixture.headers("trust_executive")) {
                        #expect($0.status == .ok)
                    }
                }
            }
            // Kept: the first request authenticates; the other 14 confirm, each once (confirm_token itself calls
            // authenticate_token, which the statistics count as well).
            let kept = try await functionCalls(db, tokensKept: 100, requests)
            #expect(kept.confirm == 14)
            #expect(kept.authenticate == 15)
            // Nothing kept: every request authenticates by a statement of its own.
            let none = try await functionCalls(db, tokensKept: 0, requests)
            #expect(none.confirm == 0)
            #expect(none.authenticate == 15)
        }
    }
}
