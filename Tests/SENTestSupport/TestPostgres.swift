import Foundation
import Logging
import PostgresNIO
import SENCore
import SENStore
import Synchronization

/// Real PostgreSQL for tests: the server named by `SENSTAT_TEST_DATABASE_URL` (a role that may create roles and
/// databases), or else an embedded cluster in a temporary folder, started when the first test needs it and
/// stopped when the last one finishes. Each test gets its own database, cloned from a migrated template.
public actor TestPostgres {
    public static let shared = TestPostgres()

    struct Cluster: Sendable {
        let admin: DatabaseEndpoint
        let owner: DatabaseEndpoint
        let app: DatabaseEndpoint
        let template: String
        let embedded: EmbeddedPostgres?
        let folder: URL?
    }

    private var users = 0
    private var starting: Task<Cluster, any Error>?
    private var generation = 0
    static let logger: Logger = {
        var logger = Logger(label: "senstat.test")
        logger.logLevel = .warning
        return logger
    }()

    func acquire() async throws -> Cluster {
        users += 1
        if starting == nil {
            generation += 1
            let generation = generation
            starting = Task { try await Self.start(generation: generation) }
        }
        do {
            return try await starting!.value
        } catch {
            await release()
            throw error
        }
    }

    /// The last user out stops the embedded cluster, before its test returns, so none outlives the test run.
    func release() async {
        users -= 1
        guard users == 0, let task = starting else { return }
        starting = nil
        guard let cluster = try? await task.value, let embedded = cluster.embedded else { return }
        embedded.stop()
        if let folder = cluster.folder { try? FileManager.default.removeItem(at: folder) }
    }

    static func start(generation: Int) async throws -> Cluster {
        let template = "senstat_tpl_\(getpid())_\(generation)"
        if let url = ProcessInfo.processInfo.environment["SENSTAT_TEST_DATABASE_URL"], !url.isEmpty {
            let admin = try DatabaseEndpoint.resolve(url)
            let password = "t" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
            try await LibPQ.runScript(on: admin) { connection in
                try EmbeddedPostgres.ensureRoles(connection, password: password)
                try EmbeddedPostgres.ensureDatabase(connection, name: template)
            }
            let owner = admin.with(user: EmbeddedPostgres.ownerRole, password: password, database: template)
            try await Migrator.bundled(logger: logger).migrate(owner: owner)
            return Cluster(
                admin: admin, owner: owner, app: admin.with(user: EmbeddedPostgres.appRole, password: password),
                template: template, embedded: nil, folder: nil)
        }
        let folder = URL(fileURLWithPath: "/tmp/senstat-test-\(getpid())-\(generation)")
        try? FileManager.default.removeItem(at: folder)
        let embedded = try EmbeddedPostgres(dataDirectory: folder, environment: ProcessInfo.processInfo.environment, unsafeFast: true,
            // Up to 90 suites run at once, each test's pool opening up to 8 connections and its admin statements
            // one each: more than the default 100.
            settings: ["max_connections=300"], logger: logger)
        let admin = embedded.endpoint(user: EmbeddedPostgres.superuser, database: "postgres")
        do {
            try await embedded.start()
            try await LibPQ.runScript(on: admin) { connection in
                try EmbeddedPostgres.ensureDatabase(connection, name: template)
            }
            try await Migrator.bundled(logger: logger).migrate(owner: embedded.endpoint(user: EmbeddedPostgres.ownerRole, database: template))
        } catch {
            // No user will ever release a cluster that failed to start: stop it here.
            embedded.stop()
            try? FileManager.default.removeItem(at: folder)
            throw error
        }
        return Cluster(
            admin: admin, owner: embedded.endpoint(user: EmbeddedPostgres.ownerRole),
            app: embedded.endpoint(user: EmbeddedPostgres.appRole), template: template, embedded: embedded,
            folder: folder)
    }
}

/// One test's own database.
public struct TestDatabase: Sendable {
    public let name: String
    /// The server's role (owns nothing, obeys RLS).
    public let app: DatabaseEndpoint
    /// The owner role (migrations).
    public let owner: DatabaseEndpoint
    /// A superuser-like role, for tests that inspect or break things.
    public let admin: DatabaseEndpoint

    /// A pool as the server's role; the caller runs it (or hands it to an application that does).
    /// 30 s, not production's 2: the suite runs dozens of tests and three servers under load at once on two
    /// cores, and a test is about its own behaviour, not the machine's. Tests of the deadline pass their own.
    public func makeDatabase(deadline: Duration = .seconds(30), tenantSetting: Database.TenantSetting = .setConfig) -> Database {
        Database(
            client: Database.makeClient(endpoint: app, maximumConnections: 8, logger: TestPostgres.logger),
            deadline: deadline, tenantSetting: tenantSetting)
    }

    /// `withDatabase` with the demo's trusts and schools loaded first (`DemoData`), the setup most store tests share.
    public func withDemoDatabase<T: Sendable>(_ body: @Sendable (Database) async throws -> T) async throws -> T {
        try await withDatabase { database in
            try await DemoData.load(into: database, logger: .test)
            return try await body(database)
        }
    }

    /// Runs `body` with a running pool as the server's role.
    public func withDatabase<T: Sendable>(
        tenantSetting: Database.TenantSetting = .setConfig, _ body: @Sendable (Database) async throws -> T
    ) async throws -> T {
        let database = makeDatabase(tenantSetting: tenantSetting)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }

    /// Runs `body` on a pool of the server's role with a deadline of 20 s, while another transaction holds the
    /// rows that `lock` (a `SELECT … FOR UPDATE` as the admin role) locks, as a commit stuck on a slow disk holds
    /// them; the lock is let go when `body` returns (or after 60 s). Returns `body`'s answer, how long it took and
    /// whether the rows were held throughout: a `body` that waited for them would fail its deadline instead.
    public func whileAnotherTransactionHolds<T: Sendable>(
        _ lock: String, _ parameters: [String?], _ body: @Sendable (Database) async throws -> T
    ) async throws -> (answer: T, took: Duration, heldThroughout: Bool) {
        let state = Mutex((locked: false, release: false))
        let holder = Task {
            try await LibPQ.runScript(on: admin) { connection in
                _ = try connection.execute("BEGIN")
                _ = try connection.execute(lock, parameters: parameters)
                state.withLock { $0.locked = true }
                for _ in 0..<600 where !state.withLock({ $0.release }) { usleep(100_000) }
                _ = try connection.execute("COMMIT")
            }
        }
        while !state.withLock({ $0.locked }) { try await Task.sleep(for: .milliseconds(20)) }
        let database = makeDatabase(deadline: .seconds(20))
        let result = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            let started = ContinuousClock.now
            let answer = try await body(database)
            let took = ContinuousClock.now - started
            let held = state.withLock { $0.locked && !$0.release }
            state.withLock { $0.release = true }
            return (answer, took, held)
        }
        try await holder.value
        return result
    }

    /// Runs SQL as the admin role in this database (setup that bypasses the server's rules on purpose).
    @discardableResult
    public func adminSQL(_ sql: String, _ parameters: [String?] = []) async throws -> [[String?]] {
        try await LibPQ.runScript(on: admin) { try $0.execute(sql, parameters: parameters) }
    }
}

/// Creates a fresh migrated database for `body` and drops it afterwards.
public func withTestDatabase<T: Sendable>(_ body: (TestDatabase) async throws -> T) async throws -> T {
    let cluster = try await TestPostgres.shared.acquire()
    let name = "senstat_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
    do {
        try await LibPQ.runScript(on: cluster.admin) { connection in
            try EmbeddedPostgres.ensureDatabase(connection, name: name, template: cluster.template)
        }
        let database = TestDatabase(
            name: name, app: cluster.app.with(database: name), owner: cluster.owner.with(database: name),
            admin: cluster.admin.with(database: name))
        let result = try await body(database)
        _ = try? await LibPQ.runScript(on: cluster.admin) { try $0.execute("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)") }
        await TestPostgres.shared.release()
        return result
    } catch {
        _ = try? await LibPQ.runScript(on: cluster.admin) { try $0.execute("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)") }
        await TestPostgres.shared.release()
        throw error
    }
}

extension Logger {
    /// The logger tests pass to stores and loaders: warnings and errors only, so a run reads like a report; set
    /// SENSTAT_TEST_LOG_LEVEL (trace, debug, info, notice, warning, error, critical) to see more.
    public static var test: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = ProcessInfo.processInfo.environment["SENSTAT_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }
}

extension Checked {
    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    /// The value, or an error listing the problems (tests build valid values with it).
    public func get() throws -> Value {
        switch self {
        case .success(let value): return value
        case .failure(let problems): throw Failed(description: "\(problems)")
        }
    }
}

extension DisclosureControl {
    /// Whether any hidden cell equals its shown margin minus the shown cells of its group (the property the
    /// rules guarantee; tests check it over random data).
    public static func recoverable(_ controlled: [Controlled], totalShown: Bool) -> [String] {
        let groups = Dictionary(grouping: controlled, by: { $0.parent ?? "" })
        var exposed: [String] = []
        for (parent, members) in groups {
            let marginShown = parent.isEmpty ? totalShown : true
            let hidden = members.filter { $0.suppression != nil }
            if marginShown && hidden.count == 1 && members.count > 1 { exposed.append(hidden[0].key) }
        }
        return exposed
    }
}

extension TokenStore {
    /// The principal for a token, or nil (tests; the server reads the whole session).
    public func authenticate(_ token: String, logger: Logger) async throws -> Principal? {
        try await session(for: token, logger: logger)?.principal
    }
}
