import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SENHTTP
import SENStore
import SENTestSupport
import Testing

/// Builds the real application on a test database and runs `body` against it (the app runs its own pool).
func withApp(
    _ db: TestDatabase, migrator: Migrator? = nil, database: Database? = nil,
    rateLimit: RateLimit = RateLimit(perSecond: 1_000, burst: 10_000),
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    var logger = Logger(label: "senstat.test.http")
    logger.logLevel = .warning
    let app = buildApplication(
        settings: ServerSettings(host: "127.0.0.1", port: 0), database: database ?? db.makeDatabase(),
        migrator: try migrator ?? Migrator.bundled(logger: logger), logger: logger, rateLimit: rateLimit)
    try await app.test(.router, body)
}

func problem(_ response: TestResponse) throws -> ProblemDetails {
    try JSONDecoder().decode(ProblemDetails.self, from: Data(String(buffer: response.body).utf8))
}

@Suite struct HTTPBasicsTests {
    @Test func liveAnswersWithARequestID() async throws {
        try await withTestDatabase { db in
            try await withApp(db) { client in
                try await client.execute(uri: "/health/live", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains(#""status":"ok""#))
                    #expect(response.headers[HTTPField.Name("X-Request-Id")!]?.isEmpty == false)
                }
            }
        }
    }

    @Test func readyWhenTheDatabaseAnswersAndMigrationsAreCurrent() async throws {
        try await withTestDatabase { db in
            try await withApp(db) { client in
                try await client.execute(uri: "/health/ready", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains(#""status":"ready""#))
                }
            }
        }
    }

    @Test func notReadyWhileAMigrationIsPending() async throws {
        try await withTestDatabase { db in
            let logger = Logger(label: "test")
            let bundled = try Migrator.bundled(logger: logger)
            let ahead = Migrator(
                migrations: bundled.migrations + [Migration(version: 9_999, fileName: "9999_future.sql", sql: "SELECT 1;")],
                logger: logger)
            try await withApp(db, migrator: ahead) { client in
                try await client.execute(uri: "/health/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let body = try problem(response)
                    #expect(body.detail?.contains("9999_future.sql") == true)
                }
            }
        }
    }

    /// A database that does not answer: 503 problem+json within the deadline, not a request parked for a minute.
    @Test func unreachableDatabaseAnswers503Quickly() async throws {
        try await withTestDatabase { db in
            let nowhere = DatabaseEndpoint(
                address: .socketDirectory("/tmp/senstat-no-such-socket-dir"), port: 5432, user: "x", password: nil,
                database: "x", sslMode: .disable)
            let database = Database(
                client: Database.makeClient(endpoint: nowhere, maximumConnections: 2, logger: Logger(label: "test")),
                deadline: .seconds(2))
            try await withApp(db, database: database) { client in
                let start = ContinuousClock.now
                try await client.execute(uri: "/health/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(response.headers[.retryAfter] != nil)
                }
                #expect(ContinuousClock.now - start < .seconds(3))
            }
        }
    }

    @Test func unknownPathsAreProblemJSON404() async throws {
        try await withTestDatabase { db in
            try await withApp(db) { client in
                try await client.execute(uri: "/no/such/thing", method: .get) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let body = try problem(response)
                    #expect(body.status == 404)
                    #expect(body.title == "Not Found")
                    #expect(body.instance == "/no/such/thing")
                    #expect(body.requestID == response.headers[HTTPField.Name("X-Request-Id")!])
                }
            }
        }
    }

    @Test func wrongMethodIsProblemJSON405WithAllow() async throws {
        try await withTestDatabase { db in
            try await withApp(db) { client in
                try await client.execute(uri: "/health/live", method: .delete) { response in
                    #expect(response.status == .methodNotAllowed)
                    #expect(response.headers[.allow] == "GET")
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let body = try problem(response)
                    #expect(body.status == 405)
                }
            }
        }
    }

    @Test func metricsArePrometheusText() async throws {
        try await withTestDatabase { db in
            try await withApp(db) { client in
                try await client.execute(uri: "/health/live", method: .get) { _ in }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                    let text = String(buffer: response.body)
                    #expect(text.contains("# TYPE hb_requests counter"))
                    #expect(text.contains("http_server_request_duration"))
                }
            }
        }
    }

    /// The served document is the one in the repo, and every route the server answers is in it.
    @Test func openAPIDocumentDescribesTheRoutes() async throws {
        try await withTestDatabase { db in
            try await withApp(db) { client in
                try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                    #expect(response.status == .ok)
                    let text = String(buffer: response.body)
                    #expect(text.hasPrefix("openapi: 3.1.0"))
                    let document = OpenAPIDocument(yaml: text)
                    for path in ["/health/live", "/health/ready", "/metrics", "/openapi.yaml"] {
                        #expect(document.methods(forPath: path) == [.get], "\(path)")
                    }
                }
            }
        }
    }
}
