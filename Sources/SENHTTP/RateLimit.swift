import Foundation
import HTTPTypes
import Hummingbird
import SENCore
import Synchronization

/// Requests per token: a token bucket of `burst` requests refilled at `perSecond`, kept per server instance.
public struct RateLimit: Sendable {
    public var perSecond: Double
    public var burst: Double

    /// A rate or burst that is not a positive finite number (0, negative, nan, inf from the environment) is
    /// taken as 1, so the wait computed from it stays a small whole number of seconds.
    public init(perSecond: Double, burst: Double) {
        self.perSecond = perSecond.isFinite && perSecond > 0 ? perSecond : 1
        self.burst = burst.isFinite && burst >= 1 ? min(burst, 1e9) : 1
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

    /// nil when the request may go ahead (and it is counted); otherwise the seconds until it may.
    func take(_ key: String, now: ContinuousClock.Instant = .now) -> Int? { bucket(key, now: now, consume: true) }

    /// Like `take`, without counting anything: whether a request under `key` would be refused now.
    func peek(_ key: String, now: ContinuousClock.Instant = .now) -> Int? { bucket(key, now: now, consume: false) }

    private func bucket(_ key: String, now: ContinuousClock.Instant, consume: Bool) -> Int? {
        buckets.withLock { buckets in
            if buckets.count > 50_000 {
                // Forget idle keys so the table cannot grow without bound.
                buckets = buckets.filter { now - $0.value.updated < .seconds(600) }
            }
            var bucket = buckets[key] ?? Bucket(tokens: limit.burst, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(limit.burst, bucket.tokens + seconds * limit.perSecond)
            bucket.updated = now
            if bucket.tokens >= 1 {
                if consume {
                    bucket.tokens -= 1
                    buckets[key] = bucket
                }
                return nil
            }
            buckets[key] = bucket
            // perSecond > 0 and tokens in [0, 1): the wait is in (0, 1 / perSecond], an hour at most here.
            return max(1, Int(exactly: min(3_600, ((1 - bucket.tokens) / limit.perSecond).rounded(.up))) ?? 3_600)
        }
    }
}

struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = AuthenticatedContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let wait = limiter.take(context.principal.tokenID.uuidString) {
            throw APIError(
                .tooManyRequests,
                "this token has made more than \(Int(limiter.limit.burst)) requests in a burst (\(limiter.limit.perSecond) a second on average); retry after \(wait) s",
                headers: [.retryAfter: String(wait)])
        }
        return try await next(request, context)
    }
}
