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

let everyone: [String?] = ["admin", "trust_executive", "school_leader", "researcher", "other_trust_executive", nil]

/// Every endpoint × every role × (own school, sibling school, another trust's school, no token).
@Suite struct AccessMatrixTests {
    typealias Row = (method: HTTPRequest.Method, path: String, body: String?, expected: [String?: HTTPResponse.Status])

    func rows(_ f: Fixture) -> [Row] {
        let a = f.trustA.id.uuidString
        let b = f.trustB.id.uuidString
        func statuses(_ admin: HTTPResponse.Status, _ exec: HTTPResponse.Status, _ leader: HTTPResponse.Status,
                      _ researcher: HTTPResponse.Status, _ other: HTTPResponse.Status) -> [String?: HTTPResponse.Status] {
            ["admin": admin, "trust_executive": exec, "school_leader": leader, "researcher": researcher,
             "other_trust_executive": other, nil: .unauthorized]
        }
        let leaderToken = #"{"role": "school_leader", "trust_id": "\#(a)", "urns": [\#(f.siblingSchool.urn)]}"#
        return [
            (.get, "/v1/me", nil, statuses(.ok, .ok, .ok, .ok, .ok)),
            (.get, "/v1/schools/\(f.ownSchool.urn)", nil, statuses(.ok, .ok, .ok, .forbidden, .notFound)),
            (.get, "/v1/schools/\(f.siblingSchool.urn)", nil, statuses(.ok, .ok, .notFound, .forbidden, .notFound)),
            (.get, "/v1/schools/\(f.foreignSchool.urn)", nil, statuses(.ok, .notFound, .notFound, .forbidden, .ok)),
            (.get, "/v1/schools/999999", nil, statuses(.notFound, .notFound, .notFound, .forbidden, .notFound)),
            (.get, "/v1/trusts", nil, statuses(.ok, .ok, .ok, .forbidden, .ok)),
            (.get, "/v1/trusts/\(a)", nil, statuses(.ok, .ok, .ok, .forbidden, .notFound)),
            (.get, "/v1/trusts/\(b)", nil, statuses(.ok, .notFound, .notFound, .forbidden, .ok)),
            (.get, "/v1/trusts/\(a)/schools", nil, statuses(.ok, .ok, .ok, .forbidden, .notFound)),
            (.get, "/v1/trusts/\(b)/schools", nil, statuses(.ok, .notFound, .notFound, .forbidden, .ok)),
            (.post, "/v1/trusts", #"{"name": "Matrix Trust"}"#, statuses(.created, .forbidden, .forbidden, .forbidden, .forbidden)),
            (.get, "/v1/tokens", nil, statuses(.ok, .ok, .forbidden, .forbidden, .ok)),
            (.post, "/v1/tokens", leaderToken, statuses(.created, .created, .forbidden, .forbidden, .forbidden)),
            (.post, "/v1/admin/gias-imports", "URN,EstablishmentName\n", statuses(.ok, .forbidden, .forbidden, .forbidden, .forbidden)),
            (.get, "/v1/invitations", nil, statuses(.ok, .ok, .forbidden, .forbidden, .ok)),
            (.post, "/v1/invitations", #"{"email": "new.head@matrix.sch.uk", "role": "school_leader", "trust_id": "\#(a)", "urns": [\#(f.siblingSchool.urn)]}"#,
             statuses(.created, .created, .forbidden, .forbidden, .forbidden)),
            (.get, "/v1/memberships", nil, statuses(.ok, .ok, .forbidden, .forbidden, .ok)),
            (.get, "/v1/identity-events", nil, statuses(.ok, .ok, .forbidden, .forbidden, .ok)),
            (.get, "/v1/trusts/\(a)/sign-in-sources", nil, statuses(.ok, .ok, .forbidden, .forbidden, .notFound)),
            (.put, "/v1/trusts/\(a)/sign-in-sources", #"{"email_domains": ["matrix.sch.uk"], "tenants": []}"#,
             statuses(.ok, .forbidden, .forbidden, .forbidden, .forbidden)),
        ]
    }

    @Test func statusesForEveryRoleAndNoForeignFieldsLeak() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            try await withApp(db) { client in
                for row in rows(fixture) {
                    for who in everyone {
                        let expected = row.expected[who]!
                        try await client.execute(
                            uri: row.path, method: row.method, headers: fixture.headers(who),
                            body: row.body.map { ByteBuffer(string: $0) }
                        ) { response in
                            #expect(response.status == expected, "\(row.method) \(row.path) as \(who ?? "no token")")
                            if response.status.code >= 400 {
                                #expect(response.headers[.contentType] == "application/problem+json")
                            }
                            if response.status == .unauthorized {
                                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                            }
                            // Whatever the answer, nothing of a school or trust the caller may not see.
                            if who == "trust_executive" || who == "school_leader" {
                                #expect(!response.text.contains(fixture.foreignSchool.name))
                                #expect(!response.text.contains(fixture.trustB.name))
                            }
                            if who == "other_trust_executive" {
                                #expect(!response.text.contains(fixture.ownSchool.name))
                                #expect(!response.text.contains(fixture.trustA.name))
                            }
                            if who == "school_leader" {
                                #expect(!response.text.contains(fixture.siblingSchool.name))
                            }
                        }
                    }
                }
            }
        }
    }

    /// Another trust's school answers exactly like a school that does not exist.
    @Test func foreignObjectsAreIndistinguishableFromMissingOnes() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            try await withApp(db) { client in
                func detail(_ path: String) async throws -> String? {
                    try await client.execute(uri: path, method: .get, headers: fixture.headers("trust_executive")) { response in
                        #expect(response.status == .notFound)
                        return try response.problem.detail
                    }
                }
                let foreignSchool = try await detail("/v1/schools/\(fixture.foreignSchool.urn)")
                let missingSchool = try await detail("/v1/schools/999998")
                #expect(foreignSchool == missingSchool)
                let foreignTrust = try await detail("/v1/trusts/\(fixture.trustB.id)")
                let missingTrust = try await detail("/v1/trusts/\(UUID().uuidString)")
                #expect(foreignTrust == missingTrust)
            }
        }
    }

    @Test func aSchoolLeaderSeesOnlyItsOwnSchoolsInItsTrust() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            try await withApp(db) { client in
                try await client.execute(uri: "/v1/trusts/\(fixture.trustA.id)/schools", method: .get, headers: fixture.headers("school_leader")) { response in
                    let decoded = try response.decode(SchoolList.self)
                    #expect(decoded.schools.map(\.urn.value) == [fixture.ownSchool.urn])
                }
                try await client.execute(uri: "/v1/trusts/\(fixture.trustA.id)/schools", method: .get, headers: fixture.headers("trust_executive")) { response in
                    let decoded = try response.decode(SchoolList.self)
                    #expect(decoded.schools.count == fixture.trustA.schools.count)
                }
            }
        }
    }
}

@Suite struct TokenLifecycleTests {
    @Test func badTokensAnswer401WithAChallenge() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            let unknown = BearerToken.generate()
            try await withApp(db) { client in
                for header in ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-token", "Bearer \(unknown)", "Token \(fixture.tokens["admin"]!.token)"] {
                    let headers: HTTPFields = header.isEmpty ? [:] : [.authorization: header]
                    try await client.execute(uri: "/v1/me", method: .get, headers: headers) { response in
                        #expect(response.status == .unauthorized, "\(header)")
                        #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer realm=\"senstat\"") == true)
                        #expect(response.headers[.contentType] == "application/problem+json")
                    }
                }
            }
        }
    }

    /// An executive issues a school-leader token, the token works, the executive revokes it, and the very next
    /// request with it is refused. Expired tokens are refused too.
    @Test func issueUseRevokeExpire() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            try await withApp(db) { client in
                let body = #"{"role": "school_leader", "urns": [\#(fixture.siblingSchool.urn)], "label": "SENCO"}"#
                let created = try await client.execute(
                    uri: "/v1/tokens", method: .post, headers: fixture.headers("trust_executive"), body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .created)
                    return try response.decode(TokenBody.self)
                }
                let token = try #require(created.token)
                let id = created.id
                #expect(created.trustID == fixture.trustA.id.uuidString)
                let auth: HTTPFields = [.authorization: "Bearer \(token)"]
                try await client.execute(uri: "/v1/schools/\(fixture.siblingSchool.urn)", method: .get, headers: auth) { response in
                    #expect(response.status == .ok)
                    #expect(response.text.contains(fixture.siblingSchool.name))
                }
                // Listing never shows a secret.
                try await client.execute(uri: "/v1/tokens", method: .get, headers: fixture.headers("trust_executive")) { response in
                    #expect(response.status == .ok)
                    #expect(!response.text.contains(token))
                    #expect(response.text.contains(id))
                }
                // The other trust cannot revoke it; its own executive can.
                try await client.execute(uri: "/v1/tokens/\(id)", method: .delete, headers: fixture.headers("other_trust_executive")) { response in
                    #expect(response.status == .notFound)
                }
                try await client.execute(uri: "/v1/tokens/\(id)", method: .delete, headers: fixture.headers("trust_executive")) { response in
                    #expect(response.status == .noContent)
                }
                try await client.execute(uri: "/v1/me", method: .get, headers: auth) { response in
                    #expect(response.status == .unauthorized)
                }
                // Expiry.
                try await db.adminSQL("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE label = 'demo:researcher'")
                try await client.execute(uri: "/v1/me", method: .get, headers: fixture.headers("researcher")) { response in
                    #expect(response.status == .unauthorized)
                }
            }
        }
    }

    @Test func invalidTokenRequestsNameTheirFields() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            try await withApp(db) { client in
                let cases: [(String, HTTPResponse.Status, [String])] = [
                    (#"{"role": "school_leader", "trust_id": "\#(fixture.trustA.id)"}"#, .unprocessableContent, ["/urns"]),
                    (#"{"role": "school_leader", "trust_id": "\#(fixture.trustA.id)", "urns": [\#(fixture.foreignSchool.urn)]}"#, .unprocessableContent, ["/urns/0"]),
                    (#"{"role": "trust_executive"}"#, .unprocessableContent, ["/trust_id"]),
                    (#"{"role": "researcher", "trust_id": "\#(fixture.trustA.id)", "expires_at": "2001-01-01T00:00:00Z"}"#, .unprocessableContent, ["/trust_id", "/expires_at"]),
                    (#"{"role": "wizard"}"#, .unprocessableContent, ["/role"]),
                    (#"{"role": 7}"#, .unprocessableContent, ["/role"]),
                    (#"{"urns": []}"#, .unprocessableContent, ["/role"]),
                    (#"{"role": "admin""#, .badRequest, []),
                ]
                for (body, status, pointers) in cases {
                    try await client.execute(uri: "/v1/tokens", method: .post, headers: fixture.headers("admin"), body: ByteBuffer(string: body)) { response in
                        #expect(response.status == status, "\(body)")
                        let details = try response.problem
                        #expect((details.errors ?? []).compactMap(\.pointer) == pointers, "\(body)")
                    }
                }
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM api_tokens") == [["5"]], "nothing was stored")
        }
    }

    @Test func giasImportThroughTheAPI() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/gias-sample-cp1252.csv")
            let file = try Data(contentsOf: url)
            try await withApp(db) { client in
                for expectedNew in [5, 0] {
                    try await client.execute(
                        uri: "/v1/admin/gias-imports?create_trusts=true", method: .post,
                        headers: fixture.headers("admin").merging([.contentType: "text/csv"]), body: ByteBuffer(bytes: file)
                    ) { response in
                        #expect(response.status == .ok)
                        let body = try response.decode(GIASImportResult.self)
                        #expect(body.new == expectedNew)
                        #expect(body.rejected == 1 && body.rejections.count == 1)
                        #expect(body.trustsCreated == (expectedNew == 5 ? 2 : 0))
                    }
                }
                try await client.execute(uri: "/v1/schools/980001", method: .get, headers: fixture.headers("admin")) { response in
                    #expect(response.text.contains("St Thérèse’s Catholic Primary"))
                }
                try await client.execute(
                    uri: "/v1/admin/gias-imports", method: .post, headers: fixture.headers("admin"),
                    body: ByteBuffer(string: "EstablishmentName,Town\nx,y\n")
                ) { response in
                    #expect(response.status == .unprocessableContent)
                    let details = try response.problem
                    #expect(details.detail?.contains("'URN'") == true)
                }
            }
        }
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var copy = self
        for field in other { copy[field.name] = field.value }
        return copy
    }
}

@Suite struct ContractCoverageTests {
    /// The routes the server registers are exactly the operations the document describes: a route added without
    /// its documentation (or documentation left behind by a removed route) fails here.
    @Test func theRegisteredRoutesAreTheDocumentedOperations() async throws {
        try await withTestDatabase { db in
            let migrator = try Migrator.bundled(logger: .test)
            let router = buildRouter(database: db.makeDatabase(), migrator: migrator, settings: ServerSettings(), webApp: false)
            let registered = Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
            let documented = Set(
                OpenAPIDocument.bundled().operations.flatMap { operation in
                    operation.methods.map { "\($0.rawValue) /\(operation.template.joined(separator: "/"))" }
                })
            #expect(registered.count >= 30)
            #expect(registered == documented, "registered only: \(registered.subtracting(documented).sorted()); documented only: \(documented.subtracting(registered).sorted())")
            // The web app's pages add routes of their own outside /v1, and take none of the API's.
            let withPages = Set(
                buildRouter(database: db.makeDatabase(), migrator: migrator, settings: ServerSettings()).routes.map { "\($0.method.rawValue) \($0.path.description)" })
            let pages = withPages.subtracting(registered)
            #expect(pages.count >= 10 && registered.isSubset(of: withPages))
            #expect(pages.allSatisfy { !$0.contains(" /v1") }, "\(pages.sorted())")
        }
    }

    /// Every operation in the OpenAPI document is served: none falls through to the router's "no resource".
    @Test func everyDocumentedOperationHasARoute() async throws {
        try await withTestDatabase { db in
            let fixture = try await Fixture.load(db)
            let document = OpenAPIDocument.bundled()
            #expect(document.operations.count >= 12)
            try await withApp(db) { client in
                for operation in document.operations {
                    let path = "/" + operation.template.map { segment -> String in
                        switch segment {
                        case "{urn}": String(fixture.ownSchool.urn)
                        case "{trust}": fixture.trustA.id.uuidString
                        case "{id}": UUID().uuidString
                        default: String(segment)
                        }
                    }.joined(separator: "/")
                    for method in operation.methods {
                        try await client.execute(uri: path, method: method, headers: fixture.headers("admin"), body: ByteBuffer(string: "{}")) { response in
                            #expect(response.status != .methodNotAllowed, "\(method) \(path)")
                            #expect(!response.text.contains("no resource at"), "\(method) \(path) is documented but not routed")
                        }
                    }
                }
            }
        }
    }
}

@Suite struct RateLimitTests {
    /// A rate or burst from the environment that is 0, negative or not a number cannot make the wait computed
    /// from it trap (a division by zero turned into an integer).
    @Test(arguments: [0, -5, Double.nan, Double.infinity, -Double.infinity])
    func unusableSettingsAreTakenAsOne(_ setting: Double) {
        let limit = RateLimit(perSecond: setting, burst: setting)
        #expect(limit.perSecond == 1 && limit.burst == 1)
        #expect(RateLimit(perSecond: 20, burst: 60).perSecond == 20)
    }

    /// A token that spends its burst gets 429 with Retry-After; another token is unaffected.
    @Test func aTokenOverItsBudgetIsToldWhenToComeBack() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            // A refill of one request in 1,000 s: however slowly a loaded machine runs the six requests, the bucket
            // cannot refill between them.
            try await withApp(db, rateLimit: RateLimit(perSecond: 0.001, burst: 5)) { client in
                for _ in 0..<5 {
                    try await client.execute(uri: "/v1/me", method: .get, headers: f.headers("school_leader")) { #expect($0.status == .ok) }
                }
                try await client.execute(uri: "/v1/me", method: .get, headers: f.headers("school_leader")) { response in
                    #expect(response.status == .tooManyRequests)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
                }
                try await client.execute(uri: "/v1/me", method: .get, headers: f.headers("trust_executive")) { #expect($0.status == .ok) }
            }
        }
    }
}
