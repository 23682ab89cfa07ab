import Foundation
import Logging

/// Where the server's database is: a server named by `DATABASE_URL`, or the embedded cluster in the data folder.
public struct DatabaseSetup: Sendable {
    /// The server's role: owns nothing, obeys RLS.
    public let app: DatabaseEndpoint
    /// The owner role, for migrations. Nil when only `DATABASE_URL` is given: migrations are then checked, not run.
    public let owner: DatabaseEndpoint?
    public let embedded: EmbeddedPostgres?

    /// Resolves the configuration and, in embedded mode, starts the private cluster (its binaries found through
    /// `environment`, the process's as `senstat-server` read it).
    public static func prepare(
        databaseURL: String?, ownerURL: String?, dataDirectory: URL, environment: [String: String], logger: Logger
    ) async throws -> DatabaseSetup {
        if let databaseURL, !databaseURL.isEmpty {
            let app = try DatabaseEndpoint.resolve(databaseURL)
            let owner = try ownerURL.flatMap { $0.isEmpty ? nil : try DatabaseEndpoint.resolve($0) }
            logger.info("using the database at DATABASE_URL", metadata: ["endpoint": "\(app.redacted)"])
            return DatabaseSetup(app: app, owner: owner, embedded: nil)
        }
        let embedded = try EmbeddedPostgres(dataDirectory: dataDirectory, environment: environment, logger: logger)
        try await embedded.start()
        return DatabaseSetup(
            app: embedded.endpoint(user: EmbeddedPostgres.appRole),
            owner: embedded.endpoint(user: EmbeddedPostgres.ownerRole),
            embedded: embedded)
    }
}

import SENCore

extension CalendarDate {
    /// Today in UTC (census days and deadlines are dates in England; UTC is within an hour of it).
    public static func todayUTC(now: Date = Date()) -> CalendarDate {
        CalendarDate(daysSinceEpoch: Int((now.timeIntervalSince1970 / 86_400).rounded(.down)))
    }
}
