import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SENAPI
import SENHTTP
import SENStore

// The HTTP tests' shared helpers, in one place: the application on a test database, the demo with a token per
// role, and the answers read as the API's own types (SENAPI).

/// The application on `db` (or `database`), driven through Hummingbird's router test client.
public func withApp(
    _ db: TestDatabase, migrator: Migrator? = nil, database: Database? = nil,
    rateLimit: RateLimit = RateLimit(perSecond: 1_000, burst: 10_000),
    authFailureLimit: RateLimit = RateLimit(perSecond: 1_000, burst: 10_000),
    web: WebSessionSettings = WebSessionSettings(),
    providers: [OIDCProviderSettings] = [],
    tokensKept: Int = ServerSettings().tokensKept,
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    var logger = Logger(label: "senstat.test.http")
    logger.logLevel = Logger.test.logLevel
    var settings = ServerSettings(host: "127.0.0.1", port: 0, rateLimit: rateLimit, authFailureLimit: authFailureLimit)
    settings.web = web
    settings.identityProviders = providers
    settings.tokensKept = tokensKept
    let app = buildApplication(
        settings: settings,
        database: database ?? db.makeDatabase(), migrator: try migrator ?? Migrator.bundled(logger: logger), logger: logger)
    try await app.test(.router, body)
}

/// The demo's trusts and schools, with a token for each role (and an executive of the other trust).
public struct Fixture: Sendable {
    public let tokens: [String: DemoData.Token]
    public let trustA = DemoData.trusts[0]
    public let trustB = DemoData.trusts[1]
    /// The school leader's own school, another school of the same trust, and a school of the other trust.
    public let ownSchool = DemoData.trusts[0].schools[0]
    public let siblingSchool = DemoData.trusts[0].schools[1]
    public let foreignSchool = DemoData.trusts[1].schools[0]

    public static func load(_ db: TestDatabase) async throws -> Fixture {
        let tokens = try await db.withDatabase { database in
            try await DemoData.load(into: database, logger: Logger.test)
            return try await DemoData.issueTokens(store: TokenStore(database: database), logger: Logger.test)
        }
        return Fixture(tokens: tokens)
    }

    /// The demo with its returns: the planted outliers must stand out and ordinary schools must not.
    public static func withReturns(_ db: TestDatabase) async throws -> Fixture {
        let fixture = try await load(db)
        try await db.withDatabase { database in
            try await DemoData.loadReturns(into: ReturnsStore(database: database), logger: Logger.test)
        }
        return fixture
    }

    /// `Authorization: Bearer …` for one of the roles (`trust_executive`, `other_trust_executive`, …); none for nil.
    public func headers(_ who: String?) -> HTTPFields {
        guard let who, let token = tokens[who] else { return [:] }
        return [.authorization: "Bearer \(token.token)"]
    }
}

extension TestResponse {
    public var text: String { String(buffer: body) }

    /// The answer as the API's type for it, read as the CLI reads it (`JSONDecoder.api`).
    public func decode<Body: Decodable>(_ type: Body.Type) throws -> Body {
        try JSONDecoder.api.decode(Body.self, from: Data(text.utf8))
    }

    /// A problem+json answer.
    public var problem: ProblemDetails {
        get throws { try decode(ProblemDetails.self) }
    }

    /// The raw JSON object, for the tests that check the wire itself (a key written as null, not left out).
    public func jsonObject() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not a JSON object: \(text.prefix(200))"))
        }
        return object
    }
}
