import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import Logging
import SENCore
import SENStore

/// What a browser's session holds, on the server (web_sessions, by the SHA-256 of its id): the API token it was
/// signed in with, by id and never by secret; the form token that every state-changing form must carry; and when
/// it began, for the absolute timeout.
public struct WebSession: Codable, Sendable, Equatable {
    public var tokenID: TokenID
    public var csrf: String
    public var signedInAt: Date
    /// Signed in with an identity provider: the person, whose memberships the account page offers to act in;
    /// nil when signed in with an API token.
    public var personID: UUID?
    /// The provider, and the id_token for RP-initiated logout (`id_token_hint`) where the provider offers it.
    public var providerID: String?
    public var idToken: String?
    /// Signed in with an identity provider: the membership acted in, as the header shows it ("Trust executive,
    /// Pennine Learning Trust"), since a person may hold roles in more than one trust.
    public var actingAs: String?
    /// DfE Sign-in (or another provider with an organisation claim): the organisations the person signed in for —
    /// a school's URN or a trust's UID — shown on the account page.
    public var organisations: [String]? = nil
}

/// How long sessions last and how their cookie is sent (Docs/web.md).
public struct WebSessionSettings: Sendable {
    /// A session not used for this long ends (SENSTAT_SESSION_IDLE_MINUTES, default 30).
    public var idleTimeout: Duration
    /// A session ends this long after sign-in however much it is used (SENSTAT_SESSION_HOURS, default 8).
    public var absoluteTimeout: Duration
    /// Behind TLS (SENSTAT_PUBLIC_URL starts with https://): the cookie is `__Host-senstat`, Secure. On plain
    /// http (the local demo) a browser would drop a Secure cookie, so it is `senstat`, without.
    public var secureCookie: Bool

    public init(idleTimeout: Duration = .seconds(30 * 60), absoluteTimeout: Duration = .seconds(8 * 3600), secureCookie: Bool = false) {
        self.idleTimeout = idleTimeout
        self.absoluteTimeout = absoluteTimeout
        self.secureCookie = secureCookie
    }

    public init(environment: [String: String]) {
        self.init()
        if let minutes = environment["SENSTAT_SESSION_IDLE_MINUTES"].flatMap(Int.init), minutes > 0 { idleTimeout = .seconds(minutes * 60) }
        if let hours = environment["SENSTAT_SESSION_HOURS"].flatMap(Int.init), hours > 0 { absoluteTimeout = .seconds(hours * 3600) }
        secureCookie = environment["SENSTAT_PUBLIC_URL"]?.lowercased().hasPrefix("https://") == true
        if let url = environment["SENSTAT_PUBLIC_URL"], !url.isEmpty { publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url }
        if let seconds = environment["SENSTAT_JWKS_REFETCH_SECONDS"].flatMap(Int.init), seconds >= 0 { keyRefetchFloor = .seconds(seconds) }
    }

    /// Where browsers reach senstat (SENSTAT_PUBLIC_URL, e.g. https://senstat.example.org): the base of the
    /// redirect URIs registered with identity providers. `senstat-server` defaults it to its own address.
    public var publicURL: String?
    /// How soon an id_token naming a key the JWKS lacks may fetch the JWKS again (SENSTAT_JWKS_REFETCH_SECONDS,
    /// default 60).
    public var keyRefetchFloor: Duration = .seconds(60)

    var cookieName: String { secureCookie ? "__Host-senstat" : "senstat" }
    /// The cookie of a sign-in in progress (state, nonce and PKCE verifier are on the server, by this id).
    var loginCookieName: String { secureCookie ? "__Host-senstat-login" : "senstat-login" }
}

/// Beginning, resolving and ending web sessions, on hummingbird-auth's `SessionStorage` over our PostgreSQL
/// persist driver. Sign-in always makes a new id (the old one, if any, is deleted first), so an id planted before
/// sign-in never becomes a signed-in session.
struct WebSessions: Sendable {
    let storage: SessionStorage<WebSession>
    let driver: SessionPersistDriver
    let settings: WebSessionSettings
    let tokens: TokenStore
    static let keyPrefix = "web."

    init(driver: SessionPersistDriver, settings: WebSessionSettings, tokens: TokenStore) {
        self.settings = settings
        self.tokens = tokens
        self.driver = driver
        self.storage = SessionStorage(
            driver,
            configuration: .init(
                sessionCookieParameters: .init(name: settings.cookieName, path: "/", secure: settings.secureCookie, sameSite: .lax),
                keyPrefix: Self.keyPrefix))
    }

    /// Starts the idle window of the request's session again, `lifetime` long, if the session still exists (the
    /// request may have ended or replaced it) and no other request of it is doing the same; true when it did.
    /// Never writes the session's value: hummingbird-auth's `update` would write back the value read at the
    /// request's start, bringing back a session the request had ended (migration 0017).
    func extend(_ request: Request, lifetime: Duration) async throws -> Bool {
        guard let id = storage.getId(request: request) else { return false }
        return try await driver.store.touch(key: Self.keyPrefix + id, expires: lifetime, logger: driver.logger)
    }

    /// A new session for the token `tokenID`; returns the cookie that carries it.
    func begin(
        tokenID: TokenID, person: UUID? = nil, provider: String? = nil, idToken: String? = nil, actingAs: String? = nil,
        organisations: [String]? = nil, replacing request: Request
    ) async throws -> Cookie {
        if storage.getId(request: request) != nil { _ = try? await storage.delete(request: request) }
        let session = WebSession(
            tokenID: tokenID, csrf: Self.randomToken(), signedInAt: .now, personID: person, providerID: provider, idToken: idToken, actingAs: actingAs,
            organisations: organisations)
        return try await storage.save(session: session, expiresIn: settings.idleTimeout)
    }

    /// Deletes the request's session; the cookie that clears it in the browser.
    func end(_ request: Request) async throws -> Cookie? {
        guard storage.getId(request: request) != nil else { return nil }
        return try await storage.delete(request: request)
    }

    /// The cookie for session `id`, valid for `lifetime` (sent again when the idle timeout is extended).
    func cookie(id: String, lifetime: Duration) -> Cookie {
        Cookie(
            name: settings.cookieName, value: id, expires: Date.now + TimeInterval(lifetime.components.seconds), path: "/",
            secure: settings.secureCookie, httpOnly: true, sameSite: .lax)
    }

    /// A cookie that removes the session cookie from the browser.
    func expiredCookie() -> Cookie {
        Cookie(name: settings.cookieName, value: "", expires: Date(timeIntervalSince1970: 0), path: "/", secure: settings.secureCookie, httpOnly: true, sameSite: .lax)
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// Resolves the browser's session for the web app's signed-in pages: no session, an expired one (idle or
/// absolute), or one whose token has been revoked or has expired goes to the sign-in page; otherwise the request
/// continues as the token's principal, exactly as an API request with that token would. State-changing requests
/// must come from this site (Origin, Sec-Fetch-Site) and carry the session's form token (`csrf`).
struct WebSessionMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let sessions: WebSessions

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let settings = sessions.settings
        let hadCookie = sessions.storage.getId(request: request) != nil
        var loaded: (session: WebSession, ttl: Duration?)?
        do {
            loaded = try await sessions.storage.loadWithTTL(request: request)
        } catch let error as SessionStorage<WebSession>.Error where error == .sessionInvalidType {
            loaded = nil
        }
        guard let (session, ttl) = loaded else {
            return signIn(request, clearCookie: hadCookie, reason: hadCookie ? "ended" : nil)
        }
        if Date.now.timeIntervalSince(session.signedInAt) > TimeInterval(settings.absoluteTimeout.components.seconds) {
            _ = try? await sessions.storage.delete(request: request)
            return signIn(request, clearCookie: true, reason: "ended")
        }
        guard let resolved = try await sessions.tokens.session(forTokenID: session.tokenID, logger: context.logger) else {
            _ = try? await sessions.storage.delete(request: request)
            return signIn(request, clearCookie: true, reason: "revoked")
        }
        var request = request
        if request.method != .get && request.method != .head {
            try WebForms.checkSameOrigin(request)
            let form = try await WebForm.read(&request)
            guard let sent = form["csrf"], BearerToken.constantTimeEqual(Array(sent.utf8), Array(session.csrf.utf8)) else {
                throw APIError(.forbidden, "this form has expired or did not come from senstat; go back, reload the page and send it again")
            }
        }
        var context = context
        context.principal = resolved.principal
        context.lastWritePosition = resolved.lastWritePosition
        context.webSession = session
        context.logger[metadataKey: "token_id"] = "\(resolved.principal.tokenID)"
        context.logger[metadataKey: "role"] = "\(resolved.principal.role.rawValue)"
        var response = try await next(request, context)
        // Idle timeout: used within the last minute of a fresh window, nothing is written; otherwise the window
        // starts again (a write at most once a minute per session), never past the absolute timeout.
        // Only the row's expiry is extended, and only while the session exists: a request that signed out or
        // switched role has deleted it, and its answer's cookie stands.
        if let left = ttl, left < settings.idleTimeout - .seconds(60), let id = sessions.storage.getId(request: request) {
            let untilAbsolute = settings.absoluteTimeout - .seconds(Int64(Date.now.timeIntervalSince(session.signedInAt)))
            let window = min(settings.idleTimeout, untilAbsolute)
            if window > .zero, try await sessions.extend(request, lifetime: window) {
                response.headers[values: .setCookie].append(sessions.cookie(id: id, lifetime: window).description)
            }
        }
        return response
    }

    /// To the sign-in page, coming back here afterwards (GET only).
    func signIn(_ request: Request, clearCookie: Bool, reason: String?) -> Response {
        var query: [String] = []
        if request.method == .get, let path = WebForms.safeNext(request.uri.description) { query.append("next=" + WebForms.percentEncode(path)) }
        if let reason { query.append("session=" + reason) }
        var headers: HTTPFields = [.location: "/sign-in" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))]
        if clearCookie { headers.append(HTTPField(name: .setCookie, value: sessions.expiredCookie().description)) }
        return Response(status: .seeOther, headers: headers)
    }
}
