import SENCore
import Testing

/// The id_token claim checks (OpenID Connect Core §3.1.3.7), each on its own.
@Suite struct IdentityTokenTests {
    static let now = 1_800_000_000.0
    static func good() -> IdentityClaims {
        IdentityClaims(issuer: "https://idp.example", subject: "s", audiences: ["client"], expires: now + 300, issuedAt: now, nonce: "n-1")
    }
    static func check(_ claims: IdentityClaims) -> SignInRefusal? {
        IdentityTokenCheck.check(claims, issuer: "https://idp.example", clientID: "client", nonce: "n-1", now: now)
    }

    @Test func aGoodTokenPasses() {
        #expect(Self.check(Self.good()) == nil)
        var c = Self.good()
        (c.audiences, c.authorizedParty) = (["client", "api"], "client")
        #expect(Self.check(c) == nil, "several audiences with azp = the client")
        c = Self.good()
        (c.expires, c.issuedAt, c.notBefore) = (Self.now - 30, Self.now + 30, Self.now + 30)
        #expect(Self.check(c) == nil, "within the skew either way")
    }

    @Test func eachBadClaimIsRefusedForItsReason() {
        let cases: [(SignInRefusal, (inout IdentityClaims) -> Void)] = [
            (.issuer, { $0.issuer = "https://idp.example/" }),
            (.issuer, { $0.issuer = nil }),
            (.audience, { $0.audiences = ["other"] }),
            (.audience, { $0.audiences = [] }),
            (.authorizedParty, { $0.authorizedParty = "other" }),
            (.authorizedParty, { $0.audiences = ["client", "other"] }),
            (.expired, { $0.expires = Self.now - 61 }),
            (.expired, { $0.expires = nil }),
            (.issuedInFuture, { $0.issuedAt = Self.now + 61 }),
            (.issuedInFuture, { $0.issuedAt = nil }),
            (.notYetValid, { $0.notBefore = Self.now + 61 }),
            (.nonce, { $0.nonce = "n-2" }),
            (.nonce, { $0.nonce = nil }),
            (.nonce, { $0.nonce = "n-1 " }),
            (.subject, { $0.subject = "" }),
            (.subject, { $0.subject = nil }),
            (.subject, { $0.subject = String(repeating: "x", count: 256) }),
        ]
        for (expected, change) in cases {
            var claims = Self.good()
            change(&claims)
            #expect(Self.check(claims) == expected, "\(expected)")
        }
    }

    @Test func consumerDomainsAreKnown() {
        #expect(ConsumerEmailDomains.isConsumer("someone@gmail.com"))
        #expect(ConsumerEmailDomains.isConsumer("Someone@Hotmail.co.uk"))
        #expect(!ConsumerEmailDomains.isConsumer("head@stmarys.example.sch.uk"))
        #expect(ConsumerEmailDomains.isConsumer("not-an-address"))
        #expect(ConsumerEmailDomains.domain(of: "a@B.org") == "b.org")
        #expect(ConsumerEmailDomains.domain(of: "a@b@c") == nil)
    }

    @Test func everyRefusalHasASentence() {
        for refusal in SignInRefusal.allCases { #expect(!refusal.message.isEmpty && refusal.message.hasSuffix(".")) }
    }
}
