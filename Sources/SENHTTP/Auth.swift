import HTTPTypes
import Hummingbird
import Logging
import SENCore
import SENStore

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
/// lookup, so once an address has spent its bucket of failures its next attempts answer 429 without one.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let tokens: TokenStore
    let failures: RateLimiter

    /// 30 failed authentications in a burst, then one a second, per client address.
    static let failureLimit = RateLimit(perSecond: 1, burst: 30)

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("send a bearer token: Authorization: Bearer sst_...")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized("the bearer token is not valid (unknown, expired or revoked)", invalidToken: true)
        }
        let client = context.clientAddress(forwardedFor: request.headers[.xForwardedFor])
        if let wait = failures.peek(client) {
            throw APIError(
                .tooManyRequests, "too many failed authentications from this address; retry after \(wait) s",
                headers: [.retryAfter: String(wait)])
        }
        guard let session = try await tokens.session(for: String(parts[1]), logger: context.logger) else {
            _ = failures.take(client)
            throw APIError.unauthorized("the bearer token is not valid (unknown, expired or revoked)", invalidToken: true)
        }
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
