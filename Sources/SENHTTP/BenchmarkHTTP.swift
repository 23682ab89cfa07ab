import Hummingbird
import Logging
import NIOCore

/// The peer of `/health/live` in `Deploy/bench/run`: a Hummingbird application built like the server's (same
/// HTTP/1 settings, same request context, same handler) with only the middleware named, so the benchmark can say
/// what senstat's middleware costs, each one alone and all together (Docs/performance.md).
public enum BenchmarkHTTP {
    /// The middleware of `buildRouter`, outermost first, by the names `--middleware` takes.
    public static let middlewareNames = ["access-log", "headers", "metrics", "problem", "browser-404"]

    public static func application(middleware: [String], host: String, port: Int, logger: Logger) throws -> some ApplicationProtocol {
        let router = Router(context: AppRequestContext.self)
        for name in middleware {
            switch name {
            case "access-log": router.add(middleware: AccessLogMiddleware())
            case "headers": router.add(middleware: ResponseHeadersMiddleware())
            case "metrics": router.add(middleware: RequestMetricsMiddleware())
            case "hummingbird-metrics": router.add(middleware: MetricsMiddleware())  // what `metrics` replaced
            case "problem": router.add(middleware: ProblemMiddleware(allowed: AllowedMethods()))
            case "browser-404": router.add(middleware: BrowserNotFoundMiddleware(renderer: WebRenderer()))
            default: throw BenchmarkHTTPError(name: name)
            }
        }
        router.get("/health/live") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: HealthController.liveBody))
        }
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: TimeAmount(ServerSettings().idleTimeout))),
            configuration: .init(address: .hostname(host, port: port), serverName: "senstat"),
            logger: logger)
    }
}

public struct BenchmarkHTTPError: Error, CustomStringConvertible {
    let name: String
    public var description: String { "no middleware called \(name); the names are \(BenchmarkHTTP.middlewareNames.joined(separator: ", "))" }
}
