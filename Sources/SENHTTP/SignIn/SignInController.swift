import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import Logging
import NIOCore
import SENCore
import SENStore

/// Sign-in with OpenID Connect (Docs/security.md "Signing in with an identity provider"): the authorization code
/// flow with PKCE (S256), `state` and `nonce` kept on the server under a random id in the browser's pre-login
/// cookie and taken once, the id_token checked in full (`OIDCProvider.verify`), then the person recorded, their
/// invitations accepted and a new session begun in one of their memberships. Every refusal is a page that says so
/// and a line of the audit trail, and changes nothing else.
struct SignInController: Sendable {
    let renderer: WebRenderer
    let sessions: WebSessions
    let people: PeopleStore
    let providers: [OIDCProvider]
    let store: WebSessionStore
    let demo: DemoSignIn?

    /// How long a sign-in may take at the provider.
    static let pendingLifetime: Duration = .seconds(600)

    /// What the pre-login cookie's id finds on the server.
    struct Pending: Codable {
        let provider: String
        let state: String
        let nonce: String
        let verifier: String
        let next: String?
    }

    struct Button: Sendable {
        let href: String
        let label: String
    }

    /// One button per provider for the sign-in page.
    var buttons: [Button] {
        providers.map { Button(href: "/sign-in/oidc/\($0.settings.id)", label: "Sign in with \($0.settings.displayName)") }
    }

    func addRoutes(to router: Router<AppRequestContext>, allowed: AllowedMethods) {
        let web = router.group("sign-in/oidc")
            .add(middleware: WebHeadersMiddleware())
            .add(middleware: HTMLErrorMiddleware(allowed: allowed, renderer: renderer) { title, _ in .signedOut(title) })
        web.get(":provider", use: start)
        web.get(":provider/callback", use: finish)
        // The CLI's exchange of a one-time code (`senstat login --web`): JSON in and out, problem+json on failure.
        router.post("cli/token", use: commandLineToken)
    }

    func provider(_ context: AppRequestContext) throws -> OIDCProvider {
        guard let id = context.parameters.get("provider"), let provider = providers.first(where: { $0.settings.id == id }) else {
            throw HTTPError(.notFound)
        }
        return provider
    }

    func redirectURI(_ provider: OIDCProvider) -> String {
        (sessions.settings.publicURL ?? "http://127.0.0.1:8080") + "/sign-in/oidc/\(provider.settings.id)/callback"
    }

    /// To the provider: a new pending sign-in (its id in the pre-login cookie, replacing any earlier one).
    @Sendable func start(_ request: Request, context: AppRequestContext) async throws -> Response {
        let provider = try provider(context)
        let metadata: ProviderMetadata
        do {
            metadata = try await provider.discover(logger: context.logger)
        } catch {
            context.logger.error("identity provider unreachable", metadata: ["provider": "\(provider.settings.id)", "error": "\(error)"])
            return refusedPage("\(provider.settings.displayName) cannot be reached just now, so you cannot sign in with it. Try again in a few minutes.", status: .badGateway)
        }
        let pending = Pending(
            provider: provider.settings.id, state: PKCE.random(), nonce: PKCE.random(), verifier: PKCE.random(),
            next: WebForms.safeNext(request.uri.queryParameters.get("next")))
        let id = PKCE.random()
        let json = String(decoding: try JSONEncoder().encode(pending), as: UTF8.self)
        _ = try await store.create(key: "login." + id, json: json, expires: Self.pendingLifetime, logger: context.logger)
        let settings = provider.settings
        let scopes = (["openid", "email", "profile"] + (settings.extraScopes ?? [])).joined(separator: " ")
        let query = [
            ("response_type", "code"), ("client_id", settings.clientID), ("redirect_uri", redirectURI(provider)), ("scope", scopes),
            ("state", pending.state), ("nonce", pending.nonce), ("code_challenge", PKCE.challenge(for: pending.verifier)),
            ("code_challenge_method", "S256"),
        ].map { WebForms.formEncode($0.0) + "=" + WebForms.formEncode($0.1) }.joined(separator: "&")
        let separator = metadata.authorizationEndpoint.contains("?") ? "&" : "?"
        var headers: HTTPFields = [.location: metadata.authorizationEndpoint + separator + query, .cacheControl: "no-store"]
        headers.append(HTTPField(name: .setCookie, value: loginCookie(id, lifetime: Self.pendingLifetime).description))
        return Response(status: .seeOther, headers: headers)
    }

    /// Back from the provider.
    @Sendable func finish(_ request: Request, context: AppRequestContext) async throws -> Response {
        let provider = try provider(context)
        let query = request.uri.queryParameters
        let issuer = provider.settings.issuer
        // The pending sign-in is taken (deleted) whatever happens next: a callback is used once.
        var pending: Pending?
        if let id = request.cookies[sessions.settings.loginCookieName]?.value, !id.isEmpty,
            let json = try await store.take(key: "login." + id, logger: context.logger)
        {
            pending = try? JSONDecoder().decode(Pending.self, from: Data(json.utf8))
        }
        func refuse(_ refusal: SignInRefusal, _ detail: String, email: String? = nil) async throws -> Response {
            context.logger.notice("sign-in refused", metadata: ["provider": "\(provider.settings.id)", "refusal": "\(refusal.code)", "detail": "\(detail)"])
            try await people.record("sign_in_refused", issuer: issuer, email: email, detail: ["refusal": refusal.code, "detail": String(detail.prefix(300))], logger: context.logger)
            var response = refusedPage(refusal.message, status: .forbidden)
            response.headers.append(HTTPField(name: .setCookie, value: loginCookie("", lifetime: .zero).description))
            return response
        }
        guard let pending, pending.provider == provider.settings.id else {
            return try await refuse(.noPendingSignIn, "no pending sign-in for this browser")
        }
        guard let state = query.get("state"), IdentityTokenCheck.constantTimeEqual(state, pending.state) else {
            return try await refuse(.stateMismatch, "the state parameter does not match this browser's sign-in")
        }
        if let error = query.get("error") {
            return try await refuse(.providerError, "the provider answered \(error): \(query.get("error_description") ?? "")")
        }
        guard let code = query.get("code"), !code.isEmpty else { return try await refuse(.providerError, "no code") }
        let claims: IdentityClaims
        let idToken: String
        do {
            idToken = try await provider.exchange(code: code, verifier: pending.verifier, redirectURI: redirectURI(provider), logger: context.logger)
            claims = try await provider.verify(idToken: idToken, nonce: pending.nonce, now: .now, logger: context.logger)
        } catch OIDCFailure.refused(let refusal, let detail) {
            return try await refuse(refusal, detail)
        } catch {
            return try await refuse(.tokenExchange, "\(error)")
        }
        let email = (claims.email ?? "").lowercased()
        let signedIn = try await people.signedIn(
            .init(
                issuer: issuer, subject: claims.subject ?? "", email: email, emailVerified: claims.emailVerified == true, name: claims.name ?? "",
                organisations: claims.organisations, tenant: claims.tenant ?? claims.hostedDomain),
            logger: context.logger)
        guard let membership = signedIn.memberships.first else {
            // Why nobody let this person in: an invitation that cannot be accepted, or a personal email address,
            // is a refusal (in the inviting trust's audit trail); otherwise the person waits for a role.
            if claims.emailVerified == true, !email.isEmpty, let refusal = try await invitationRefusal(email: email, person: signedIn.person, claims: claims) {
                try await people.record(
                    "sign_in_refused", trust: refusal.trust, person: signedIn.person, issuer: issuer, email: email,
                    detail: ["refusal": refusal.reason.code, "organisations": claims.organisations.joined(separator: " ")], logger: context.logger)
                context.logger.notice("sign-in refused", metadata: ["provider": "\(provider.settings.id)", "refusal": "\(refusal.reason.code)"])
                var response = refusedPage(refusal.reason.message, status: .forbidden)
                response.headers.append(HTTPField(name: .setCookie, value: loginCookie("", lifetime: .zero).description))
                return response
            }
            try await people.record(
                "sign_in", person: signedIn.person, issuer: issuer, email: email,
                detail: ["outcome": "no_role", "email_verified": "\(claims.emailVerified == true)"], logger: context.logger)
            let unverified = claims.emailVerified != true && !email.isEmpty
            let message =
                unverified
                ? "You are signed in to \(provider.settings.displayName) as \(email), but that email address is not verified there, so it cannot accept an invitation. Verify it with \(provider.settings.displayName), or ask to be invited at an address that is."
                : "You are signed in to \(provider.settings.displayName) as \(email.isEmpty ? "someone without an email address" : email), but you have no role in senstat yet. Ask your trust's executive to invite this address, or, if your trust lists your organisation's email domain, to give you a role on their People page (for a trust's first executive: the administrator)."
            var response = refusedPage(message, status: .forbidden, heading: "No role yet")
            response.headers.append(HTTPField(name: .setCookie, value: loginCookie("", lifetime: .zero).description))
            return response
        }
        try await people.record(
            "sign_in", trust: membership.trustID, person: signedIn.person, actor: membership.id, issuer: issuer, email: email,
            detail: [
                "role": membership.role.rawValue, "accepted_invitations": "\(signedIn.accepted)",
                "organisations": claims.organisations.joined(separator: " "),
            ], logger: context.logger)
        // A new session id: whatever id the browser held before (a planted one included) does not become this.
        let cookie = try await sessions.begin(
            tokenID: membership.id, person: signedIn.person, provider: provider.settings.id, idToken: idToken, actingAs: membership.label,
            organisations: claims.organisations.isEmpty ? nil : claims.organisations, replacing: request)
        context.logger.info("web sign-in", metadata: ["person": "\(signedIn.person)", "membership": "\(membership.id)", "role": "\(membership.role.rawValue)"])
        var headers: HTTPFields = [.location: pending.next ?? (signedIn.memberships.count > 1 ? "/account" : "/")]
        headers.append(HTTPField(name: .setCookie, value: cookie.description))
        headers.append(HTTPField(name: .setCookie, value: loginCookie("", lifetime: .zero).description))
        return Response(status: .seeOther, headers: headers)
    }

    /// A verified person with no membership: refused if the latest invitation to their email has expired, was used by
    /// another account, was withdrawn, or names another organisation; or if they have no invitation and a personal
    /// email address. Nil: they simply have no role yet.
    func invitationRefusal(email: String, person: UUID, claims: IdentityClaims) async throws -> (reason: SignInRefusal, trust: TrustID?)? {
        if let outcome = try await people.invitationOutcome(email: email, logger: Logger(label: "senstat.sign-in")) {
            switch outcome.state {
            case "expired": return (.invitationExpired, outcome.trustID)
            case "withdrawn": return (.invitationWithdrawn, outcome.trustID)
            case "used" where outcome.acceptedBy != person: return (.invitationUsed, outcome.trustID)
            case "open" where outcome.organisation.map { !claims.organisations.contains($0) } ?? false: return (.organisationMismatch, outcome.trustID)
            case "used": return nil
            default: break
            }
        }
        return ConsumerEmailDomains.isConsumer(email) ? (.consumerDomain, nil) : nil
    }

    func loginCookie(_ value: String, lifetime: Duration) -> Cookie {
        let settings = sessions.settings
        return Cookie(
            name: settings.loginCookieName, value: value,
            expires: lifetime == .zero ? Date(timeIntervalSince1970: 0) : Date.now + TimeInterval(lifetime.components.seconds), path: "/",
            secure: settings.secureCookie, httpOnly: true, sameSite: .lax)
    }

    struct RefusedView {
        let chrome: Chrome
        let heading: String
        let message: String
    }

    func refusedPage(_ message: String, status: HTTPResponse.Status, heading: String = "You have not been signed in") -> Response {
        renderer.page("sign-in-refused", RefusedView(chrome: .signedOut(heading), heading: heading, message: message), status: status)
    }

    /// The origin of the end-session endpoint of the provider `session` signed in with, if it publishes one: the
    /// pages of that session allow their sign-out form to be redirected there (CSP `form-action` covers redirects).
    func endSessionOrigin(for session: WebSession?, logger: Logger) async -> String? {
        guard let id = session?.providerID, let provider = providers.first(where: { $0.settings.id == id }),
            let end = try? await provider.discover(logger: logger).endSessionEndpoint, let url = URL(string: end),
            let scheme = url.scheme, scheme == "https" || scheme == "http", let host = url.host, !host.isEmpty
        else { return nil }
        return "\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")"
    }

    /// Where sign-out sends the browser: the provider's end-session endpoint with `id_token_hint` and
    /// `post_logout_redirect_uri` where it publishes one (RP-initiated logout), else the sign-in page.
    func signOutLocation(for session: WebSession?, logger: Logger) async -> String {
        let local = "/sign-in?session=signed-out"
        guard let session, let id = session.providerID, let token = session.idToken,
            let provider = providers.first(where: { $0.settings.id == id }),
            let end = try? await provider.discover(logger: logger).endSessionEndpoint
        else { return local }
        let back = (sessions.settings.publicURL ?? "") + local
        let query = [("id_token_hint", token), ("post_logout_redirect_uri", back), ("client_id", provider.settings.clientID)]
            .map { WebForms.formEncode($0.0) + "=" + WebForms.formEncode($0.1) }.joined(separator: "&")
        return end + (end.contains("?") ? "&" : "?") + query
    }
}
