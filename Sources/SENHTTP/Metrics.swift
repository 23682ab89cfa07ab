import Hummingbird
import Metrics
import NIOCore
import Prometheus
import Dispatch
import HTTPTypes
import Synchronization

/// One Prometheus registry per process, bootstrapped into swift-metrics the first time it is used (the metrics
/// system can be bootstrapped only once, and tests build many applications in one process).
public enum SenstatMetrics {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    static var routes: RouteCollection<AppRequestContext> {
        let registry = Self.registry
        let routes = RouteCollection(context: AppRequestContext.self)
        return routes.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            registry.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }
}

/// Hummingbird's `MetricsMiddleware` with the same metrics (`hb_requests`, `hb_request_errors`,
/// `http_server_request_duration` by route, method and status; `http_server_active_requests` by method), without
/// wrapping every response body in a closure that runs after the write: the duration ends when the response is
/// ready, not when its last byte is written. Hummingbird's cost /health/live 12% of its rate, this one N%
/// (Docs/performance.md).
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let cache = RequestMetricsCache()

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        let active = cache.active(request.method)
        active.increment()
        defer { active.decrement() }
        do {
            let response = try await next(request, context)
            let metrics = cache.endpoint(.init(route: context.endpointPath ?? "Unknown", method: request.method, status: response.status.code))
            metrics.requests.increment()
            metrics.duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- started))
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            let metrics = cache.endpoint(.init(route: context.endpointPath ?? "NotFound", method: request.method, status: status.code))
            metrics.requests.increment()
            metrics.errors.increment()
            throw error
        }
    }
}

final class RequestMetricsCache: Sendable {
    struct Key: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    struct Endpoint: Sendable {
        let requests: Metrics.Counter
        let duration: Metrics.Timer
        let errors: Metrics.Counter

        init(_ key: Key) {
            let dimensions = [("http.route", key.route), ("http.request.method", key.method.rawValue), ("http.response.status_code", String(key.status))]
            requests = Metrics.Counter(label: "hb.requests", dimensions: dimensions)
            duration = Metrics.Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds)
            errors = Metrics.Counter(
                label: "hb.request.errors",
                dimensions: [("http.route", key.route), ("http.request.method", key.method.rawValue), ("error.type", String(key.status))])
        }
    }

    private let meters = Mutex<[HTTPRequest.Method: Metrics.Meter]>([:])
    private let endpoints = Mutex<[Key: Endpoint]>([:])

    func active(_ method: HTTPRequest.Method) -> Metrics.Meter {
        meters.withLock { meters in
            if let meter = meters[method] { return meter }
            let meter = Metrics.Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.rawValue)])
            meters[method] = meter
            return meter
        }
    }

    func endpoint(_ key: Key) -> Endpoint {
        endpoints.withLock { endpoints in
            if let endpoint = endpoints[key] { return endpoint }
            let endpoint = Endpoint(key)
            endpoints[key] = endpoint
            return endpoint
        }
    }
}
