import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Logging
import NIOCore
import SENAPI
import SENCore
import SENHTTP
import SENStore
import SENTestSupport
import Synchronization
import Testing

/// An OpenID Connect provider of the tests' own making, on loopback, with signing keys generated here: discovery,
/// JWKS and a token endpoint that checks the PKCE verifier and answers with whatever id_token the test asks for.
/// The authorization step (a person at the provider's login page) is the test itself: `authorize` issues a code.
final class HostileProvider: Sendable {
    struct Key: Sendable {
        let kid: String
        let key: ES256PrivateKey
        var jwk: String {
            let (x, y) = key.publicKey.parameters!
            return #"{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)","kid":"\#(kid)","alg":"ES256","use":"sig"}"#
        }
    }

    struct State: Sendable {
        var published: [Key]
        var codes: [String: (nonce: String, challenge: String)] = [:]
        var used: Set<String> = []
        var jwksFetches = 0
        /// Lets a code be exchanged twice (a provider that fails to enforce single use).
        var allowReplay = false
        /// Builds the id_token from the nonce the sign-in sent.
        var token: @Sendable (String) async throws -> String = { _ in "" }
    }

    let state: Mutex<State>
    /// Known once the server listens (it binds port 0).
    let port = Mutex(0)
    var issuer: String { "http://127.0.0.1:\(port.withLock { $0 })" }

    init(key: Key) {
        self.state = Mutex(State(published: [key]))
    }

    func authorize(nonce: String, challenge: String) -> String {
        let code = "code-" + UUID().uuidString
        state.withLock { $0.codes[code] = (nonce, challenge) }
        return code
    }

    var router: Router<BasicRequestContext> {
        let router = Router()
        router.get(".well-known/openid-configuration") { _, _ in
            let base = self.issuer
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"issuer":"\#(base)","authorization_endpoint":"\#(base)/authorize","token_endpoint":"\#(base)/token","jwks_uri":"\#(base)/jwks","end_session_endpoint":"\#(base)/logout"}"#)))
        }
        router.get("jwks") { _, _ in
            let keys = self.state.withLock { state in
                state.jwksFetches += 1
                return state.published.map(\.jwk).joined(separator: ",")
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"keys":[\#(keys)]}"#)))
        }
        router.post("token") { request, _ in
            let body = try await request.body.collect(upTo: 65536)
            var fields: [String: String] = [:]
            for pair in String(buffer: body).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            let grant: (nonce: String, challenge: String)? = self.state.withLock { state in
                guard let code = fields["code"], let grant = state.codes[code] else { return nil }
                if state.used.contains(code) && !state.allowReplay { return nil }
                state.used.insert(code)
                return grant
            }
            guard let grant, let verifier = fields["code_verifier"], HostileProvider.challenge(verifier) == grant.challenge else {
                return Response(status: .badRequest, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"error":"invalid_grant"}"#)))
            }
            let token = try await self.state.withLock { $0.token }(grant.nonce)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"access_token":"x","token_type":"Bearer","id_token":"\#(token)"}"#)))
        }
        return router
    }

    static func challenge(_ verifier: String) -> String {
        base64url(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Runs a provider on a loopback port of the system's choosing for the length of `body`.
    static func with(_ body: @escaping @Sendable (HostileProvider) async throws -> Void) async throws {
        let provider = HostileProvider(key: Key(kid: "k1", key: ES256PrivateKey()))
        let (started, signal) = AsyncStream<Int>.makeStream()
        var quiet = Logger(label: "hostile-provider")
        quiet.logLevel = .critical
        let app = Application(
            router: provider.router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in signal.yield(channel.localAddress?.port ?? 0) }, logger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            defer { group.cancelAll() }
            for await port in started {
                provider.port.withLock { $0 = port }
                break
            }
            try await body(provider)
        }
    }
}

/// Claims as a provider writes them; nil fields are left out.
struct TestClaims: JWTPayload {
    var iss: String?
    var sub: String? = "subject-1"
    var aud: [String]?
    var azp: String?
    var exp: Double?
    var iat: Double?
    var nbf: Double?
    var nonce: String?
    var email: String? = "head@school.example.org"
    var email_verified: Bool? = true
    var name: String? = "Pat Head"
    /// DfE Sign-in's organisation claim (`urn` for a school).
    var organisation: [String: String]?

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Sign-in with OpenID Connect against the hostile provider: one success end to end, then every way an answer
/// can be wrong, each refused with a page and an audit line and nothing else changed.
@Suite(.serialized) struct SignInTests {
    static let clientID = "senstat-test"

    /// Signs in through `provider` as a browser would, with the id_token `token` makes; the callback's answer.
    static func signIn(
        _ client: any TestClientProtocol, provider: HostileProvider, state tamper: ((String) -> String)? = nil,
        replay: Bool = false, planted: String? = nil, _ token: @escaping @Sendable (String) async throws -> String
    ) async throws -> (start: TestResponse, finish: TestResponse, again: TestResponse?) {
        provider.state.withLock { $0.token = token }
        let start = try await client.execute(uri: "/sign-in/oidc/hostile", method: .get, headers: [:], body: nil)
        let location = try #require(start.headers[.location])
        let query = try #require(URLComponents(string: location)?.queryItems)
        func item(_ name: String) -> String? { query.first { $0.name == name }?.value }
        #expect(item("code_challenge_method") == "S256")
        #expect(item("client_id") == clientID)
        let login = try #require(start.headers[values: .setCookie].first { $0.hasPrefix("senstat-login=") })
        let cookie = String(login.prefix { $0 != ";" }) + (planted.map { "; senstat=\($0)" } ?? "")
        let code = provider.authorize(nonce: try #require(item("nonce")), challenge: try #require(item("code_challenge")))
        let state = tamper?(try #require(item("state"))) ?? item("state")!
        let callback = "/sign-in/oidc/hostile/callback?code=\(code)&state=\(state)"
        let finish = try await client.execute(uri: callback, method: .get, headers: [.cookie: cookie], body: nil)
        var again: TestResponse?
        if replay { again = try await client.execute(uri: callback, method: .get, headers: [.cookie: cookie], body: nil) }
        return (start, finish, again)
    }

    static func signed(_ provider: HostileProvider, _ claims: TestClaims, kid: String = "k1", key: ES256PrivateKey? = nil) async throws -> String {
        let keys = JWTKeyCollection()
        let signing = key ?? provider.state.withLock { $0.published.first { $0.kid == kid }?.key } ?? ES256PrivateKey()
        await keys.add(ecdsa: signing, kid: JWKIdentifier(string: kid))
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
    }

    static func claims(_ provider: HostileProvider, nonce: String) -> TestClaims {
        let now = Date.now.timeIntervalSince1970
        return TestClaims(iss: provider.issuer, aud: [clientID], exp: now + 300, iat: now, nonce: nonce)
    }

    static func providerSettings(_ provider: HostileProvider) -> OIDCProviderSettings {
        OIDCProviderSettings(id: "hostile", displayName: "Hostile", issuer: provider.issuer, clientID: clientID, clientSecret: "secret")
    }

    /// The tests' own provider, a fresh database with the demo's trusts, and the app signing in with that provider
    /// (`web` and `provider` adjust their settings).
    static func withSignInApp(
        web adjustWeb: (inout WebSessionSettings) -> Void = { _ in },
        provider adjustProvider: @escaping @Sendable (inout OIDCProviderSettings) -> Void = { _ in },
        _ body: @escaping @Sendable (HostileProvider, TestDatabase, Fixture, any TestClientProtocol) async throws -> Void
    ) async throws {
        var web = WebSessionSettings()
        web.publicURL = "http://127.0.0.1:1"
        adjustWeb(&web)
        let settings = web
        try await HostileProvider.with { provider in
            try await withTestDatabase { db in
                let fixture = try await Fixture.load(db)
                var providerSettings = Self.providerSettings(provider)
                adjustProvider(&providerSettings)
                try await withApp(db, web: settings, providers: [providerSettings]) { client in
                    try await body(provider, db, fixture, client)
                }
            }
        }
    }

    static func invite(_ db: TestDatabase, _ email: String, _ role: Role, _ trust: TrustID, _ urns: [URN]) async throws {
        _ = try await db.withDatabase { database in
            try await PeopleStore(database: database).invite(
                email: email, role: role, trust: trust, urns: urns, organisation: nil, days: 14, invitedBy: nil, scope: .platform, logger: .test)
        }
    }

    static func events(_ db: TestDatabase) async throws -> [String] {
        try await db.adminSQL("SELECT kind || ':' || coalesce(detail->>'refusal', detail->>'outcome', '') FROM identity_events ORDER BY event_id").map { $0[0] ?? "" }
    }

    @Test func anInvitedPersonSignsInAndEveryBadAnswerIsRefused() async throws {
        try await Self.withSignInApp(web: { $0.keyRefetchFloor = .seconds(3600) }) { provider, db, fixture, client in
            // The sign-in page offers the provider.
            let page = try await client.execute(uri: "/sign-in", method: .get, headers: [:], body: nil)
            #expect(page.text.contains("Sign in with Hostile"))

            // Not invited yet: signed in at the provider, but no role, and no session.
            var r = try await Self.signIn(client, provider: provider) { nonce in try await Self.signed(provider, Self.claims(provider, nonce: nonce)) }
            #expect(r.finish.status == .forbidden && r.finish.text.contains("no role in senstat yet"))
            #expect(!r.finish.headers[values: .setCookie].contains { $0.hasPrefix("senstat=") && !$0.hasPrefix("senstat=;") })

            // Invited as a school leader of one school: accepted at sign-in, lands on the school.
            try await Self.invite(db, "Head@School.example.org", .schoolLeader, fixture.trustA.id, [URN(fixture.ownSchool.urn)!])
            // The browser arrives with a session id planted by someone else: it does not become the session.
            let planted = "planted-session-id-0123456789abcdefghijklmnop"
            r = try await Self.signIn(client, provider: provider, planted: planted) { nonce in try await Self.signed(provider, Self.claims(provider, nonce: nonce)) }
            #expect(r.finish.status == .seeOther, "\(r.finish.text)")
            let session = try #require(r.finish.headers[values: .setCookie].first { $0.hasPrefix("senstat=") })
            #expect(WebVisitor.cookieValue(session) != planted && !(WebVisitor.cookieValue(session) ?? "").isEmpty)
            var attacker = WebVisitor(client)
            attacker.cookie = planted
            #expect(try await attacker.get("/schools/\(fixture.ownSchool.urn)").status == .seeOther, "the planted id is no session")
            var visitor = WebVisitor(client)
            visitor.cookie = WebVisitor.cookieValue(session)
            let school = try await visitor.get("/schools/\(fixture.ownSchool.urn)")
            #expect(school.status == .ok)
            // Its pages let the sign-out form go on to the provider's end-session endpoint, and nowhere else.
            let origin = provider.issuer
            #expect(school.headers[.contentSecurityPolicy]?.contains("form-action 'self' \(origin);") == true, "\(school.headers[.contentSecurityPolicy] ?? "")")
            // The header says which membership the person acts in, trust included.
            #expect(school.text.contains("Signed in as School leader, \(fixture.trustA.name) (1 school)"), "\(school.text.prefix(2000))")
            #expect(try await visitor.get("/schools/\(fixture.foreignSchool.urn)").status == .notFound)
            // The invitation is used: a second person with the same email gets nothing from it.
            let open = try await db.adminSQL("SELECT count(*) FROM invitations WHERE accepted_at IS NULL")
            #expect(open.first?.first == "0")
            // A membership is not a token: token listings leave it out.
            let membership = try #require(try await db.adminSQL("SELECT token_id::text FROM api_tokens WHERE kind = 'membership'").first?.first ?? nil)
            let listed = try await client.execute(uri: "/v1/tokens", method: .get, headers: fixture.headers("admin"), body: nil)
            #expect(listed.status == .ok && !listed.text.contains(membership))

            // Every hostile answer: refused, recorded, nothing else changed.
            let before = try await db.adminSQL("SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM api_tokens), (SELECT count(*) FROM web_sessions WHERE key_digest IS NOT NULL)")
            let now = Date.now.timeIntervalSince1970
            let cases: [(String, @Sendable (String) async throws -> String)] = [
                ("issuer", { nonce in var c = Self.claims(provider, nonce: nonce); c.iss = "http://evil.example"; return try await Self.signed(provider, c) }),
                ("audience", { nonce in var c = Self.claims(provider, nonce: nonce); c.aud = ["someone-else"]; return try await Self.signed(provider, c) }),
                ("authorized_party", { nonce in var c = Self.claims(provider, nonce: nonce); c.azp = "someone-else"; return try await Self.signed(provider, c) }),
                ("expired", { nonce in var c = Self.claims(provider, nonce: nonce); c.exp = now - 600; return try await Self.signed(provider, c) }),
                ("issued_in_future", { nonce in var c = Self.claims(provider, nonce: nonce); c.iat = now + 3600; return try await Self.signed(provider, c) }),
                ("nonce", { _ in try await Self.signed(provider, Self.claims(provider, nonce: "not-the-nonce")) }),
                ("nonce", { nonce in var c = Self.claims(provider, nonce: nonce); c.nonce = nil; return try await Self.signed(provider, c) }),
                ("signature", { nonce in try await Self.signed(provider, Self.claims(provider, nonce: nonce), key: ES256PrivateKey()) }),
                ("algorithm", { nonce in
                    let payload = HostileProvider.base64url(try JSONEncoder().encode(Self.claims(provider, nonce: nonce)))
                    return HostileProvider.base64url(Data(#"{"alg":"none","kid":"k1"}"#.utf8)) + "." + payload + "."
                }),
                ("algorithm", { nonce in
                    // HS256 "signed" with the provider's public key, the classic key-confusion attack.
                    let header = HostileProvider.base64url(Data(#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#.utf8))
                    let payload = HostileProvider.base64url(try JSONEncoder().encode(Self.claims(provider, nonce: nonce)))
                    let secret = provider.state.withLock { Data($0.published[0].jwk.utf8) }
                    let mac = HMAC<SHA256>.authenticationCode(for: Data((header + "." + payload).utf8), using: SymmetricKey(data: secret))
                    return header + "." + payload + "." + HostileProvider.base64url(Data(mac))
                }),
            ]
            for (expected, token) in cases {
                r = try await Self.signIn(client, provider: provider, token)
                #expect(r.finish.status == .forbidden, "\(expected)")
                #expect(r.finish.text.contains("You have not been signed in"), "\(expected)")
                #expect(try await Self.events(db).last == "sign_in_refused:\(expected)", "\(expected)")
            }
            // state mismatch (login CSRF), and a replayed callback.
            r = try await Self.signIn(client, provider: provider, state: { $0 + "x" }) { nonce in try await Self.signed(provider, Self.claims(provider, nonce: nonce)) }
            #expect(r.finish.status == .forbidden)
            #expect(try await Self.events(db).last == "sign_in_refused:state_mismatch")
            provider.state.withLock { $0.allowReplay = true }
            r = try await Self.signIn(client, provider: provider, replay: true) { nonce in try await Self.signed(provider, Self.claims(provider, nonce: nonce)) }
            #expect(r.finish.status == .seeOther)
            #expect(r.again?.status == .forbidden, "a callback is used once")
            #expect(try await Self.events(db).last == "sign_in_refused:no_pending_sign_in")
            provider.state.withLock { $0.allowReplay = false }

            // Removing the membership takes effect at the session's next request.
            var again = WebVisitor(client)
            again.cookie = WebVisitor.cookieValue(try #require(r.finish.headers[values: .setCookie].first { $0.hasPrefix("senstat=") }))
            #expect(try await again.get("/schools/\(fixture.ownSchool.urn)").status == .ok)
            _ = try await db.adminSQL("UPDATE api_tokens SET revoked_at = now() WHERE kind = 'membership'")
            let ended = try await again.get("/schools/\(fixture.ownSchool.urn)")
            #expect(ended.status == .seeOther && ended.headers[.location]?.contains("session=revoked") == true)

            // An unverified email does not accept an invitation.
            try await Self.invite(db, "unverified@school.example.org", .trustExecutive, fixture.trustA.id, [])
            r = try await Self.signIn(client, provider: provider) { nonce in
                var c = Self.claims(provider, nonce: nonce)
                (c.sub, c.email, c.email_verified) = ("subject-2", "unverified@school.example.org", false)
                return try await Self.signed(provider, c)
            }
            #expect(r.finish.status == .forbidden && r.finish.text.contains("not verified"))
            #expect(try await db.adminSQL("SELECT count(*) FROM invitations WHERE accepted_at IS NULL").first?.first == "1")
            _ = before

            // Key rotation: a token signed by a new key is accepted after one fetch of the JWKS; a kid the
            // provider does not publish is refused after at most one more fetch, and not fetched again
            // within the floor.
            let rotated = HostileProvider.Key(kid: "k2", key: ES256PrivateKey())
            provider.state.withLock { $0.published = [rotated] }
            try await Task.sleep(for: .milliseconds(10))
            r = try await Self.signIn(client, provider: provider) { nonce in try await Self.signed(provider, Self.claims(provider, nonce: nonce), kid: "k2") }
            // The floor (an hour here) has not passed since the first fetch: the new key is not fetched yet.
            #expect(r.finish.status == .forbidden)
            #expect(try await Self.events(db).last == "sign_in_refused:unknown_key")
            let fetches = provider.state.withLock { $0.jwksFetches }
            r = try await Self.signIn(client, provider: provider) { nonce in try await Self.signed(provider, Self.claims(provider, nonce: nonce), kid: "k9") }
            #expect(r.finish.status == .forbidden)
            #expect(provider.state.withLock { $0.jwksFetches } == fetches, "no refetch within the floor")
        }
    }

    @Test func anInvitationThatCannotBeAcceptedIsRefusedWithItsReason() async throws {
        try await Self.withSignInApp(provider: { $0.organisationClaim = "organisation" }) { provider, db, fixture, client in
            func invite(_ email: String, organisation: String? = nil) async throws -> UUID {
                try await db.withDatabase { database in
                    try await PeopleStore(database: database).invite(
                        email: email, role: .trustExecutive, trust: fixture.trustA.id, urns: [], organisation: organisation, days: 14, invitedBy: nil,
                        scope: .platform, logger: .test
                    ).id
                }
            }
            func signIn(_ subject: String, _ email: String, organisation: String? = nil) async throws -> TestResponse {
                try await Self.signIn(client, provider: provider) { nonce in
                    var claims = Self.claims(provider, nonce: nonce)
                    claims.sub = subject
                    claims.email = email
                    claims.organisation = organisation.map { ["urn": $0, "name": "A school"] }
                    return try await Self.signed(provider, claims)
                }.finish
            }
            func memberships() async throws -> String? { try await db.adminSQL("SELECT count(*) FROM api_tokens WHERE kind = 'membership'").first?.first ?? nil }
            func lastRefusal() async throws -> [String?] {
                try await db.adminSQL("SELECT detail->>'refusal', trust_id::text FROM identity_events WHERE kind = 'sign_in_refused' ORDER BY event_id DESC LIMIT 1").first ?? []
            }
            let a = fixture.trustA.id.uuidString.lowercased()

            let late = try await invite("late@school.example.org")
            _ = try await db.adminSQL("UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE invitation_id = $1", [late.uuidString])
            var answer = try await signIn("late", "late@school.example.org")
            #expect(answer.status == .forbidden && answer.text.contains("invitation has expired"))
            #expect(try await lastRefusal() == ["invitation_expired", a], "in the inviting trust's trail")

            let gone = try await invite("gone@school.example.org")
            _ = try await db.adminSQL("UPDATE invitations SET revoked_at = now() WHERE invitation_id = $1", [gone.uuidString])
            answer = try await signIn("gone", "gone@school.example.org")
            #expect(answer.status == .forbidden && answer.text.contains("withdrawn"))
            #expect(try await lastRefusal() == ["invitation_withdrawn", a])

            _ = try await invite("shared@school.example.org")
            #expect(try await signIn("first", "shared@school.example.org").status == .seeOther)
            let before = try await memberships()
            answer = try await signIn("second", "shared@school.example.org")
            #expect(answer.status == .forbidden && answer.text.contains("already been used"))
            #expect(try await lastRefusal() == ["invitation_used", a])

            _ = try await invite("dfe@school.example.org", organisation: "990101")
            answer = try await signIn("dfe", "dfe@school.example.org", organisation: "990999")
            #expect(answer.status == .forbidden && answer.text.contains("another organisation"))
            #expect(try await lastRefusal() == ["organisation_mismatch", a])

            answer = try await signIn("personal", "someone@gmail.com")
            #expect(answer.status == .forbidden && answer.text.contains("personal email address"))
            #expect(try await lastRefusal() == ["consumer_domain", nil])
            #expect(try await memberships() == before, "nothing else changed")

            // The right organisation accepts the DfE invitation, and the account page says which it is.
            let accepted = try await signIn("dfe", "dfe@school.example.org", organisation: "990101")
            #expect(accepted.status == .seeOther)
            var visitor = WebVisitor(client)
            visitor.cookie = WebVisitor.cookieValue(try #require(accepted.headers[values: .setCookie].first { $0.hasPrefix("senstat=") }))
            #expect(try await visitor.get("/account").text.contains("DfE Sign-in organisation 990101"))
        }
    }

    @Test func aRotatedKeyIsFetchedOnceAndAnUnknownOneRefused() async throws {
        try await Self.withSignInApp(web: { $0.keyRefetchFloor = .zero }) { provider, db, fixture, client in
            try await Self.invite(db, "head@school.example.org", .trustExecutive, fixture.trustA.id, [])
            var r = try await Self.signIn(client, provider: provider) { nonce in try await Self.signed(provider, Self.claims(provider, nonce: nonce)) }
            #expect(r.finish.status == .seeOther)
            let rotated = HostileProvider.Key(kid: "k2", key: ES256PrivateKey())
            provider.state.withLock { $0.published = [rotated] }
            let before = provider.state.withLock { $0.jwksFetches }
            r = try await Self.signIn(client, provider: provider) { nonce in try await Self.signed(provider, Self.claims(provider, nonce: nonce), kid: "k2") }
            #expect(r.finish.status == .seeOther, "the rotated key is fetched: \(r.finish.text)")
            #expect(provider.state.withLock { $0.jwksFetches } == before + 1)
            r = try await Self.signIn(client, provider: provider) { nonce in try await Self.signed(provider, Self.claims(provider, nonce: nonce), kid: "k9") }
            #expect(r.finish.status == .forbidden)
            #expect(provider.state.withLock { $0.jwksFetches } == before + 2, "one refetch, then refused")
            #expect(try await Self.events(db).last == "sign_in_refused:unknown_key")
        }
    }

    /// A person with two memberships (a school in one trust, the executive of another) acts in one at a time: the
    /// account page offers the other, the switch begins a new session in it and ends the old, and a switch to any
    /// membership that is not the person's own and live, or without the page's form token, changes nothing.
    @Test func aPersonInTwoTrustsActsInOneMembershipAtATime() async throws {
        try await Self.withSignInApp { provider, db, fixture, client in
            try await Self.invite(db, "head@school.example.org", .schoolLeader, fixture.trustA.id, [URN(fixture.ownSchool.urn)!])
            try await Self.invite(db, "head@school.example.org", .trustExecutive, fixture.trustB.id, [])
            let r = try await Self.signIn(client, provider: provider) { nonce in try await Self.signed(provider, Self.claims(provider, nonce: nonce)) }
            // Two memberships: the person lands on the account page, where the other one is offered.
            #expect(r.finish.status == .seeOther && r.finish.headers[.location] == "/account", "\(r.finish.headers)")
            var person = WebVisitor(client)
            person.cookie = WebVisitor.cookieValue(try #require(r.finish.headers[values: .setCookie].first { $0.hasPrefix("senstat=") }))
            let rows = try await db.adminSQL("SELECT token_id::text, role FROM api_tokens WHERE kind = 'membership' ORDER BY role")
            let ids = Dictionary(uniqueKeysWithValues: rows.map { ($0[1]!, $0[0]!) })
            let (leader, executive) = (try #require(ids["school_leader"]), try #require(ids["trust_executive"]))
            let account = try await person.get("/account")
            #expect(account.status == .ok)
            let offered = [leader, executive].filter { account.text.contains(#"name="membership" value="\#($0)""#) }
            #expect(offered.count == 1, "exactly the other membership is offered")
            #expect(account.text.contains("act in one at a time, now as") && account.text.contains(##"href="#act-as""##), "said at the top of the page")
            let (current, other) = offered == [executive] ? (leader, executive) : (executive, leader)
            func pages(_ visitor: inout WebVisitor) async throws -> (own: HTTPResponse.Status, foreign: HTTPResponse.Status) {
                (try await visitor.get("/schools/\(fixture.ownSchool.urn)").status, try await visitor.get("/schools/\(fixture.foreignSchool.urn)").status)
            }
            func reaches(_ membership: String) -> (own: HTTPResponse.Status, foreign: HTTPResponse.Status) {
                membership == leader ? (.ok, .notFound) : (.notFound, .ok)
            }
            #expect(try await pages(&person) == reaches(current))

            // Refused, and the session goes on as it was: no form token; an API token's id; another person's
            // membership; not an id at all.
            let before = try await db.adminSQL("SELECT count(*) FROM web_sessions")
            _ = try await person.get("/account")
            let noToken = try await person.post("/account/act-as", [("membership", other)], csrf: .some(nil))
            #expect(noToken.status == .forbidden && noToken.headers[.setCookie] == nil)
            let executiveToken = try #require(try await db.adminSQL(
                "SELECT token_id::text FROM api_tokens WHERE kind = 'token' AND role = 'trust_executive' AND trust_id = $1", [fixture.trustB.id.uuidString]).first?.first ?? nil)
            try await Self.invite(db, "someone@school.example.org", .trustExecutive, fixture.trustA.id, [])
            let someone = try await PeopleTests.signIn(db, subject: "someone", email: "someone@school.example.org")
            let theirs = try #require(someone.memberships.first).id.uuidString.lowercased()
            for refused in [executiveToken, theirs, "not-an-id"] {
                let answer = try await person.post("/account/act-as", [("membership", refused)])
                #expect(answer.status == .notFound && answer.headers[.setCookie] == nil, "\(refused) \(answer.status) \(answer.text.prefix(600))")
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM web_sessions") == before)
            #expect(try await pages(&person) == reaches(current))

            // The switch: a new session id in the other membership; the old id signs in no more.
            let old = person
            let switched = try await person.post("/account/act-as", [("membership", other)])
            #expect(switched.status == .seeOther && switched.headers[.location] == "/")
            let cookie = try #require(switched.headers[values: .setCookie].first { $0.hasPrefix("senstat=") })
            person.cookie = try #require(WebVisitor.cookieValue(cookie))
            #expect(person.cookie != old.cookie)
            #expect(try await pages(&person) == reaches(other))
            let header = try await person.get("/account").text
            let label = other == executive ? "Signed in as Trust executive, \(fixture.trustB.name)" : "Signed in as School leader, \(fixture.trustA.name) (1 school)"
            #expect(header.contains(label), "\(label)")
            var stale = old
            #expect(try await stale.get("/account").status == .seeOther, "the replaced session has ended")
            #expect(try await Self.events(db).last == "sign_in:switched")

            // A membership removed meanwhile is not one to switch to.
            _ = try await db.adminSQL("UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1", [current])
            _ = try await person.get("/account")
            let gone = try await person.post("/account/act-as", [("membership", current)])
            #expect(gone.status == .notFound && gone.headers[.setCookie] == nil)
            #expect(try await pages(&person) == reaches(other))
            let alone = try await person.get("/account").text
            #expect(!alone.contains("/account/act-as") && !alone.contains("act in one at a time"), "one membership left: nothing to switch to")

            // A session signed in with an API token has no person, so no other membership.
            var tokenSession = WebVisitor(client)
            try await tokenSession.signIn(fixture.tokens["trust_executive"]!.token)
            _ = try await tokenSession.get("/account")
            #expect(try await tokenSession.post("/account/act-as", [("membership", other)]).status == .notFound)
        }
    }
}

/// The server's half of `senstat login --web`: the allow page, the one-time code, the exchange with PKCE, and the
/// token's life tied to the membership. (The whole round trip with the built CLI is in CLIWebLoginTests.)
@Suite struct CommandLineSignInTests {
    static func random() -> String { (UUID().uuidString + UUID().uuidString).replacingOccurrences(of: "-", with: "") }
    static func challenge(_ verifier: String) -> String {
        Data(SHA256.hash(data: Data(verifier.utf8))).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
    static func encode(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }

    @Test func aCodeIsExchangedOnceWithItsVerifierAndTheTokenEndsWithTheMembership() async throws {
        try await SignInTests.withSignInApp { provider, db, fixture, client in
            try await SignInTests.invite(db, "head@school.example.org", .schoolLeader, fixture.trustA.id, [URN(fixture.ownSchool.urn)!])
            let r = try await SignInTests.signIn(client, provider: provider) { nonce in
                try await SignInTests.signed(provider, SignInTests.claims(provider, nonce: nonce))
            }
            var person = WebVisitor(client)
            person.cookie = WebVisitor.cookieValue(try #require(r.finish.headers[values: .setCookie].first { $0.hasPrefix("senstat=") }))
            let redirect = "http://127.0.0.1:45678/callback"
            let verifier = Self.random()
            func allow(_ decision: String = "allow", as visitor: inout WebVisitor) async throws -> (code: String?, location: String) {
                let query = [("redirect_uri", redirect), ("state", "state-12345"), ("code_challenge", Self.challenge(verifier)), ("code_challenge_method", "S256")]
                let page = try await visitor.get("/cli/authorize?" + query.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&"))
                #expect(page.status == .ok)
                let answer = try await visitor.post("/cli/authorize", query + [("decision", decision)])
                #expect(answer.status == .seeOther)
                let location = try #require(answer.headers[.location])
                return (URLComponents(string: location)?.queryItems?.first { $0.name == "code" }?.value, location)
            }
            func exchange(_ code: String, verifier: String, redirect: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/cli/token", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(bytes: try JSONEncoder.api.encode(CommandLineTokenRequest(code: code, codeVerifier: verifier, redirectURI: redirect, label: "test laptop"))))
            }
            // A wrong verifier, another redirect URI, a made-up code: each refused, and the code is spent.
            var code = try #require(try await allow(as: &person).code)
            #expect(try await exchange(code, verifier: Self.random(), redirect: redirect).status == .badRequest)
            #expect(try await exchange(code, verifier: verifier, redirect: redirect).status == .badRequest, "a code is tried once")
            code = try #require(try await allow(as: &person).code)
            #expect(try await exchange(code, verifier: verifier, redirect: "http://127.0.0.1:45679/callback").status == .badRequest)
            #expect(try await exchange("made-up", verifier: verifier, redirect: redirect).status == .badRequest)
            // Cancel: the CLI is told, with no code.
            let cancelled = try await allow("deny", as: &person)
            #expect(cancelled.code == nil && cancelled.location.contains("error=access_denied") && cancelled.location.contains("state=state-12345"))

            code = try #require(try await allow(as: &person).code)
            let issued = try await exchange(code, verifier: verifier, redirect: redirect)
            #expect(issued.status == .created, "\(issued.text)")
            let token = try #require(try issued.decode(TokenBody.self).token)
            let me = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(token)"], body: nil)
            let role = try me.decode(Me.self).role
            #expect(me.status == .ok && role == "school_leader")
            #expect((try await person.get("/account")).text.contains("test laptop"))
            // Removing the membership ends the token with it.
            let membership = try #require(try await db.adminSQL("SELECT token_id::text FROM api_tokens WHERE kind = 'membership'").first?.first ?? nil)
            #expect(try await client.execute(uri: "/v1/memberships/\(membership)", method: .delete, headers: fixture.headers("trust_executive"), body: nil).status == .noContent)
            #expect(try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(token)"], body: nil).status == .unauthorized)

            // A session signed in with a token has no person to give a token to.
            var tokenSession = WebVisitor(client)
            try await tokenSession.signIn(fixture.tokens["trust_executive"]!.token)
            let refused = try await allow(as: &tokenSession)
            #expect(refused.code == nil && refused.location.contains("error=access_denied"))
        }
    }
}
