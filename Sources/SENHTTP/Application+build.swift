import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import SENCore
import SENStore
import ServiceLifecycle

/// Everything the HTTP layer is configured with that is not a dependency, in one value: `senstat-server` reads
/// its flags and environment once into it (`init(environment:)`); the libraries read no environment.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    /// How long a connection may stay open without a complete request head: from its opening, or from the end
    /// of its last response (keep-alive). A client that sends its headers byte by byte, or none, is closed then,
    /// so a few slow clients cannot hold the server's connections for minutes.
    public var idleTimeout: Duration
    /// Requests per token (SENSTAT_RATE_LIMIT, SENSTAT_RATE_BURST: 20 a second, bursts of 60).
    public var rateLimit: RateLimit
    /// Failed authentications per client address (SENSTAT_AUTH_FAILURE_RATE, SENSTAT_AUTH_FAILURE_BURST: one a
    /// second, bursts of 30).
    public var authFailureLimit: RateLimit
    /// ε each researcher may spend on one release (SENSTAT_DP_BUDGET, default 1).
    public var privacyBudget: Epsilon
    /// The web app's sessions (idle and absolute timeouts, the cookie).
    public var web: WebSessionSettings = WebSessionSettings()
    /// The OpenID Connect providers people sign in with (SENSTAT_OIDC_PROVIDERS names their file).
    public var identityProviders: [OIDCProviderSettings] = []
    /// How many computed trust comparisons are kept for requests that read the same figures
    /// (SENSTAT_COMPARISONS_KEPT, default 32; 0 keeps none: `ComparisonMemo`).
    public var comparisonsKept = 32
    /// How many tokens that authenticated in the last five minutes are kept, so that a GET with one confirms it
    /// in its own transaction instead of a statement before it (SENSTAT_TOKENS_KEPT, default 10,000; 0 keeps none:
    /// `AuthMiddleware`). Ignored with a read replica, whose transactions cannot confirm a token.
    public var tokensKept = 10_000

    public init(
        host: String = "127.0.0.1", port: Int = 8080, idleTimeout: Duration = .seconds(20),
        rateLimit: RateLimit = RateLimit(perSecond: 20, burst: 60), authFailureLimit: RateLimit = RateLimit(perSecond: 1, burst: 30),
        privacyBudget: Epsilon = Epsilon(micro: Epsilon.microPerUnit)
    ) {
        self.host = host
        self.port = port
        self.idleTimeout = idleTimeout
        self.rateLimit = rateLimit
        self.authFailureLimit = authFailureLimit
        self.privacyBudget = privacyBudget
    }

    /// The defaults above with what `environment` sets (HOST, PORT and the SENSTAT_ variables named above).
    public init(environment: [String: String]) {
        self.init()
        if let host = environment["HOST"], !host.isEmpty { self.host = host }
        if let port = environment["PORT"].flatMap(Int.init) { self.port = port }
        rateLimit = RateLimit(
            perSecond: environment["SENSTAT_RATE_LIMIT"].flatMap(Double.init) ?? rateLimit.perSecond,
            burst: environment["SENSTAT_RATE_BURST"].flatMap(Double.init) ?? rateLimit.burst)
        authFailureLimit = RateLimit(
            perSecond: environment["SENSTAT_AUTH_FAILURE_RATE"].flatMap(Double.init) ?? authFailureLimit.perSecond,
            burst: environment["SENSTAT_AUTH_FAILURE_BURST"].flatMap(Double.init) ?? authFailureLimit.burst)
        if let kept = environment["SENSTAT_COMPARISONS_KEPT"].flatMap(Int.init), kept >= 0 { comparisonsKept = kept }
        if let kept = environment["SENSTAT_TOKENS_KEPT"].flatMap(Int.init), kept >= 0 { tokensKept = kept }
        if let budget = environment["SENSTAT_DP_BUDGET"].flatMap({ Epsilon(parsing: $0) }) { privacyBudget = budget }
        web = WebSessionSettings(environment: environment)
    }
}

/// Wires the application: the router, the database pool as a service, and any services that must outlive the
/// pool (the embedded PostgreSQL): services start in order and stop in reverse, so pass those first.
public func buildApplication(
    settings: ServerSettings,
    database: Database,
    migrator: Migrator,
    logger: Logger,
    servicesBeforeDatabase: [any Service] = [],
    demo: DemoSignIn? = nil,
    beforeServerStarts: (@Sendable () async throws -> Void)? = nil
) -> some ApplicationProtocol {
    let router = buildRouter(database: database, migrator: migrator, settings: settings, demo: demo)
    var app = Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: TimeAmount(settings.idleTimeout))),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "senstat"),
        services: servicesBeforeDatabase + [database.client] + (database.replica.map { [$0] } ?? []),
        logger: logger
    )
    // Runs once the pool is running and before the port opens (the demo loads here).
    if let beforeServerStarts { app.beforeServerStarts(perform: beforeServerStarts) }
    return app
}

/// Every route of the API, behind the middleware that every response passes through. Each controller lists its
/// routes as a `RouteCollection`; the `/v1` ones see an `AuthenticatedContext`, whose principal is not optional.
///
/// `webApp: false` leaves out the web app's pages (the contract test compares the rest with the API's document).
public func buildRouter(
    database: Database, migrator: Migrator, settings: ServerSettings, demo: DemoSignIn? = nil, webApp: Bool = true
) -> Router<AppRequestContext> {
    let document = OpenAPIDocument.bundled()
    let allowed = AllowedMethods()
    let router = Router(context: AppRequestContext.self)
    // Outermost first: the access log and request id see the final response, metrics see the final status,
    // and the problem middleware turns every error below it into problem+json.
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: ResponseHeadersMiddleware())
    router.add(middleware: RequestMetricsMiddleware())
    router.add(middleware: ProblemMiddleware(allowed: allowed))
    let renderer = WebRenderer()
    if webApp { router.add(middleware: BrowserNotFoundMiddleware(renderer: renderer)) }

    router.addRoutes(HealthController(database: database, migrator: migrator).routes)
    router.addRoutes(SenstatMetrics.routes)
    router.get("/openapi.yaml") { _, _ in
        Response(
            status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: document.yaml)))
    }

    let tokens = TokenStore(database: database)
    let register = RegisterStore(database: database)
    let returns = ReturnsStore(database: database)
    let benchmarks = BenchmarkStore(database: database)
    let surveys = SurveyStore(database: database)
    let rateLimiter = RateLimiter(settings.rateLimit)
    let v1 = router.group("v1")
        .add(middleware: AuthMiddleware(tokens: tokens, failures: RateLimiter(settings.authFailureLimit), kept: settings.tokensKept))
        .group(context: AuthenticatedContext.self)
        .add(middleware: RateLimitMiddleware(limiter: rateLimiter))
        .add(middleware: WritePositionMiddleware(tokens: tokens))
    let benchmarkController = BenchmarkController(
        benchmarks: benchmarks, register: register, database: database, comparisons: ComparisonMemo(capacity: settings.comparisonsKept))
    let returnsController = ReturnsController(returns: returns, register: register)
    let accountsController = AccountsController(tokens: tokens, register: register)
    v1.addRoutes(accountsController.routes)
    let peopleController = PeopleController(people: PeopleStore(database: database), accounts: accountsController)
    v1.addRoutes(peopleController.routes)
    let registerController = RegisterController(register: register)
    v1.addRoutes(registerController.routes)
    let adminImportsController = AdminImportsController(giasImporter: GIASImporter(database: database), benchmarks: benchmarks)
    v1.addRoutes(adminImportsController.routes)
    v1.addRoutes(returnsController.routes)
    let importController = ReturnImportController(returns: returns, register: register)
    v1.addRoutes(importController.routes)
    v1.addRoutes(TrustReturnsController(returns: returns, replica: ReplicaReadMiddleware(database: database)).routes)
    v1.addRoutes(benchmarkController.routes)
    let surveysController = SurveysController(surveys: surveys, register: register, replica: ReplicaReadMiddleware(database: database))
    v1.addRoutes(surveysController.routes)
    let researchController = ResearchController(
        research: ResearchStore(database: database), surveys: surveys, budget: settings.privacyBudget, database: database)
    v1.addRoutes(researchController.routes)

    // The web app at `/`: the same controllers behind a browser session instead of a bearer token.
    // One request budget per token, whether it comes as a bearer token or through a browser session.
    if webApp {
        let sessions = WebSessions(
            driver: SessionPersistDriver(database: database, logger: Logger(label: "senstat.sessions")), settings: settings.web, tokens: tokens)
        let signIn = SignInController(
            renderer: renderer, sessions: sessions, people: PeopleStore(database: database),
            providers: settings.identityProviders.map { OIDCProvider(settings: $0, http: HTTPClient.shared, refetchFloor: settings.web.keyRefetchFloor) },
            store: WebSessionStore(database: database), demo: demo)
        signIn.addRoutes(to: router, allowed: allowed)
        WebController(
            renderer: renderer, sessions: sessions, identity: signIn, demo: demo, tokens: tokens, register: register, returns: returns,
            benchmarks: benchmarks, benchmark: benchmarkController, returnsAPI: returnsController, returnImport: importController,
            research: researchController, surveysAPI: surveysController, accounts: accountsController, peopleAPI: peopleController, registerAPI: registerController, adminImports: adminImportsController, surveys: surveys, researchBudget: settings.privacyBudget, rateLimit: rateLimiter
        ).addRoutes(to: router, allowed: allowed)
    }

    // 405 with Allow for a path that exists under other methods: the methods as they were registered.
    allowed.record(router.routes.map { (path: $0.path.description, method: $0.method) })
    return router
}
