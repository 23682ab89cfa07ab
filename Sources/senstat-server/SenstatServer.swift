import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SENHTTP
import SENStore
import ServiceLifecycle

@main
struct SenstatServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "senstat-server",
        abstract: "The senstat server: termly SEN and wellbeing returns for school trusts.",
        discussion: """
            With no DATABASE_URL the server runs its own PostgreSQL in the data folder (.senstat/ by default).
            Environment: PORT, HOST, DATABASE_URL, DATABASE_READ_URL, DATABASE_OWNER_URL, SENSTAT_DATA_DIR, LOG_LEVEL,
            LOG_FORMAT, SENSTAT_RATE_LIMIT, SENSTAT_RATE_BURST, SENSTAT_DP_BUDGET, SENSTAT_CITUS (1: set the tenant with
            SET LOCAL, which Citus propagates to its workers).
            """,
        subcommands: [Serve.self, Migrate.self, TokenCommand.self, Invite.self, ImportGIAS.self, ImportNational.self, Generate.self, BenchFunnel.self, BenchHTTP.self],
        defaultSubcommand: Serve.self
    )

    /// Parses and runs the command; a `CommandFailure` is printed as one line and exits 1, anything else as
    /// ArgumentParser reports it.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("senstat-server: \(failure.description)\n".utf8))
            Foundation.exit(1)
        } catch {
            exit(withError: error)
        }
    }
}

/// Options every command that touches the database shares. Flags win over the environment.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Data folder for the embedded PostgreSQL (env SENSTAT_DATA_DIR; default .senstat).")
    var dataDirectory: String?

    @Option(name: .customLong("database-url"), help: "PostgreSQL for the server's role (env DATABASE_URL). Omit to use the embedded one.")
    var databaseURL: String?

    @Option(name: .customLong("owner-database-url"), help: "PostgreSQL as the owner role, for migrations (env DATABASE_OWNER_URL).")
    var ownerDatabaseURL: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env LOG_LEVEL; default info).")
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: "text or json (env LOG_FORMAT; default text).")
    var logFormat: String?

    static let environment = ProcessInfo.processInfo.environment

    var resolvedDataDirectory: URL {
        let path = dataDirectory ?? Self.environment["SENSTAT_DATA_DIR"] ?? ".senstat"
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .standardizedFileURL
    }

    func validate() throws {
        if let level = logLevel ?? Self.environment["LOG_LEVEL"], Logger.Level(rawValue: level.lowercased()) == nil {
            throw ValidationError("log level '\(level)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        if let format = logFormat ?? Self.environment["LOG_FORMAT"], LogSetup.Format(rawValue: format.lowercased()) == nil {
            throw ValidationError("log format '\(format)' is not text or json")
        }
    }

    /// Bootstraps logging once and returns the process logger.
    func makeLogger() -> Logger {
        let level = (logLevel ?? Self.environment["LOG_LEVEL"]).flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        let format = (logFormat ?? Self.environment["LOG_FORMAT"]).flatMap { LogSetup.Format(rawValue: $0.lowercased()) } ?? .text
        LogSetup.bootstrap(format: format, level: level)
        return Logger(label: "senstat")
    }

    /// SENSTAT_CITUS=1: the tenant reaches Citus's workers only through SET LOCAL (Docs/scaling.md).
    var tenantSetting: Database.TenantSetting { Self.environment["SENSTAT_CITUS"] == "1" ? .setLocal : .setConfig }

    func prepare(logger: Logger) async throws -> DatabaseSetup {
        try await DatabaseSetup.prepare(
            databaseURL: databaseURL ?? Self.environment["DATABASE_URL"],
            ownerURL: ownerDatabaseURL ?? Self.environment["DATABASE_OWNER_URL"],
            dataDirectory: resolvedDataDirectory, environment: Self.environment, logger: logger)
    }
}

/// A command's failure, thrown (so `defer` blocks run: the embedded cluster is stopped on every path) and reported
/// once by `main` as one line, `senstat-server: message`, with exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
