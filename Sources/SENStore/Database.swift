import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import SENCore
import Synchronization

/// Whose rows a transaction may see. Chosen by the HTTP layer from the authenticated principal, never by a client.
public enum TenantScope: Sendable, Equatable {
    /// One trust's rows (RLS: `trust_id = current_trust_id()`).
    case trust(TrustID)
    /// An admin's platform-wide work: creating trusts, importing the register.
    case platform
    /// A researcher: released snapshots only; every tenant policy matches nothing.
    case research
    /// Reference data only: every tenant policy matches nothing.
    case none
}

/// The database as the server uses it: a PostgresNIO pool connected as the server's role, every piece of work
/// in a transaction whose tenant is set first, and a deadline so that an unreachable database answers quickly.
public struct Database: Sendable {
    /// The primary: every write, and every read not routed to the replica.
    public let client: PostgresClient
    /// A streaming replica (`DATABASE_READ_URL`), for the reads a request routes there with `readRouting`.
    public let replica: PostgresClient?
    /// How long one unit of database work may take before the request gives up with 503.
    public let deadline: Duration
    /// Bulk work (imports of a national file, releases) may take this long.
    public static let bulkDeadline: Duration = .seconds(300)
    /// No statement may hold a connection for long: the slowest query senstat runs (a national import's set-based
    /// insert) takes a few seconds. Set per transaction, so it holds behind PgBouncer too.
    static let statementTimeout = "30s"
    /// How often a running statement checks that its client is still there (PostgreSQL 14+; Linux). A statement
    /// whose deadline passed has its connection closed (`SQLConnection`), and without this check PostgreSQL would
    /// run it on, holding its locks, until it next wrote to the closed socket or reached `statementTimeout`.
    static let connectionCheckInterval = "1s"

    /// Set by the HTTP layer around a read-only request: its transactions go to the replica when there is one
    /// and it has replayed the caller's last write, and to the primary otherwise.
    @TaskLocal public static var readRouting: ReadRouting?

    /// Set by the HTTP layer around a request whose token it authenticated earlier and has not yet confirmed: the
    /// request's transactions on the primary confirm it in the statement that sets the tenant, until one has
    /// (`TokenConfirmation`). Never sent to a replica, where the touch of `last_used_at` could not be written.
    @TaskLocal public static var tokenConfirmation: TokenConfirmation?

    /// After the replica fails to answer, reads skip it for this long rather than each waiting for it in turn.
    static let replicaBackoff: Duration = .seconds(5)
    private let replicaSkippedUntil = SharedInstant()

    /// How a transaction hands its tenant to the RLS policies.
    public enum TenantSetting: Sendable {
        /// `set_config(..., true)` for all of them in one round trip (a single PostgreSQL, PgBouncer, replicas).
        case setConfig
        /// `SET LOCAL` statements, one round trip each: Citus propagates these, and only these, to its workers
        /// (with `citus.propagate_set_commands = 'local'`; Docs/scaling.md). SENSTAT_CITUS=1.
        case setLocal
    }
    public let tenantSetting: TenantSetting

    public init(
        client: PostgresClient, replica: PostgresClient? = nil, deadline: Duration = .seconds(2), tenantSetting: TenantSetting = .setConfig
    ) {
        self.client = client
        self.replica = replica
        self.deadline = deadline
        self.tenantSetting = tenantSetting
    }

    /// Builds the pool for the server's role. A fast connect timeout keeps a dead database from parking requests.
    ///
    /// Idle connections close after 10 seconds and are never pinged. PostgresNIO's pool starts a timer each time a
    /// connection goes back to it (the idle timeout, and a keep-alive ping unless there is none) as a `Task.sleep`,
    /// which leaves its task and dispatch timer in memory until the deadline even when the next request cancels it a
    /// millisecond later: with the defaults (60 s and 30 s) at a few hundred requests a second that was tens of
    /// thousands of timers, most of the server's heap (Docs/performance.md, "The third pass"). With 10 seconds a
    /// connection is closed before a keep-alive would be due, so none is needed. No minimum of connections held open:
    /// PostgresNIO 1.x's pool fails a precondition (and stops the process) when a request arrives while it is
    /// replacing minimum connections that died with their PostgreSQL (`Tests/crash/crash_safety.py` found it).
    /// A longer `idleTimeout` is for tests that must see the same connection again however long they wait.
    public static func makeClient(
        endpoint: DatabaseEndpoint, maximumConnections: Int, idleTimeout: Duration = .seconds(10), logger: Logger
    ) -> PostgresClient {
        var configuration = endpoint.clientConfiguration()
        configuration.options.connectTimeout = .seconds(2)
        // Each HTTP worker needs at most one connection at a time; 20 per instance keeps four instances under
        // PostgreSQL's default max_connections of 100 with room for migrations and operators.
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 0
        configuration.options.connectionIdleTimeout = idleTimeout
        configuration.options.keepAliveBehavior = nil
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs `body` in one transaction with the tenant set (transaction-local, so safe behind PgBouncer in
    /// transaction mode).
    public func transaction<Result: Sendable>(
        _ scope: TenantScope, deadline: Duration? = nil, logger: Logger,
        _ body: @escaping @Sendable (SQLConnection) async throws -> Result
    ) async throws -> Result {
        let (trust, platform): (String, String) =
            switch scope {
            case .trust(let id): (id.uuidString, "")
            case .platform: ("", "platform")
            case .research: ("", "research")
            case .none: ("", "")
            }
        let confirmation = Database.tokenConfirmation
        // A refuted token's request runs nothing more, whatever its handler makes of the first refusal.
        if confirmation?.state == .refuted { throw TokenRefuted() }
        if let replica, let routing = Database.readRouting {
            if !replicaSkippedUntil.isInFuture {
                do {
                    let result = try await withDeadline(deadline ?? self.deadline) {
                        try await Self.run(
                            on: replica, trust: trust, platform: platform, setting: tenantSetting, readAfter: routing.after ?? "0/0",
                            confirming: nil, logger: logger, body)
                    }
                    routing.record(.replica)
                    return result
                } catch is ReplicaBehind {
                    logger.debug("the replica has not replayed this caller's last write; reading from the primary")
                } catch let error as DatabaseUnavailable {
                    logger.warning(
                        "the replica is unavailable; reading from the primary", metadata: ["reason": "\(error.reason)", "skip_for": "\(Self.replicaBackoff)"])
                    replicaSkippedUntil.set(.now + Self.replicaBackoff)
                }
            }
            routing.record(.primary)
        }
        let confirming = confirmation?.state == .pending ? confirmation : nil
        return try await withDeadline(deadline ?? self.deadline) {
            try await Self.run(
                on: client, trust: trust, platform: platform, setting: tenantSetting, readAfter: nil, confirming: confirming, logger: logger, body)
        }
    }

    /// One transaction on `pool`: the tenant and the statement timeout set first (in one round trip unless
    /// `setting` is `.setLocal`). BEGIN, COMMIT and ROLLBACK are sent here, through `SQLConnection`, rather than by
    /// PostgresNIO's `withTransaction`, whose ROLLBACK on a connection that PostgreSQL had just closed never
    /// returned (`ConnectionLossTests`). With
    /// `readAfter` the transaction is read-only and refuses (`ReplicaBehind`) a server that has not replayed that
    /// WAL position (a primary, where `pg_last_wal_replay_lsn()` is null, has). With `confirming` the request's
    /// token is confirmed before `body` runs, in the same statement as the tenant unless `setting` is `.setLocal`;
    /// refuted, the transaction ends there with `TokenRefuted`.
    private static func run<Result: Sendable>(
        on pool: PostgresClient, trust: String, platform: String, setting: TenantSetting, readAfter: String?,
        confirming: TokenConfirmation?, logger: Logger,
        _ body: @escaping @Sendable (SQLConnection) async throws -> Result
    ) async throws -> Result {
        // A pooled connection whose PostgreSQL has gone (restarted, failed over) is found dead at BEGIN, before
        // anything of the transaction ran; another connection is tried, up to five in all. PostgresNIO's pool can lend a connection
        // that has just closed before it has noticed.
        for attempt in 1... {
            do {
                return try await transaction(
                    on: pool, trust: trust, platform: platform, setting: setting, readAfter: readAfter, confirming: confirming, logger: logger, body)
            } catch let error as NotBegun {
                guard attempt < 5 else { throw error.underlying }
                logger.debug("a pooled connection had closed; trying another", metadata: ["error": "\(error.underlying)"])
                // The pool learns of a closed connection in its own task, which a busy machine can hold up: a
                // moment's wait keeps it from lending the same one again. The deadline bounds the whole.
                try await Task.sleep(for: .milliseconds(20 * attempt))
            }
        }
        preconditionFailure("unreachable")
    }

    /// BEGIN failed because the connection had closed: nothing of the transaction ran.
    private struct NotBegun: Error { let underlying: any Error }

    private static func transaction<Result: Sendable>(
        on pool: PostgresClient, trust: String, platform: String, setting: TenantSetting, readAfter: String?,
        confirming: TokenConfirmation?, logger: Logger,
        _ body: @escaping @Sendable (SQLConnection) async throws -> Result
    ) async throws -> Result {
        let confirmation = confirming?.state == .pending ? confirming : nil
        // With set_config the tenant (and the rest) is one statement. With a confirmation it calls require_token,
        // which raises (SQLSTATE SN001) for a refuted token: the transaction is then aborted, and PostgreSQL runs
        // none of the body's statements even though they were sent behind it. (Not class 28, invalid
        // authorization: PostgresNIO closes the connection on any error of that class.)
        let setup: PostgresQuery? =
            switch (setting, readAfter, confirmation) {
            case (.setConfig, nil, nil):
                """
                SELECT set_config('senstat.trust_id', \(trust), true), set_config('senstat.scope', \(platform), true),
                       set_config('statement_timeout', \(statementTimeout), true),
                       set_config('client_connection_check_interval', \(connectionCheckInterval), true)
                """
            case (.setConfig, nil, let confirmation?):
                """
                SELECT set_config('senstat.trust_id', \(trust), true), set_config('senstat.scope', \(platform), true),
                       set_config('statement_timeout', \(statementTimeout), true),
                       set_config('client_connection_check_interval', \(connectionCheckInterval), true),
                       require_token(\(confirmation.digest), \(confirmation.tokenID), \(confirmation.role), \(confirmation.trustID),
                                     \(confirmation.urns)::integer[])
                """
            case (.setConfig, let position?, _):
                """
                SELECT set_config('senstat.trust_id', \(trust), true), set_config('senstat.scope', \(platform), true),
                       set_config('statement_timeout', \(statementTimeout), true),
                       set_config('client_connection_check_interval', \(connectionCheckInterval), true),
                       set_config('transaction_read_only', 'on', true),
                       COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_lsn()) >= \(position)::pg_lsn
                """
            case (.setLocal, _, _):
                nil
            }
        return try await pool.withConnection { pooled in
            let connection: SQLConnection
            if let setup {
                // BEGIN and the setup are sent now and not waited for: the body's first statement goes behind them,
                // and its wait covers all three (`SQLConnection`, `Preamble`). Before the body's statements run,
                // PostgreSQL has set the tenant and confirmed the token, or aborted the transaction.
                guard !pooled.isClosed else { throw NotBegun(underlying: ConnectionClosed()) }
                let begun: EventLoopFuture<PostgresQueryResult> = pooled.query("BEGIN", logger: logger)
                let set: EventLoopFuture<PostgresQueryResult> = pooled.query(setup, logger: logger)
                let checked = begun.flatMap { _ in set }
                    .flatMapErrorThrowing { error -> PostgresQueryResult in
                        // A connection that failed before the body's statements could run: try another.
                        if error is ConnectionClosed || (error as? PSQLError)?.isConnectionFailure == true {
                            throw NotBegun(underlying: error)
                        }
                        if let confirmation, (error as? PSQLError)?.serverInfo?[.sqlState] == "SN001" {
                            confirmation.settle(false)
                            throw TokenRefuted()
                        }
                        throw error
                    }
                    .flatMapThrowing { result in
                        if readAfter != nil {
                            for row in result.rows {
                                let (_, _, _, _, _, caughtUp) = try row.decode((String, String, String, String, String, Bool).self)
                                if !caughtUp { throw ReplicaBehind() }
                            }
                        }
                        confirmation?.settle(true)
                    }
                connection = SQLConnection(pooled, preamble: Preamble(checked), ending: TransactionEnd())
            } else {
                connection = SQLConnection(pooled, preamble: nil, ending: TransactionEnd())
                do {
                    try await connection.query("BEGIN", logger: logger)
                } catch let error where error is ConnectionClosed || (error as? PSQLError)?.isConnectionFailure == true {
                    throw NotBegun(underlying: error)
                }
            }
            var committing = false
            do {
                if setting == .setLocal {
                    // SET takes no parameters. Inline is safe: the trust is a canonical UUID (TrustID parsed it) or
                    // empty, the scope one of three words, the timeout a constant.
                    try await connection.query("SET LOCAL senstat.trust_id = '\(unescaped: trust)'", logger: logger)
                    try await connection.query("SET LOCAL senstat.scope = '\(unescaped: platform)'", logger: logger)
                    try await connection.query("SET LOCAL statement_timeout = '\(unescaped: statementTimeout)'", logger: logger)
                    try await connection.query(
                        "SET LOCAL client_connection_check_interval = '\(unescaped: connectionCheckInterval)'", logger: logger)
                    if let readAfter {
                        try await connection.query("SET LOCAL transaction_read_only = on", logger: logger)
                        let rows = try await connection.query(
                            "SELECT COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_lsn()) >= \(readAfter)::pg_lsn", logger: logger)
                        for try await caughtUp in rows.decode(Bool.self) where !caughtUp { throw ReplicaBehind() }
                    }
                }
                // Where the setup statement could not carry the confirmation, a statement of its own, still before
                // the body's.
                if let confirmation, setting == .setLocal || readAfter != nil {
                    let rows = try await connection.query(confirmation.statement, logger: logger)
                    var confirmed = false
                    for try await answer in rows.decode(Bool.self) { confirmed = answer }
                    confirmation.settle(confirmed)
                    guard confirmed else { throw TokenRefuted() }
                }
                let result = try await body(connection)
                // A body that sent nothing waits for the preamble here; one that swallowed its error fails now.
                try await connection.settlePreamble()
                if let failure = connection.preamble?.failure { throw failure }
                committing = true
                // A body that sent COMMIT itself (`queryAndCommit`) has had its answer.
                if connection.ending?.sent != true { try await connection.query("COMMIT", logger: logger) }
                return result
            } catch {
                // The preamble's error comes first: the body's is only the aborted transaction's echo of it.
                if connection.preamble != nil { try? await connection.settlePreamble() }
                let error = connection.preamble?.failure ?? error
                // A failed COMMIT has ended the transaction; a closed connection has rolled it back by itself
                // (and PostgresNIO would never answer a statement sent on it).
                if !committing && !pooled.isClosed && !(error is NotBegun) && connection.ending?.sent != true {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                }
                throw error
            }
        }
    }

    /// `SELECT 1` within the deadline: true when the database answers.
    public func ping(logger: Logger) async -> Bool {
        do {
            return try await withDeadline {
                for try await value in try await client.collect("SELECT 1", logger: logger).decode(Int.self) {
                    return value == 1
                }
                return false
            }
        } catch {
            return false
        }
    }

    /// The migrations recorded in the database (version, file, checksum).
    public func appliedMigrations(logger: Logger) async throws -> [(version: Int, fileName: String, checksum: String)] {
        try await withDeadline {
            var result: [(version: Int, fileName: String, checksum: String)] = []
            let rows = try await client.collect(
                "SELECT version, file_name, checksum FROM schema_migrations ORDER BY version", logger: logger)
            for try await (version, fileName, checksum) in rows.decode((Int, String, String).self) {
                result.append((version, fileName, checksum))
            }
            return result
        }
    }

    /// Cancels `work` and throws `DatabaseUnavailable` when it outlives the deadline.
    ///
    /// The deadline is an entry in `Deadlines`, removed when the work ends; one timer on an event loop serves them
    /// all. A timer of its own per unit of work (as this was) is set and cancelled from the request's thread, and
    /// each of the two wakes the event loop: four wakeups per request that authenticates and runs one transaction.
    /// A `Task.sleep` child (as it was before that) left its dispatch timer, and the cancelled sleeper's task with
    /// it, in memory until the deadline would have passed — five minutes for bulk work — so the server's memory grew
    /// with the rate of imports (Docs/performance.md, "The third pass").
    public func withDeadline<T: Sendable>(
        _ limit: Duration? = nil, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let deadline = limit ?? self.deadline
        let task = Task { try await work() }
        let expiry = DeadlineExpiry()
        let components = deadline.components
        let entry = Deadlines.shared.add(
            at: .now() + .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
        ) {
            expiry.expire()
            task.cancel()
        }
        defer { Deadlines.shared.remove(entry) }
        do {
            return try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        } catch let error where error is ConnectionClosed || (error as? PSQLError)?.isConnectionFailure == true {
            throw expiry.expired
                ? DatabaseUnavailable(reason: "the database did not answer within \(deadline)", cause: error)
                : DatabaseUnavailable(reason: "the database is not reachable", cause: error)
        } catch {
            if expiry.expired { throw DatabaseUnavailable(reason: "the database did not answer within \(deadline)", cause: error) }
            throw error
        }
    }
}

/// The deadlines of the database work under way, kept by one timer on one event loop. Adding a deadline later than
/// the timer's, the usual case (every request's is the same length), takes a lock and wakes no thread; removing one
/// takes the lock. The timer, when it fires, expires what is due and sets itself for the earliest deadline left.
final class Deadlines: Sendable {
    static let shared = Deadlines(loop: MultiThreadedEventLoopGroup.singleton.next())

    private struct Entry {
        let at: NIODeadline
        let expire: @Sendable () -> Void
    }

    private struct State {
        var last: UInt64 = 0
        var pending: [UInt64: Entry] = [:]
        /// When the one timer fires, and its handle; nil when none is set.
        var timer: (at: NIODeadline, task: Scheduled<Void>)?
    }

    private let loop: any EventLoop
    private let state = Mutex(State())

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Calls `expire` (on the timer's event loop) once `at` has passed, unless `remove` is called first.
    func add(at: NIODeadline, _ expire: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            state.last &+= 1
            state.pending[state.last] = Entry(at: at, expire: expire)
            if let timer = state.timer, timer.at <= at { return state.last }
            // The first deadline, or one earlier than the timer's (a request's while only bulk work's was set).
            state.timer?.task.cancel()
            state.timer = (at, loop.scheduleTask(deadline: at) { self.fire() })
            return state.last
        }
    }

    func remove(_ id: UInt64) {
        _ = state.withLock { $0.pending.removeValue(forKey: id) }
    }

    /// The number of deadlines kept (tests).
    var count: Int { state.withLock { $0.pending.count } }

    private func fire() {
        let now = NIODeadline.now()
        let due = state.withLock { state in
            var due: [(id: UInt64, expire: @Sendable () -> Void)] = []
            var earliest: NIODeadline?
            for (id, entry) in state.pending {
                if entry.at <= now {
                    due.append((id, entry.expire))
                } else if earliest.map({ entry.at < $0 }) ?? true {
                    earliest = entry.at
                }
            }
            for (id, _) in due { state.pending[id] = nil }
            // On the event loop, so cancelling (a timer set since, if any) and setting the next wake nothing.
            state.timer?.task.cancel()
            state.timer = earliest.map { at in (at, loop.scheduleTask(deadline: at) { self.fire() }) }
            return due.map(\.expire)
        }
        for expire in due { expire() }
    }
}

/// Whether a deadline passed before its work ended.
final class DeadlineExpiry: Sendable {
    private let state = Atomic<Bool>(false)
    func expire() { state.store(true, ordering: .releasing) }
    var expired: Bool { state.load(ordering: .acquiring) }
}

/// Where a request's reads were served, for the response header and the metrics.
public final class ReadRouting: Sendable {
    public enum Target: String, Sendable { case replica, primary }
    /// The caller's last write on the primary (a WAL position such as `0/3000148`), if it has written.
    public let after: String?
    private let served = Mutex<Target?>(nil)

    public init(after: String?) { self.after = after }

    /// The primary if any of the request's reads went there, else the replica; nil when it read nothing.
    public var servedBy: Target? { served.withLock { $0 } }

    func record(_ target: Target) {
        served.withLock { current in current = (current == .primary || target == .primary) ? .primary : .replica }
    }
}

/// An instant shared by every copy of a `Database`.
final class SharedInstant: Sendable {
    private let value = Mutex<ContinuousClock.Instant?>(nil)
    var isInFuture: Bool { value.withLock { $0.map { $0 > .now } ?? false } }
    func set(_ instant: ContinuousClock.Instant) { value.withLock { $0 = instant } }
}

/// The replica has not yet replayed the caller's last write.
struct ReplicaBehind: Error {}

/// The database could not be reached in time: the API answers 503 with Retry-After.
public struct DatabaseUnavailable: Error, CustomStringConvertible {
    public let reason: String
    /// What the connection reported, for the log: PostgresNIO's error code and what lay under it (never a
    /// statement or its values), or `ConnectionClosed`.
    public let cause: String?

    public init(reason: String, cause: (any Error)? = nil) {
        self.reason = reason
        self.cause = cause.map { error in
            guard let psql = error as? PSQLError else { return "\(error)" }
            return "\(psql.code)" + (psql.underlying.map { ": \($0)" } ?? "")
                + (psql.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
    }

    public var description: String { reason + (cause.map { " (\($0))" } ?? "") }
}

extension PSQLError {
    /// Errors that mean "no usable connection" rather than "the query was wrong".
    var isConnectionFailure: Bool {
        switch code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown:
            return true
        case .server:
            // Class 08 (connection exception) and 57P (operator intervention: shutdown, cannot connect now).
            let state = serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P")
        default:
            return false
        }
    }
}
