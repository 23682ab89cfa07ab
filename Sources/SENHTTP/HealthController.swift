import Hummingbird
import NIOCore
import Logging
import SENStore

/// `/health/live`: the process answers. `/health/ready`: the database answers within the deadline and carries
/// exactly the migrations this build ships, so a load balancer sends traffic only to instances that can serve it.
struct HealthController {
    let database: Database
    let migrator: Migrator

    struct Status: ResponseEncodable {
        let status: String
        let database: String?
        let migrations: Int?
    }

    var routes: RouteCollection<AppRequestContext> {
        let routes = RouteCollection(context: AppRequestContext.self)
        routes.get("/health/live", use: live)
        routes.get("/health/ready", use: ready)
        return routes
    }

    /// Written once: the liveness probe is the most frequent request a server answers (Docs/performance.md).
    static let liveBody = ByteBuffer(string: #"{"status":"ok"}"#)

    @Sendable func live(_ request: Request, context: AppRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: Self.liveBody))
    }

    @Sendable func ready(_ request: Request, context: AppRequestContext) async throws -> Status {
        guard await database.ping(logger: context.logger) else {
            throw APIError(.serviceUnavailable, "the database does not answer", headers: [.retryAfter: "2"])
        }
        let pending: [Migration]
        do {
            pending = try migrator.pending(applied: try await database.appliedMigrations(logger: context.logger))
        } catch let error as MigrationError {
            throw APIError(.serviceUnavailable, error.description)
        }
        guard pending.isEmpty else {
            throw APIError(
                .serviceUnavailable,
                "migrations not applied: \(pending.map(\.fileName).joined(separator: ", ")); run senstat-server migrate")
        }
        return Status(status: "ready", database: "ok", migrations: migrator.migrations.count)
    }
}
