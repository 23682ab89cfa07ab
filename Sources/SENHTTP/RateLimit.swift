import Foundation
import HTTPTypes
import Hummingbird
import SENCore
import Synchronization

/// Requests per token: a token bucket of `burst` requests refilled at `perSecond`, kept per server instance.
public struct RateLimit: Sendable {
    public var perSecond: Double
    public var burst: Double

    public init(perSecond: Double, burst: Double) {
        self.perSecond = perSecond
        self.burst = burst
    }

    /// SENSTAT_RATE_LIMIT (requests per second per token, default 20) and SENSTAT_RATE_BURST (default 60).
    public static func fromEnvironment() -> RateLimit {
        let environment = ProcessInfo.processInfo.environment
        return RateLimit(
            perSecond: environment["SENSTAT_RATE_LIMIT"].flatMap(Double.init) ?? 20,
            burst: environment["SENSTAT_RATE_BURST"].flatMap(Double.init) ?? 60)
    }
}

/// 429 problem+json with Retry-After once a token has spent its bucket.
final class RateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    let limit: RateLimit
    private let buckets = Mutex<[String: Bucket]>([:])

    init(_ limit: RateLimit) {
        self.limit = limit
    }

    /// nil when the request may go ahead; otherwise the seconds until it may.
    func take(_ key: String, now: ContinuousClock.Instant = .now) -> Int? {
        buckets.withLock { buckets in
            if buckets.count > 50_000 {
                // Forget idle tokens so the table cannot grow without bound.
                buckets = buckets.filter { now - $0.value.updated < .seconds(600) }
            }
            var bucket = buckets[key] ?? Bucket(tokens: limit.burst, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(limit.burst, bucket.tokens + seconds * limit.perSecond)
            bucket.updated = now
            defer { buckets[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / limit.perSecond).rounded(.up)))
        }
    }
}

struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let principal = context.principal, let wait = limiter.take(principal.tokenID) {
            throw APIError(
                .tooManyRequests,
                "this token has made more than \(Int(limiter.limit.burst)) requests in a burst (\(limiter.limit.perSecond) a second on average); retry after \(wait) s",
                headers: [.retryAfter: String(wait)])
        }
        return try await next(request, context)
    }
}
