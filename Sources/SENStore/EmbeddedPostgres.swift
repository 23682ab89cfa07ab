import Foundation
import Logging
import ServiceLifecycle

/// A private PostgreSQL cluster in senstat's data folder, started from the machine's own binaries.
///
/// It listens only on a Unix socket in a folder it owns (no TCP port), trusts local connections there, and is
/// stopped when senstat stops. initdb and postgres refuse to run as root, so as root the cluster belongs to the
/// unprivileged `postgres` user and every command runs through `runuser`.
public final class EmbeddedPostgres: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Roles the cluster is bootstrapped with: the superuser only bootstraps; the owner runs migrations and owns
    /// every table; the server's role owns nothing and cannot bypass row-level security.
    public static let superuser = "senstat_superuser"
    public static let ownerRole = "senstat_owner"
    public static let appRole = "senstat_app"
    public static let databaseName = "senstat"
    static let port = 5432

    public let dataDirectory: URL
    public let clusterDirectory: URL
    public let socketDirectory: String
    public let binDirectory: URL
    /// Test clusters trade durability for speed; never use for data you keep.
    public let unsafeFast: Bool
    /// More `-c name=value` settings for the server (the tests' cluster raises max_connections).
    public let settings: [String]
    private let runAsUser: String?
    let logger: Logger

    /// `environment` is the process's, read by the caller (`SENSTAT_PG_BIN`, `PATH`: see `findBinaries`).
    public init(
        dataDirectory: URL, environment: [String: String], unsafeFast: Bool = false, settings: [String] = [], logger: Logger
    ) throws {
        let data = dataDirectory.standardizedFileURL
        self.dataDirectory = data
        self.clusterDirectory = data.appendingPathComponent("pg")
        self.binDirectory = try Self.findBinaries(environment: environment)
        self.unsafeFast = unsafeFast
        self.settings = settings
        self.runAsUser = getuid() == 0 ? "postgres" : nil
        self.logger = logger
        // A Unix socket path is limited to 107 bytes; deep data folders get a short, stable one under /tmp.
        let preferred = data.appendingPathComponent("run").path
        if preferred.utf8.count + "/.s.PGSQL.5432".utf8.count < 100 {
            self.socketDirectory = preferred
        } else {
            var hash: UInt64 = 14_695_981_039_346_656_037
            for byte in data.path.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
            self.socketDirectory = "/tmp/senstat-\(String(hash, radix: 36))"
        }
    }

    /// Looks in `SENSTAT_PG_BIN`, then Debian's `/usr/lib/postgresql/<version>/bin` (newest first), then `PATH`.
    public static func findBinaries(
        environment: [String: String], debian: String = "/usr/lib/postgresql"
    ) throws -> URL {
        let fileManager = FileManager.default
        var candidates: [String] = []
        if let explicit = environment["SENSTAT_PG_BIN"] { candidates.append(explicit) }
        if let versions = try? fileManager.contentsOfDirectory(atPath: debian) {
            for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
                candidates.append("\(debian)/\(version)/bin")
            }
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":") {
            candidates.append(String(directory))
        }
        for candidate in candidates
        where ["initdb", "pg_ctl", "postgres"].allSatisfy({ fileManager.isExecutableFile(atPath: "\(candidate)/\($0)") }) {
            return URL(fileURLWithPath: candidate)
        }
        throw Failure(
            description:
                "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; install them with `apt-get install -y postgresql`, set SENSTAT_PG_BIN, or set DATABASE_URL to use an existing server"
        )
    }

    /// The endpoint for a role in this cluster's senstat database.
    public func endpoint(user: String, database: String = EmbeddedPostgres.databaseName) -> DatabaseEndpoint {
        DatabaseEndpoint(
            address: .socketDirectory(socketDirectory), port: Self.port, user: user, password: nil,
            database: database, sslMode: .disable)
    }

    var logFile: URL { dataDirectory.appendingPathComponent("postgres.log") }

    /// Creates the cluster if needed, starts it (replacing one left running by a crashed senstat), and makes sure
    /// the roles and the database exist.
    public func start() async throws {
        // initdb and pg_ctl block for a second or more: keep them off Swift's cooperative threads.
        try await LibPQConnection.run { try self.startCluster() }
        logger.info("embedded PostgreSQL is up", metadata: ["socket": "\(socketDirectory)"])
        try await bootstrap()
    }

    private func startCluster() throws {
        try prepareFolders()
        if !FileManager.default.fileExists(atPath: clusterDirectory.appendingPathComponent("PG_VERSION").path) {
            logger.info("creating the embedded PostgreSQL cluster", metadata: ["path": "\(clusterDirectory.path)"])
            try run(
                "initdb",
                ["-D", clusterDirectory.path, "--no-sync", "-A", "trust", "-U", Self.superuser, "-E", "UTF8", "--locale=C"])
        }
        if try status() {
            logger.warning("an embedded PostgreSQL from an earlier run is still up; restarting it")
            try run("pg_ctl", ["-D", clusterDirectory.path, "-m", "fast", "-w", "stop"])
        }
        var settings = [
            "-c listen_addresses=''",
            "-c unix_socket_directories='\(socketDirectory)'",
            "-c unix_socket_permissions=0700",
            "-c port=\(Self.port)",
        ]
        if unsafeFast {
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        }
        settings += self.settings.map { "-c \($0)" }
        try run(
            "pg_ctl",
            ["-D", clusterDirectory.path, "-l", logFile.path, "-w", "-t", "60", "-o", settings.joined(separator: " "), "start"])
    }

    /// Stops the cluster; safe to call when it is not running.
    public func stop() {
        guard (try? status()) == true else { return }
        do {
            try run("pg_ctl", ["-D", clusterDirectory.path, "-m", "fast", "-w", "-t", "60", "stop"])
            logger.info("embedded PostgreSQL stopped")
        } catch {
            logger.error("could not stop the embedded PostgreSQL", metadata: ["error": "\(error)"])
        }
    }

    /// Whether a postmaster is running for this cluster (`pg_ctl status` exits 0).
    public func status() throws -> Bool {
        guard FileManager.default.fileExists(atPath: clusterDirectory.appendingPathComponent("PG_VERSION").path) else {
            return false
        }
        return try run("pg_ctl", ["-D", clusterDirectory.path, "status"], allowFailure: true) == 0
    }

    private func prepareFolders() throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        for directory in [clusterDirectory.path, socketDirectory] {
            if !fileManager.fileExists(atPath: directory) {
                try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            try fileManager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
        }
        if !fileManager.fileExists(atPath: logFile.path) {
            _ = fileManager.createFile(atPath: logFile.path, contents: nil)
        }
        guard let user = runAsUser else { return }
        for path in [clusterDirectory.path, socketDirectory, logFile.path] {
            try run("/bin/chown", ["-R", "\(user):", path], asSelf: true)
        }
        // Every folder above the cluster must be traversable by that user.
        if try run("/usr/bin/test", ["-x", clusterDirectory.path], allowFailure: true) != 0 {
            throw Failure(
                description:
                    "the \(user) user cannot reach \(clusterDirectory.path) (running as root, the cluster runs as \(user)); choose a --data-dir whose parent folders are world-traversable"
            )
        }
    }

    /// Creates the roles and the database if they are missing. Idempotent.
    private func bootstrap() async throws {
        let admin = endpoint(user: Self.superuser, database: "postgres")
        try await LibPQ.runScript(on: admin) { connection in
            try Self.ensureRoles(connection)
            try Self.ensureDatabase(connection, name: Self.databaseName)
        }
    }

    /// Owner and server roles, as an operator would create them by hand (Deploy/roles.sql says the same).
    public static func ensureRoles(_ connection: LibPQConnection, password: String? = nil) throws {
        let passwordClause = password.map { " PASSWORD '\($0.replacingOccurrences(of: "'", with: "''"))'" } ?? ""
        for (role, attributes) in [
            (ownerRole, "LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS"),
            (appRole, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION"),
        ] {
            let exists = try connection.execute("SELECT 1 FROM pg_roles WHERE rolname = $1", parameters: [role])
            let verb = exists.isEmpty ? "CREATE" : "ALTER"
            try connection.execute("\(verb) ROLE \(role) \(attributes)\(passwordClause)")
        }
    }

    public static func ensureDatabase(_ connection: LibPQConnection, name: String, template: String? = nil) throws {
        let exists = try connection.execute("SELECT 1 FROM pg_database WHERE datname = $1", parameters: [name])
        if exists.isEmpty {
            let templateClause = template.map { " TEMPLATE \"\($0)\"" } ?? ""
            try connection.execute("CREATE DATABASE \"\(name)\" OWNER \(ownerRole)\(templateClause)")
        }
        try connection.execute("REVOKE ALL ON DATABASE \"\(name)\" FROM PUBLIC")
        try connection.execute("GRANT CONNECT, TEMPORARY ON DATABASE \"\(name)\" TO \(appRole)")
    }

    /// Runs a PostgreSQL binary (as the postgres user when root) and returns its exit code.
    @discardableResult
    private func run(_ tool: String, _ arguments: [String], allowFailure: Bool = false, asSelf: Bool = false) throws
        -> Int32
    {
        let executable = tool.hasPrefix("/") ? tool : binDirectory.appendingPathComponent(tool).path
        let result: ChildProcess.Result
        if let user = runAsUser, !asSelf {
            result = try ChildProcess.run("/sbin/runuser", ["-u", user, "--", executable] + arguments)
        } else {
            result = try ChildProcess.run(executable, arguments)
        }
        if result.status != 0 && !allowFailure {
            var detail = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if tool == "pg_ctl", let log = try? String(contentsOf: logFile, encoding: .utf8) {
                detail += "\n--- \(logFile.path) (last lines) ---\n" + log.split(separator: "\n").suffix(15).joined(separator: "\n")
            }
            throw Failure(description: "\(tool) \(arguments.first ?? "") failed (exit \(result.status)): \(detail)")
        }
        return result.status
    }
}

extension LibPQ {
    /// Opens a libpq connection on the thread pool, runs `body`, and closes it.
    public static func runScript<T: Sendable>(
        on endpoint: DatabaseEndpoint, _ body: @escaping @Sendable (LibPQConnection) throws -> T
    ) async throws -> T {
        let conninfo = endpoint.conninfo
        return try await LibPQConnection.run {
            let connection = try LibPQConnection(conninfo: conninfo)
            return try body(connection)
        }
    }
}

/// Keeps the embedded cluster's lifetime inside the application's service group: the cluster is started before
/// the group runs; this service watches it, starts it again if it dies (the pool then reconnects on its own),
/// and stops it on graceful shutdown. Added first, it stops last.
public struct EmbeddedPostgresService: Service {
    let postgres: EmbeddedPostgres
    let interval: Duration

    public init(_ postgres: EmbeddedPostgres, checkEvery interval: Duration = .seconds(2)) {
        self.postgres = postgres
        self.interval = interval
    }

    public func run() async throws {
        let postgres = self.postgres
        let interval = self.interval
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                let running = (try? await LibPQConnection.run { try postgres.status() }) ?? true
                if !running {
                    postgres.logger.error("the embedded PostgreSQL is not running; starting it again")
                    do {
                        try await postgres.start()
                    } catch {
                        postgres.logger.error("could not restart the embedded PostgreSQL", metadata: ["error": "\(error)"])
                    }
                }
            }
        }
        postgres.stop()
    }
}
