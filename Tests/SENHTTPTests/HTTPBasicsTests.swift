import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SENAPI
import SENHTTP
import SENStore
import SENTestSupport
import Testing

/// Builds the real application on a test database and runs `body` against it (the app runs its own pool).
@Suite struct HTTPBasicsTests {
    @Test func liveAnswersWithARequestID() async throws {
        try await withTestDatabase { db in
            try await withApp(db) { client in
                try await client.execute(uri: "/health/live", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
                    #expect(response.headers[.contentType] == "application/json; charset=utf-8")
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
            let logger = Logger.test
            let bundled = try Migrator.bundled(logger: logger)
            let ahead = Migrator(
                migrations: bundled.migrations + [Migration(version: 9_999, fileName: "9999_future.sql", sql: "SELECT 1;")],
                logger: logger)
            try await withApp(db, migrator: ahead) { client in
                try await client.execute(uri: "/health/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let body = try response.problem
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
                client: Database.makeClient(endpoint: nowhere, maximumConnections: 2, logger: Logger.test),
                deadline: .seconds(2))
            try await withApp(db, database: database) { client in
                let start = ContinuousClock.now
                try await client.execute(uri: "/health/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(response.headers[.retryAfter] != nil)
                }
                // The deadline is 2 s; without it the request waits on the pool's attempts to connect. The margin is
                // for a busy machine (Docs/architecture.md, "Tests").
                #expect(ContinuousClock.now - start < .seconds(15))
            }
        }
    }

    @Test func unknownPathsAreProblemJSON404() async throws {
        try await withTestDatabase { db in
            try await withApp(db) { client in
                try await client.execute(uri: "/no/such/thing", method: .get) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let body = try response.problem
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
                    let body = try response.problem
                    #expect(body.status == 405)
                }
            }
        }
    }

    /// A 404 from a handler (nothing by that name) stays a 404 on a path whose route answers the method; only a
    /// method the path has no route for is 405. The web app's unknown asset and the sign-in's unknown provider, by
    /// GET and HEAD; the act-as form's unknown membership is in SignInTests.
    @Test func aHandlersNotFoundIsNotAWrongMethod() async throws {
        try await withTestDatabase { db in
            try await withApp(db) { client in
                for path in ["/assets/no-such-file.css", "/sign-in/oidc/no-such-provider"] {
                    for method in [HTTPRequest.Method.get, .head] {
                        let response = try await client.execute(uri: path, method: method, headers: [:], body: nil)
                        #expect(response.status == .notFound, "\(method) \(path)")
                        #expect(response.headers[.allow] == nil, "\(method) \(path)")
                    }
                    let wrong = try await client.execute(uri: path, method: .delete, headers: [:], body: nil)
                    #expect(wrong.status == .methodNotAllowed && wrong.headers[.allow] == "GET", "\(path): \(wrong.headers)")
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

/// What every answer carries, and what a slow or guessing client gets (issue 17's "also fix").
@Suite struct HardeningTests {
    /// nosniff, no referrer and no caching on every answer — JSON, CSV, SVG and errors — and a content security
    /// policy that lets an SVG opened on its own run nothing.
    @Test func everyAnswerCarriesTheSecurityHeaders() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.withReturns(db)
            try await withApp(db) { client in
                var csv = f.headers("trust_executive")
                csv[.accept] = "text/csv"
                let requests: [(String, HTTPFields)] = [
                    ("/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)", f.headers("trust_executive")),
                    ("/v1/trusts/\(f.trustA.id)/comparison?term=\(latestDemoTerm)", csv),
                    ("/v1/trusts/\(f.trustA.id)/funnel.svg?term=\(latestDemoTerm)", f.headers("trust_executive")),
                    ("/v1/me", [:]),
                    ("/no/such/path", [:]),
                    ("/health/live", [:]),
                ]
                for (uri, headers) in requests {
                    try await client.execute(uri: uri, method: .get, headers: headers) { response in
                        #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(uri)")
                        #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", "\(uri)")
                        #expect(response.headers[.cacheControl] == "no-store", "\(uri)")
                        let policy = response.headers[.contentSecurityPolicy] ?? ""
                        #expect(policy.contains("default-src 'none'") && policy.contains("sandbox"), "\(uri): \(policy)")
                    }
                }
            }
        }
    }

    /// An address that keeps sending unknown tokens is told to wait after 30, without a database lookup each;
    /// a token that worked recently from it still goes ahead.
    @Test func failedAuthenticationsAreLimitedPerAddress() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            // The production burst of 30, refilled so slowly that a slow machine cannot refill it mid-test.
            try await withApp(db, authFailureLimit: RateLimit(perSecond: 0.001, burst: 30)) { client in
                try await client.execute(uri: "/v1/me", method: .get, headers: f.headers("school_leader")) { #expect($0.status == .ok) }
                let unknown: HTTPFields = [.authorization: "Bearer sst_" + String(repeating: "A", count: 43)]
                for attempt in 1...30 {
                    try await client.execute(uri: "/v1/me", method: .get, headers: unknown) { #expect($0.status == .unauthorized, "\(attempt)") }
                }
                try await client.execute(uri: "/v1/me", method: .get, headers: unknown) { response in
                    #expect(response.status == .tooManyRequests)
                    #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
                }
                // A request without a token costs nothing and is not counted: it still gets its 401.
                try await client.execute(uri: "/v1/me", method: .get) { #expect($0.status == .unauthorized) }
                // The school leader, already at work from this address, is not locked out; a token new to the
                // address waits like the guesses.
                try await client.execute(uri: "/v1/me", method: .get, headers: f.headers("school_leader")) { #expect($0.status == .ok) }
                try await client.execute(uri: "/v1/me", method: .get, headers: f.headers("admin")) { #expect($0.status == .tooManyRequests) }
            }
        }
    }

    /// A connection that never completes its request head is closed after the idle timeout, and the server
    /// keeps answering others meanwhile.
    @Test func slowHeadersAreCutOff() async throws {
        try await withTestDatabase { db in
            let app = buildApplication(
                settings: ServerSettings(host: "127.0.0.1", port: 0, idleTimeout: .seconds(1)), database: db.makeDatabase(),
                migrator: try Migrator.bundled(logger: Logger.test), logger: Logger.test)
            try await app.test(.live) { client in
                let port = try #require(client.port)
                // Five clients each send half a request head, a byte at a time, then wait.
                let script = """
                    import socket, sys, time
                    socks = []
                    for _ in range(5):
                        s = socket.create_connection(("127.0.0.1", \(port)))
                        for b in b"GET /health/live HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: ":
                            s.send(bytes([b]))
                        socks.append(s)
                    start = time.monotonic()
                    closed = 0
                    for s in socks:
                        s.settimeout(10)
                        try:
                            closed += s.recv(1) == b""
                        except OSError:
                            closed += 1
                    took = round(time.monotonic() - start, 1)
                    s = socket.create_connection(("127.0.0.1", \(port)))
                    s.sendall(b"GET /health/live HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                    answer = s.recv(64).split(b"\\r\\n")[0].decode()
                    print(closed, took, answer.replace(" ", "_"))
                    """
                let (status, output) = try await Script.run("python3", ["-c", script])
                #expect(status == 0, "\(output)")
                let parts = output.split(separator: " ")
                #expect(parts.first == "5", "every slow connection closed: \(output)")
                #expect(parts.count == 3 && (Double(parts[1]) ?? 99) < 5, "within a few seconds: \(output)")
                #expect(parts.last?.hasPrefix("HTTP/1.1_200") == true, "a complete request is still answered: \(output)")
            }
        }
    }
}
