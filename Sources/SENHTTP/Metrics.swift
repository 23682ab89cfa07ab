import Hummingbird
import Metrics
import NIOCore
import Prometheus

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
