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
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let tokens: TokenStore
    let failures: RateLimiter
    let recent = RecentTokens()

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
        let client = context.clientAddress(forwardedFor: request.headers[.xForwardedFor])
        if let wait = failures.peek(client), !recent.contains(token) {
            throw APIError(
                .tooManyRequests, "too many failed authentications from this address; retry after \(wait) s",
                headers: [.retryAfter: String(wait)])
        }
        guard let session = try await tokens.session(for: token, logger: context.logger) else {
            _ = failures.take(client)
            recent.remove(token)
            throw APIError.unauthorized("the bearer token is not valid (unknown, expired or revoked)", invalidToken: true)
        }
        recent.insert(token)
        let principal = session.principal
        var context = context
        context.principal = principal
        context.lastWritePosition = session.lastWritePosition
        context.logger[metadataKey: "token_id"] = "\(principal.tokenID)"
        context.logger[metadataKey: "role"] = "\(principal.role.rawValue)"
        if let trust = principal.trustID { context.logger[metadataKey: "trust_id"] = "\(trust)" }
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}

/// Digests of tokens that authenticated in the last ten minutes, in memory (at most 20,000). Only says a token
/// may skip the failure limit; every request still looks its token up, so revocation takes effect at once.
final class RecentTokens: Sendable {
    private let seen = Mutex<[[UInt8]: ContinuousClock.Instant]>([:])
    static let window: Duration = .seconds(600)

    func insert(_ token: String, now: ContinuousClock.Instant = .now) {
        let key = TokenStore.digest(token)
        seen.withLock { seen in
            if seen.count >= 20_000 { seen = seen.filter { now - $0.value < Self.window } }
            if seen.count < 20_000 { seen[key] = now }
        }
    }

    func remove(_ token: String) {
        let key = TokenStore.digest(token)
        _ = seen.withLock { $0.removeValue(forKey: key) }
    }

    func contains(_ token: String, now: ContinuousClock.Instant = .now) -> Bool {
        let key = TokenStore.digest(token)
        return seen.withLock { seen in seen[key].map { now - $0 < Self.window } ?? false }
    }
}
