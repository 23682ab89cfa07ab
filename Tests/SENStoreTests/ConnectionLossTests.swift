import Foundation
import Logging
import PostgresNIO
import SENStore
import SENTestSupport
import Synchronization
import Testing

/// A PostgreSQL connection that closes while a result is still arriving (PostgreSQL restarted or stopped with
/// `-m immediate`, a failover, a cut network) fails that transaction and nothing else.
///
/// PostgresNIO 1.33.2 stopped the whole process in this case: its back-pressured row stream, waiting for its
/// consumer to ask for more rows, fails a precondition when the socket's end arrives (`RowStreamStateMachine`,
/// "How can we receive a body part, after a channelReadComplete, but no read has been forwarded yet"). The crash-safety
/// run found it. The server's queries now collect their rows on the connection's event loop (`SQLConnection`).
///
/// With that fixed, the same case hung instead: PostgresNIO's `withTransaction` sent its ROLLBACK on the closed
/// connection, and a statement sent there is never answered. Transactions now end themselves (`Database.run`).
@Suite struct ConnectionLossTests {
    @Test(.timeLimit(.minutes(3))) func aConnectionThatClosesMidResultFailsOnlyItsTransaction() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                // A probe that fails before its answer starts (on a loaded machine, opening a connection can outlast
                // the pool's 2 s connect timeout) says nothing about a connection closing mid-answer: it is tried
                // again, up to three times, each after a transaction that leaves an open connection in the pool.
                var terminated = false
                var attempts: [String] = []
                for _ in 1...3 where !terminated {
                    _ = try await database.transaction(.none, logger: .test) { connection in
                        try await connection.query("SELECT 1", logger: .test)
                    }
                    let endedEarly = Mutex<String?>(nil)
                    // About 4 MB of rows, more than the socket holds, so the backend waits to write while a slow
                    // client has not asked for more; after 4,000 rows it sleeps, so a client that reads everything
                    // also finds the backend in the middle of its answer. The deadline is long: on a loaded machine
                    // collecting the rows takes seconds, and the test is about the connection's end, not the deadline.
                    let probe = Task {
                        do {
                            return try await database.transaction(.none, deadline: .seconds(100), logger: .test) { connection in
                                var seen = 0
                                for try await _ in try await connection.query(
                                    """
                                    SELECT g, repeat('x', 1000) FROM generate_series(1, 8000) g
                                    WHERE g < 4000 OR pg_sleep(25)::text = 'senstat-connection-loss-probe'
                                    """, logger: .test)
                                {
                                    seen += 1
                                    // A slow consumer: the rows behind this one wait for its demand.
                                    if seen == 1 { try await Task.sleep(for: .seconds(3)) }
                                }
                                return seen
                            }
                        } catch {
                            endedEarly.withLock { $0 = "\(error)" }
                            throw error
                        }
                    }
                    // The backend is found waiting on its client (a full socket) or in pg_sleep, and terminated: it
                    // closes the connection with rows still on their way.
                    let giveUp = ContinuousClock.now + .seconds(90)
                    while !terminated && endedEarly.withLock({ $0 }) == nil && ContinuousClock.now < giveUp {
                        let rows = try await db.adminSQL(
                            """
                            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                            WHERE query LIKE '%senstat-connection-loss-probe%' AND pid <> pg_backend_pid()
                              AND wait_event IN ('ClientWrite', 'PgSleep')
                            """)
                        terminated = rows.contains { $0.first == "t" }
                        if !terminated { try await Task.sleep(for: .milliseconds(50)) }
                    }
                    if terminated {
                        await #expect(throws: (any Error).self, "a cut-off result must fail its transaction") {
                            _ = try await probe.value
                        }
                    } else {
                        probe.cancel()
                        _ = try? await probe.value
                        attempts.append(endedEarly.withLock { $0 } ?? "not seen mid-answer in 90 s")
                    }
                }
                #expect(terminated, "the probe's backend was never seen mid-answer: \(attempts)")
                // The process is still here, and the pool serves the next transaction.
                let answer = try await database.transaction(.none, logger: .test) { connection in
                    var value = 0
                    for try await one in try await connection.query("SELECT 1", logger: .test).decode(Int.self) { value = one }
                    return value
                }
                #expect(answer == 1)
            }
        }
    }

    /// A statement that outlives its deadline is stopped there: the caller gets `DatabaseUnavailable` at the
    /// deadline, not when the statement ends, and the connection it held is closed rather than lent again mid-statement.
    @Test(.timeLimit(.minutes(1))) func theDeadlineStopsAStatementThatOutlivesIt() async throws {
        try await withTestDatabase { db in
            let database = db.makeDatabase(deadline: .seconds(1))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await database.client.run() }
                defer { group.cancelAll() }
                let started = ContinuousClock.now
                await #expect(throws: DatabaseUnavailable.self) {
                    try await database.transaction(.none, logger: .test) { connection in
                        try await connection.query("SELECT pg_sleep(20)", logger: .test)
                    }
                }
                let took = ContinuousClock.now - started
                #expect(took < .seconds(15), "the caller waited \(took), for the statement rather than its deadline")
                var sleeping: [[String?]] = []
                for _ in 0..<100 {
                    sleeping = try await db.adminSQL("SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(20)' AND state = 'active'")
                    if sleeping.isEmpty { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(sleeping.isEmpty, "the abandoned statement still runs: its connection was not closed")
                // The pool opens a new connection for this one: given the time a busy machine may take for that.
                let answer = try await database.transaction(.none, deadline: .seconds(30), logger: .test) { connection in
                    var value = 0
                    for try await one in try await connection.query("SELECT 2", logger: .test).decode(Int.self) { value = one }
                    return value
                }
                #expect(answer == 2)
            }
        }
    }

    /// The server's code reaches PostgresNIO's statements only through `SQLConnection`: neither the pool's own
    /// `query` (the back-pressured row stream) nor `withTransaction` (whose ROLLBACK could wait for ever) is called.
    @Test func theServerSendsStatementsOnlyThroughSQLConnection() throws {
        let sources = Script.root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" && $0.lastPathComponent != "SQLConnection.swift" }
        #expect(files.count > 20)
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for forbidden in ["client.query(", ".withTransaction(", "underlying.query(", "PostgresRowSequence"] {
                #expect(!text.contains(forbidden), "\(file.lastPathComponent) uses \(forbidden)")
            }
        }
    }
}
