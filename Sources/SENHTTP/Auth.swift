import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SENCore
import SENStore
import Synchronization

extension APIError {
    /// 401 with the challenge RFC 6750 asks for.
    static func unauthorized(_ detail: String, invalidToken: Bool = false) -> APIError {
        let challenge = invalidToken ? #"Bearer realm="senstat", error="invalid_token""# : #"Bearer realm="senstat""#
        return APIError(.unauthorized, detail, headers: [.wwwAuthenticate: challenge])
    }
}

/// Resolves `Authorization: Bearer <token>` to a principal. Missing, malformed, unknown, expired and revoked
/// tokens all answer 401 with `WWW-Authenticate: Bearer`, and say no more than which of missing or invalid.
///
/// Failed authentications are limited per client address (`failures`): every unknown token costs a database
/// lookup, so once an address has spent its bucket of failures, tokens it has not used successfully in the last
/// ten minutes answer 429 without one. Tokens that have (`recent`) still go ahead, so someone guessing from a
/// shared address (a school's network, a proxy) does not lock out the people already working there.
///
/// A token authenticates with a statement of its own (`authenticate_token`), and its session is kept for five
/// minutes (`kept`, at most that many tokens). A request with a kept token skips that statement: the request's
/// first transaction on the primary confirms the token in the statement that sets its tenant, before the handler's
/// statements (`TokenConfirmation`, migration 0020), and a request that ran none confirms it with one statement
/// before its answer leaves. A token revoked, expired or changed in the meantime is refuted there: its transaction
/// ends, the kept session is dropped, and the request is authenticated afresh and run again (so it answers 401).
/// Revocation still takes effect at the next request, on every instance. A request with a body is read into memory
/// first (up to 1 MiB by its Content-Length; a larger or unsized one authenticates first), so that it can be run
/// again; the refuted run wrote nothing, since every write of a `/v1` handler is in a transaction and PostgreSQL
/// aborts a refuted one before its statements. With a read replica nothing is kept (its transactions are read-only
/// and cannot touch `last_used_at`).
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let tokens: TokenStore
    let failures: RateLimiter
    let recent: RecentTokens

    init(tokens: TokenStore, failures: RateLimiter, kept: Int) {
        self.tokens = tokens
        self.failures = failures
        self.recent = RecentTokens(sessionsKept: tokens.database.replica == nil ? kept : 0)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("send a bearer token: Authorization: Bearer sst_...")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized("the bearer token is not valid (unknown, expired or revoked)", invalidToken: true)
        }
        let token = String(parts[1])
        let digest = TokenStore.digest(token)
        let client = context.clientAddress(forwardedFor: request.headers[.xForwardedFor])
        if let wait = failures.peek(client), !recent.contains(digest) {
            throw APIError(
                .tooManyRequests, "too many failed authentications from this address; retry after \(wait) s",
                headers: [.retryAfter: String(wait)])
        }
        var request = request
        if let kept = recent.session(digest), let replayable = try await Self.replayable(request) {
            // From here on the request is the one with its body in memory, for the second run as for the first.
            request = replayable
            let confirmation = kept.confirmation(digest: digest)
            let outcome: Result<Response, any Error>
            do {
                outcome = .success(
                    try await Database.$tokenConfirmation.withValue(confirmation) {
                        try await next(request, Self.authenticated(context, kept))
                    })
            } catch {
                outcome = .failure(error)
            }
            // The answer leaves only once the token is confirmed: by a transaction of the request, or here.
            if confirmation.state == .pending { try await tokens.confirm(confirmation, logger: context.logger) }
            if confirmation.state == .confirmed { return try outcome.get() }
            context.logger.debug("a kept token was refuted; authenticating it afresh")
            recent.forget(digest)
        }
        guard let session = try await tokens.session(for: token, logger: context.logger) else {
            _ = failures.take(client)
            recent.remove(digest)
            throw APIError.unauthorized("the bearer token is not valid (unknown, expired or revoked)", invalidToken: true)
        }
        recent.insert(digest, session: session)
        return try await next(request, Self.authenticated(context, session))
    }

    /// Bodies up to this size (by their Content-Length) are read here when the token is kept, so that the handler
    /// can run again on the same body if the token is refuted.
    static let replayableBodyLimit = 1 << 20

    /// `request`, ready to be handled twice: a request without a body as it is, one with a body of a declared length
    /// up to `replayableBodyLimit` with the body read into memory; nil for any other (authenticated first).
    static func replayable(_ request: Request) async throws -> Request? {
        if request.method == .get || request.method == .head { return request }
        guard let length = request.headers[.contentLength].flatMap({ Int($0) }), length <= replayableBodyLimit else { return nil }
        var request = request
        _ = try await request.collectBody(upTo: length)
        return request
    }

    static func authenticated(_ context: Context, _ session: TokenStore.Session) -> Context {
        let principal = session.principal
        var context = context
        context.principal = principal
        context.lastWritePosition = session.lastWritePosition
        context.logger[metadataKey: "token_id"] = "\(principal.tokenID)"
        context.logger[metadataKey: "role"] = "\(principal.role.rawValue)"
        if let trust = principal.trustID { context.logger[metadataKey: "trust_id"] = "\(trust)" }
        return context
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}

/// Digests of tokens that authenticated in the last ten minutes, in memory (at most 20,000), and the sessions of
/// those that authenticated in the last five (at most `sessionsKept`). The first only says a token may skip the
/// failure limit. A kept session is never trusted alone: `AuthMiddleware` confirms it in the database at every
/// request that uses it.
final class RecentTokens: Sendable {
    private struct Seen {
        var at: ContinuousClock.Instant
        var session: TokenStore.Session?
    }
    private struct State {
        var seen: [[UInt8]: Seen] = [:]
        var sessions = 0
        var swept = ContinuousClock.Instant.now - .seconds(1)
    }
    private let state = Mutex(State())
    let sessionsKept: Int
    static let window: Duration = .seconds(600)
    static let sessionWindow: Duration = .seconds(300)
    static let capacity = 20_000

    init(sessionsKept: Int = 0) {
        self.sessionsKept = sessionsKept
    }

    func insert(_ digest: [UInt8], session: TokenStore.Session? = nil, now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            // A token that already has a session kept reuses its place.
            let holding = state.seen[digest]?.session != nil
            let full = state.seen.count >= Self.capacity || (session != nil && !holding && sessionsKept > 0 && state.sessions >= sessionsKept)
            // Sweeping is a pass over every entry: at most once a second, however many requests find it full.
            if full, now - state.swept >= .seconds(1) {
                state.swept = now
                state.seen = state.seen.filter { now - $0.value.at < Self.window }
                state.sessions = 0
                for key in state.seen.keys where state.seen[key]!.session != nil {
                    if now - state.seen[key]!.at < Self.sessionWindow { state.sessions += 1 } else { state.seen[key]!.session = nil }
                }
            }
            guard state.seen.count < Self.capacity || state.seen[digest] != nil else { return }
            let previous = state.seen[digest]
            let keep = session != nil && (previous?.session != nil || state.sessions < sessionsKept)
            state.seen[digest] = Seen(at: now, session: keep ? session : nil)
            state.sessions += (keep ? 1 : 0) - (previous?.session != nil ? 1 : 0)
        }
    }

    func remove(_ digest: [UInt8]) {
        state.withLock { state in
            if state.seen.removeValue(forKey: digest)?.session != nil { state.sessions -= 1 }
        }
    }

    /// Drops the kept session and keeps the rest: the token authenticated recently, whatever it is now.
    func forget(_ digest: [UInt8]) {
        state.withLock { state in
            if state.seen[digest]?.session != nil {
                state.seen[digest]!.session = nil
                state.sessions -= 1
            }
        }
    }

    func contains(_ digest: [UInt8], now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { state in state.seen[digest].map { now - $0.at < Self.window } ?? false }
    }

    /// The session kept for `digest` if it authenticated in the last five minutes.
    func session(_ digest: [UInt8], now: ContinuousClock.Instant = .now) -> TokenStore.Session? {
        state.withLock { state in
            guard let seen = state.seen[digest], now - seen.at < Self.sessionWindow else { return nil }
            return seen.session
        }
    }

    /// The sessions kept (tests).
    var sessionCount: Int { state.withLock { $0.sessions } }
}
