/// The claims of an OpenID Connect id_token that senstat reads, once its signature has been verified (the server
/// does that with jwt-kit, by a key from the provider's JWKS and an allowed algorithm only).
public struct IdentityClaims: Sendable, Equatable {
    public var issuer: String?
    public var subject: String?
    /// `aud`: a string or an array in the token; always a list here.
    public var audiences: [String]
    public var authorizedParty: String?
    /// Seconds since 1970 (NumericDate).
    public var expires: Double?
    public var issuedAt: Double?
    public var notBefore: Double?
    public var nonce: String?
    public var email: String?
    /// `email_verified`: providers send a boolean, some the string "true".
    public var emailVerified: Bool?
    public var name: String?
    /// Entra ID's tenant (`tid`) and Google Workspace's hosted domain (`hd`).
    public var tenant: String?
    public var hostedDomain: String?
    /// The organisations the provider says the person signs in for (DfE Sign-in's `organisation` claim: a
    /// school's URN, a trust's UID), as text.
    public var organisations: [String]

    public init(
        issuer: String? = nil, subject: String? = nil, audiences: [String] = [], authorizedParty: String? = nil, expires: Double? = nil,
        issuedAt: Double? = nil, notBefore: Double? = nil, nonce: String? = nil, email: String? = nil, emailVerified: Bool? = nil,
        name: String? = nil, tenant: String? = nil, hostedDomain: String? = nil, organisations: [String] = []
    ) {
        self.issuer = issuer
        self.subject = subject
        self.audiences = audiences
        self.authorizedParty = authorizedParty
        self.expires = expires
        self.issuedAt = issuedAt
        self.notBefore = notBefore
        self.nonce = nonce
        self.email = email
        self.emailVerified = emailVerified
        self.name = name
        self.tenant = tenant
        self.hostedDomain = hostedDomain
        self.organisations = organisations
    }
}

/// Why an id_token (or the sign-in around it) was refused. Each is shown to the person as a plain sentence and
/// recorded in the audit trail by its `code`.
public enum SignInRefusal: String, Error, Sendable, Equatable, CaseIterable {
    case stateMismatch = "state_mismatch"
    case noPendingSignIn = "no_pending_sign_in"
    case providerError = "provider_error"
    case tokenExchange = "token_exchange"
    case malformedToken = "malformed_token"
    case algorithm = "algorithm"
    case unknownKey = "unknown_key"
    case signature = "signature"
    case issuer = "issuer"
    case audience = "audience"
    case authorizedParty = "authorized_party"
    case expired = "expired"
    case issuedInFuture = "issued_in_future"
    case notYetValid = "not_yet_valid"
    case nonce = "nonce"
    case subject = "subject"
    case tenantNotAllowed = "tenant_not_allowed"
    case domainNotAllowed = "domain_not_allowed"
    // Signed in correctly, but the invitation that would have let them in cannot be accepted.
    case invitationExpired = "invitation_expired"
    case invitationUsed = "invitation_used"
    case invitationWithdrawn = "invitation_withdrawn"
    case organisationMismatch = "organisation_mismatch"
    case consumerDomain = "consumer_domain"

    public var code: String { rawValue }

    /// What the sign-in page says.
    public var message: String {
        switch self {
        case .stateMismatch, .noPendingSignIn:
            "This sign-in did not start here or has expired (they last ten minutes). Start again from the sign-in page."
        case .providerError: "The identity provider did not sign you in."
        case .tokenExchange: "The identity provider did not complete the sign-in. Try again in a moment."
        case .tenantNotAllowed: "Your organisation's account is not one this service accepts. Ask your trust's administrator."
        case .domainNotAllowed: "Your account's domain is not one this service accepts. Ask your trust's administrator."
        case .invitationExpired: "Your invitation has expired (they last up to 30 days). Ask the person who invited you to send a new one."
        case .invitationUsed:
            "The invitation to this email address has already been used, by another account. Ask the person who invited you to check who accepted it, and to invite you again."
        case .invitationWithdrawn: "Your invitation was withdrawn. Ask the person who invited you whether you should have a new one."
        case .organisationMismatch:
            "Your invitation is for a particular school or trust, and your identity provider says you signed in for another organisation. Sign in for the organisation you were invited for, or ask for a new invitation."
        case .consumerDomain:
            "You signed in with a personal email address. senstat admits people from personal email services only by an invitation to that exact address. Sign in with your work account, or ask to be invited."
        default: "The identity provider's answer could not be trusted, so you have not been signed in. Try again; if it happens again, tell your administrator."
        }
    }
}

/// The checks OpenID Connect Core 1.0 §3.1.3.7 asks of an id_token after its signature: issuer exactly, audience
/// contains the client (and, where there are several audiences or an `azp`, that `azp` is the client), not expired,
/// not issued in the future, not before its `nbf`, with the nonce this sign-in sent, and a subject.
public enum IdentityTokenCheck {
    /// Clock skew allowed either way, in seconds.
    public static let skew: Double = 60

    public static func check(_ claims: IdentityClaims, issuer: String, clientID: String, nonce: String, now: Double) -> SignInRefusal? {
        guard claims.issuer == issuer else { return .issuer }
        guard claims.audiences.contains(clientID) else { return .audience }
        if let azp = claims.authorizedParty, azp != clientID { return .authorizedParty }
        if claims.audiences.count > 1, claims.authorizedParty == nil { return .authorizedParty }
        guard let expires = claims.expires, now < expires + skew else { return .expired }
        guard let issued = claims.issuedAt, issued <= now + skew else { return .issuedInFuture }
        if let notBefore = claims.notBefore, now + skew < notBefore { return .notYetValid }
        guard let sent = claims.nonce, constantTimeEqual(sent, nonce) else { return .nonce }
        guard let subject = claims.subject, !subject.isEmpty, subject.utf8.count <= 255 else { return .subject }
        return nil
    }

    /// Equal strings, compared without stopping at the first difference.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

/// Email domains anyone can sign up to: never a trust's domain, so staff of a trust are never recognised by one.
public enum ConsumerEmailDomains {
    public static let all: Set<String> = [
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com", "live.co.uk", "msn.com",
        "yahoo.com", "yahoo.co.uk", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "aol.co.uk", "protonmail.com",
        "proton.me", "gmx.com", "gmx.co.uk", "mail.com", "zoho.com", "btinternet.com", "sky.com", "talktalk.net",
        "virginmedia.com", "ntlworld.com", "tiscali.co.uk",
    ]

    /// The domain of an email address, lower-cased; nil when it has none.
    public static func domain(of email: String) -> String? {
        let parts = email.lowercased().split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return String(parts[1])
    }

    public static func isConsumer(_ email: String) -> Bool {
        domain(of: email).map { all.contains($0) } ?? true
    }
}
