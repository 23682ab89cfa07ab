import Crypto
import Foundation
import Logging
import SENCore
import SENSchema

/// One numbered SQL file from `SQL/migrations`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let fileName: String
    public let sql: String
    /// SHA-256 of the file's bytes, hex.
    public let checksum: String

    public init(version: Int, fileName: String, sql: String) {
        self.version = version
        self.fileName = fileName
        self.sql = sql
        self.checksum = Hex.lowercase(SHA256.hash(data: Data(sql.utf8)))
    }
}

public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case badFileName(String)
    case duplicateVersion(Int)
    case changedAfterApplied(fileName: String, recorded: String, now: String)
    case missingFile(version: Int, fileName: String)
    case missingRole(String)
    case failed(fileName: String, line: Int?, message: String)

    public var description: String {
        switch self {
        case .badFileName(let name):
            "migration file \(name) is not named NNNN_what_it_does.sql"
        case .duplicateVersion(let version):
            "two migration files carry version \(version)"
        case .changedAfterApplied(let fileName, let recorded, let now):
            "migration \(fileName) was changed after it was applied (recorded sha256 \(recorded.prefix(12)), file now \(now.prefix(12))); restore the file and put the change in a new migration"
        case .missingFile(let version, let fileName):
            "the database has migration \(version) (\(fileName)) applied, but this senstat does not have it; run the senstat version that applied it, or a newer one"
        case .missingRole(let role):
            "the database role \(role) does not exist; create it first (see Deploy/roles.sql)"
        case .failed(let fileName, let line, let message):
            "migration \(fileName) failed\(line.map { " at line \($0)" } ?? ""): \(message)"
        }
    }
}

public struct Migrator: Sendable {
    public let migrations: [Migration]
    let logger: Logger

    public init(migrations: [Migration], logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    /// The migrations shipped with this build.
    public static func bundled(logger: Logger) throws -> Migrator {
        Migrator(migrations: try load(from: SchemaFiles.migrationsDirectory), logger: logger)
    }

    public static func load(from directory: URL) throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        var result: [Migration] = []
        for name in names {
            guard let underscore = name.firstIndex(of: "_"), let version = Int(name[..<underscore]), version > 0 else {
                throw MigrationError.badFileName(name)
            }
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            result.append(Migration(version: version, fileName: name, sql: String(decoding: data, as: UTF8.self)))
        }
        result.sort { $0.version < $1.version }
        for (a, b) in zip(result, result.dropFirst()) where a.version == b.version {
            throw MigrationError.duplicateVersion(a.version)
        }
        return result
    }

    /// Compares the recorded migrations with these files: throws if an applied file changed or is unknown, and
    /// returns the ones still to apply.
    public func pending(applied: [(version: Int, fileName: String, checksum: String)]) throws -> [Migration] {
        let byVersion = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for record in applied {
            guard let migration = byVersion[record.version] else {
                throw MigrationError.missingFile(version: record.version, fileName: record.fileName)
            }
            guard migration.checksum == record.checksum else {
                throw MigrationError.changedAfterApplied(
                    fileName: migration.fileName, recorded: record.checksum, now: migration.checksum)
            }
        }
        let appliedVersions = Set(applied.map(\.version))
        return migrations.filter { !appliedVersions.contains($0.version) }
    }

    /// The migrations recorded in `schema_migrations`; a row that is not a version, a name and a checksum is a
    /// corrupt row, not a crash.
    static func appliedRecords(_ connection: LibPQConnection) throws -> [(version: Int, fileName: String, checksum: String)] {
        try connection.execute("SELECT version, file_name, checksum FROM schema_migrations").map { row in
            guard row.count == 3, let version = row[0].flatMap({ Int($0) }), let fileName = row[1], let checksum = row[2] else {
                throw CorruptRow(table: "schema_migrations", detail: "\(row)")
            }
            return (version, fileName, checksum)
        }
    }

    /// The migrations still to apply on `endpoint` (read as the server's own role, which may read
    /// `schema_migrations`): what a server started with --no-migrate refuses to start with.
    public func pending(on endpoint: DatabaseEndpoint) async throws -> [Migration] {
        let applied = try await LibPQ.runScript(on: endpoint) { connection in try Self.appliedRecords(connection) }
        return try pending(applied: applied)
    }

    /// Applies every pending migration as the owner role, each file in its own transaction, under an advisory lock
    /// so that two servers starting together do not race. Returns the files applied.
    @discardableResult
    public func migrate(owner: DatabaseEndpoint, appRole: String = EmbeddedPostgres.appRole) async throws -> [String] {
        let applied = try await LibPQ.runScript(on: owner) { [self] connection in
            try connection.execute("SELECT pg_advisory_lock(hashtext('senstat.migrations'))")
            defer { _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext('senstat.migrations'))") }
            if try connection.execute("SELECT 1 FROM pg_roles WHERE rolname = $1", parameters: [appRole]).isEmpty {
                throw MigrationError.missingRole(appRole)
            }
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer     PRIMARY KEY,
                    file_name  text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                );
                GRANT SELECT ON schema_migrations TO \(appRole);
                """)
            let records = try Self.appliedRecords(connection)
            var done: [String] = []
            for migration in try pending(applied: records) {
                do {
                    try connection.execute("BEGIN")
                    try connection.execute(migration.sql)
                    try connection.execute(
                        "INSERT INTO schema_migrations (version, file_name, checksum) VALUES ($1, $2, $3)",
                        parameters: [String(migration.version), migration.fileName, migration.checksum])
                    try connection.execute("COMMIT")
                    done.append(migration.fileName)
                } catch let error as LibPQConnection.SQLError {
                    _ = try? connection.execute("ROLLBACK")
                    throw MigrationError.failed(
                        fileName: migration.fileName, line: error.position.map { Self.line(of: $0, in: migration.sql) },
                        message: error.message)
                }
            }
            return done
        }
        for name in applied { logger.info("applied migration", metadata: ["file": "\(name)"]) }
        return applied
    }

    /// Line number of a 1-based character position.
    static func line(of position: Int, in text: String) -> Int {
        text.prefix(max(0, position - 1)).reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
    }
}
