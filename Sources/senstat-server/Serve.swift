import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import SENHTTP
import SENCore
import SENStore
import ServiceLifecycle
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Migrate (unless --no-migrate) and serve the API.")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on (env HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (env PORT; default 8080).")
    var port: Int?

    @Option(
        name: .customLong("read-database-url"),
        help: "A streaming replica for read-only endpoints, as the server's role (env DATABASE_READ_URL); a caller's reads after its own write go to the primary until the replica has replayed it.")
    var readDatabaseURL: String?

    @Flag(help: "Load the demo trusts and schools before serving.")
    var demo = false

    @Flag(name: .customLong("no-migrate"), help: "Do not apply migrations at start; refuse to start if any are pending.")
    var noMigrate = false

    @Flag(name: .customLong("allow-unsafe-fsync"), help: "Start even if the database runs with fsync=off (development only).")
    var allowUnsafeFsync = false

    func validate() throws {
        if let port = port ?? DatabaseOptions.environment["PORT"].flatMap(Int.init), !(1...65535).contains(port) {
            throw ValidationError("port \(port) is not between 1 and 65535")
        }
        if port == nil, let text = DatabaseOptions.environment["PORT"], Int(text) == nil {
            throw ValidationError("PORT '\(text)' is not a number")
        }
    }

    func run() async throws {
        let logger = database.makeLogger()
        // Flags and environment, read once here into the one configuration the libraries get.
        var settings = ServerSettings(environment: DatabaseOptions.environment)
        if let host { settings.host = host }
        if let port { settings.port = port }
        // Identity providers (Docs/operations.md "Sign-in providers"): a mistake in their file stops the start.
        if let path = DatabaseOptions.environment["SENSTAT_OIDC_PROVIDERS"], !path.isEmpty {
            settings.identityProviders = try OIDCProviderSettings.load(path: path, environment: DatabaseOptions.environment)
        }
        if settings.web.publicURL == nil { settings.web.publicURL = "http://\(settings.host == "0.0.0.0" ? "127.0.0.1" : settings.host):\(settings.port)" }
        logger.info(
            "starting senstat-server",
            metadata: [
                "host": "\(settings.host)", "port": "\(settings.port)", "demo": "\(demo)",
                "data_dir": "\(database.resolvedDataDirectory.path)",
            ])

        let setup: DatabaseSetup
        do {
            setup = try await database.prepare(logger: logger)
        } catch {
            throw CommandFailure("\(error)")
        }
        // From here on the embedded cluster (if any) is running: every way out of this function stops it (after a
        // graceful shutdown its service has stopped it already; stopping again does nothing).
        defer { setup.embedded?.stop() }
        let migrator: Migrator
        do {
            migrator = try Migrator.bundled(logger: logger)
            if let owner = setup.owner, !noMigrate {
                try await migrator.migrate(owner: owner)
            } else {
                let pending = try await migrator.pending(on: setup.app)
                if !pending.isEmpty {
                    throw CommandFailure(
                        "migrations are pending (\(pending.map(\.fileName).joined(separator: ", "))); run `senstat-server migrate` with DATABASE_OWNER_URL")
                }
            }
            // The database must enforce tenancy by itself before anyone is let in.
            try await StartupGuards.check(app: setup.app, allowFsyncOff: allowUnsafeFsync)
        } catch {
            throw CommandFailure("\(error)")
        }

        let client = Database.makeClient(endpoint: setup.app, maximumConnections: 20, logger: logger)
        var replica: PostgresClient? = nil
        if let url = readDatabaseURL ?? DatabaseOptions.environment["DATABASE_READ_URL"], !url.isEmpty {
            do {
                let endpoint = try DatabaseEndpoint.resolve(url)
                logger.info("reading from a replica at DATABASE_READ_URL", metadata: ["endpoint": "\(endpoint.redacted)"])
                replica = Database.makeClient(endpoint: endpoint, maximumConnections: 20, logger: logger)
            } catch {
                    throw CommandFailure("DATABASE_READ_URL: \(error)")
            }
        }
        let db = Database(client: client, replica: replica, tenantSetting: database.tenantSetting)
        var loadDemo: (@Sendable () async throws -> Void)? = nil
        let demoSignIn = demo ? DemoSignIn() : nil
        if demo {
            let tokenFile = database.resolvedDataDirectory.appendingPathComponent("demo-tokens.json")
            loadDemo = {
                try await DemoData.load(into: db, logger: logger)
                try await DemoData.loadReturns(into: ReturnsStore(database: db), logger: logger)
                try await DemoData.loadSurveys(into: SurveyStore(database: db), logger: logger)
                try await DemoData.releaseTerms(into: ResearchStore(database: db), logger: logger)
                let tokens = try await DemoData.issueTokens(store: TokenStore(database: db), logger: logger)
                try writeDemoTokens(tokens, to: tokenFile)
                let people = try await DemoData.seedPeople(store: PeopleStore(database: db), logger: logger)
                demoSignIn?.set(demoSignInRoles(tokens, people: people))
                var text = "demo tokens (also in \(tokenFile.path)):\n"
                for name in tokens.keys.sorted() { text += "  \(name): \(tokens[name]!.token)\n" }
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        }
        let app = buildApplication(
            settings: settings, database: db, migrator: migrator, logger: logger,
            servicesBeforeDatabase: setup.embedded.map { [EmbeddedPostgresService($0)] } ?? [],
            demo: demoSignIn, beforeServerStarts: loadDemo)
        do {
            // SIGTERM and SIGINT stop the server gracefully; whatever has not stopped 15 s later (a pool waiting on a
            // connection that died with its database) is cancelled, and the embedded cluster is still stopped.
            var configuration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            configuration.maximumGracefulShutdownDuration = .seconds(15)
            configuration.maximumCancellationDuration = .seconds(10)
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending migrations as the owner role (DATABASE_OWNER_URL, or the embedded cluster's owner).")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = database.makeLogger()
        let setup: DatabaseSetup
        do {
            setup = try await database.prepare(logger: logger)
        } catch {
            throw CommandFailure("\(error)")
        }
        defer { setup.embedded?.stop() }
        guard let owner = setup.owner else {
            throw CommandFailure("set DATABASE_OWNER_URL (or --owner-database-url): migrations run as the role that owns the tables")
        }
        do {
            let applied = try await Migrator.bundled(logger: logger).migrate(owner: owner)
            print(applied.isEmpty ? "migrations are current" : "applied: \(applied.joined(separator: ", "))")
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

/// `{"admin": {"token": ...}, "trust_executive": {"token": ..., "trust_id": ..., "urns": [...]}, ...}`, mode 0600.
func writeDemoTokens(_ tokens: [String: DemoData.Token], to file: URL) throws {
    var object: [String: [String: Any]] = [:]
    for (name, token) in tokens {
        var entry: [String: Any] = ["token": token.token]
        if let trust = token.trustID { entry["trust_id"] = trust.uuidString }
        if !token.urns.isEmpty { entry["urns"] = token.urns.map(\.value) }
        object[name] = entry
    }
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: file.path, contents: data, attributes: [.posixPermissions: 0o600])
}

/// The demo's people as the sign-in page offers them, in the order a visitor would try them.
func demoSignInRoles(_ tokens: [String: DemoData.Token], people: [String: DemoData.Person] = [:]) -> [DemoSignIn.Role] {
    func trustName(_ id: TrustID?) -> String { DemoData.trusts.first { $0.id == id }?.name ?? "" }
    func schoolName(_ urn: URN?) -> String { DemoData.trusts.flatMap(\.schools).first { $0.urn == urn?.value }?.name ?? "" }
    let plan: [(String, (DemoData.Token) -> String)] = [
        ("trust_executive", { "Trust executive, \(trustName($0.trustID))" }),
        ("school_leader", { "School leader, \(schoolName($0.urns.first))" }),
        ("researcher", { _ in "Researcher" }),
        ("admin", { _ in "Administrator" }),
        ("other_trust_executive", { "Trust executive, \(trustName($0.trustID))" }),
    ]
    return plan.compactMap { name, label in
        tokens[name].map {
            DemoSignIn.Role(name: name, label: label($0), token: $0.token, person: people[name]?.person, membership: people[name]?.membership)
        }
    }
}
