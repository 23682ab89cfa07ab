import Logging
import Synchronization
import NIOCore
import PostgresNIO

/// The connection a transaction's work runs on. Its queries collect every row on the connection's event loop
/// (PostgresNIO's `EventLoopFuture` query) before they return; none goes through PostgresNIO's back-pressured row
/// stream.
///
/// Why: with PostgresNIO 1.33.2, a connection that closes while that stream waits for its consumer to ask for more
/// rows stops the whole process. NIO delivers the socket's remaining bytes and its end without being asked, and the
/// stream's state machine fails a precondition ("How can we receive a body part, after a channelReadComplete, but no
/// read has been forwarded yet", `RowStreamStateMachine`). A PostgreSQL restart, `pg_ctl stop -m immediate`, a
/// failover or a cut network during any answer longer than one socket read was enough: the crash-safety run found it
/// (`ConnectionLossTests` reproduces it). Collecting asks for the next rows as each batch arrives, so that state is
/// never reached, and a closed connection fails only its own transaction.
///
/// The server's answers are collected anyway (every store builds arrays from them), so nothing streams that did.
///
/// A query is also never left waiting on a connection that cannot answer. PostgresNIO 1.33.2 writes a query to its
/// channel without a promise, so a query sent after the connection closed (a transaction's ROLLBACK after its
/// statement failed because PostgreSQL went away, say) waits forever, and its `EventLoopFuture` ignores the task's
/// cancellation. Here a query on a closed connection fails at once (`ConnectionClosed`), and a cancelled wait (the
/// deadline of `Database.withDeadline`, a caller that went away) closes the connection, which fails the query in
/// PostgresNIO and takes the connection out of the pool, and returns `CancellationError` at once whatever
/// PostgresNIO does. A connection is never handed back mid-statement.
public struct SQLConnection: Sendable {
    /// The pooled connection, for what this type does not forward (tests).
    public let underlying: PostgresConnection

    /// Statements already sent ahead of this connection's first query (a transaction's BEGIN and setup,
    /// `Database`), whose answers that query's wait covers too.
    let preamble: Preamble?
    /// Set by `Database` for a transaction's connection: whether the body has sent the transaction's COMMIT itself.
    let ending: TransactionEnd?

    public init(_ underlying: PostgresConnection) {
        self.underlying = underlying
        self.preamble = nil
        self.ending = nil
    }

    init(_ underlying: PostgresConnection, preamble: Preamble?, ending: TransactionEnd) {
        self.underlying = underlying
        self.preamble = preamble
        self.ending = ending
    }

    /// Runs `query` and returns all of its rows.
    @discardableResult
    public func query(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line) async throws -> SQLRows {
        guard !underlying.isClosed else { throw ConnectionClosed() }
        guard ending?.sent != true else { throw TransactionEnded() }
        let answer: EventLoopFuture<PostgresQueryResult> = underlying.query(query, logger: logger, file: file, line: line)
        return SQLRows(try await wait(for: afterPreamble(answer)).rows)
    }

    /// `answer`, once the preamble (if this is the first query since it was sent) has answered as it should; the
    /// preamble's error otherwise. Chained on the event loop, so one wait covers both.
    private func afterPreamble<Value: Sendable>(_ answer: EventLoopFuture<Value>) -> EventLoopFuture<Value> {
        guard let pending = preamble?.take() else { return answer }
        return pending.flatMap { answer }
    }

    /// Waits for the preamble if no query has yet (a transaction whose body sent none, or failed before it did).
    func settlePreamble() async throws {
        guard let pending = preamble?.take() else { return }
        try await wait(for: pending)
    }

    /// Runs `first` and `second` one after the other and returns all of both's rows, with one wait: both are
    /// written to the connection at once, and PostgresNIO sends the second as soon as the first has answered, from
    /// the connection's event loop, without waking this task in between (PostgreSQL still runs them one at a time,
    /// as it would two separate calls). Fails with the first's error if it fails.
    public func query(
        _ first: PostgresQuery, then second: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line
    ) async throws -> (SQLRows, SQLRows) {
        guard !underlying.isClosed else { throw ConnectionClosed() }
        guard ending?.sent != true else { throw TransactionEnded() }
        let one: EventLoopFuture<PostgresQueryResult> = underlying.query(first, logger: logger, file: file, line: line)
        let two: EventLoopFuture<PostgresQueryResult> = underlying.query(second, logger: logger, file: file, line: line)
        let (a, b) = try await wait(for: afterPreamble(one.and(two)))
        return (SQLRows(a.rows), SQLRows(b.rows))
    }

    /// For a read-only body whose last statements are `first` and `second`: sends them and the transaction's COMMIT
    /// at once, with one wait for all three, so the connection goes back to the pool as soon as they have answered
    /// and the body reads the rows after. If either fails, COMMIT ends the aborted transaction (PostgreSQL answers it
    /// with ROLLBACK) and the error is thrown. No statement may follow (`TransactionEnded`). Only inside
    /// `Database.transaction`.
    public func queryAndCommit(
        _ first: PostgresQuery, then second: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line
    ) async throws -> (SQLRows, SQLRows) {
        guard let ending else { preconditionFailure("queryAndCommit is for the body of Database.transaction") }
        guard !underlying.isClosed else { throw ConnectionClosed() }
        guard !ending.sent else { throw TransactionEnded() }
        let one: EventLoopFuture<PostgresQueryResult> = underlying.query(first, logger: logger, file: file, line: line)
        let two: EventLoopFuture<PostgresQueryResult> = underlying.query(second, logger: logger, file: file, line: line)
        let commit: EventLoopFuture<PostgresQueryResult> = underlying.query("COMMIT", logger: logger, file: file, line: line)
        ending.markSent()
        let ((a, b), _) = try await wait(for: afterPreamble(one.and(two)).and(commit))
        return (SQLRows(a.rows), SQLRows(b.rows))
    }

    /// The future's value, or `CancellationError` as soon as the task is cancelled (the connection is then closed).
    private func wait<Value: Sendable>(for future: EventLoopFuture<Value>) async throws -> Value {
        let waiter = Waiter<Value>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiter.start(continuation)
                future.whenComplete { waiter.resume($0) }
            }
        } onCancel: {
            waiter.resume(.failure(CancellationError()))
            underlying.close().whenComplete { _ in }
        }
    }

    /// `COPY table FROM STDIN`, as PostgresNIO sends it (no rows come back). Refused on a closed connection, and a
    /// cancelled copy closes the connection, which fails the copy in PostgresNIO.
    public func copyFrom(
        table: String, columns: [String] = [], logger: Logger, file: String = #fileID, line: Int = #line,
        writeData: (PostgresCopyFromWriter) async throws -> Void
    ) async throws {
        guard !underlying.isClosed else { throw ConnectionClosed() }
        try await settlePreamble()
        try await withTaskCancellationHandler {
            try await underlying.copyFrom(table: table, columns: columns, logger: logger, file: file, line: line, writeData: writeData)
        } onCancel: {
            underlying.close().whenComplete { _ in }
        }
    }
}

/// What a transaction sent ahead of its body's first statement, as one future that fails with the transaction's own
/// errors (`Database`). Taken by the first query, which waits for it and its own answer together; its outcome, once
/// known, is kept for the transaction to check after the body (a body may swallow an error).
final class Preamble: Sendable {
    private struct State {
        var pending: EventLoopFuture<Void>?
        var outcome: Result<Void, any Error>?
    }
    private let state: Mutex<State>

    init(_ future: EventLoopFuture<Void>) {
        state = Mutex(State(pending: future))
        future.whenComplete { [self] result in state.withLock { $0.outcome = result } }
    }

    /// The future, to the first caller only.
    func take() -> EventLoopFuture<Void>? {
        state.withLock { state in
            defer { state.pending = nil }
            return state.pending
        }
    }

    /// The preamble's error, once it has answered with one.
    var failure: (any Error)? {
        state.withLock { state in
            if case .failure(let error)? = state.outcome { return error }
            return nil
        }
    }
}

/// Whether a transaction's body has sent its COMMIT (`SQLConnection.queryAndCommit`).
final class TransactionEnd: Sendable {
    private let state = Atomic<Bool>(false)
    var sent: Bool { state.load(ordering: .acquiring) }
    func markSent() { state.store(true, ordering: .releasing) }
}

/// A statement after the body sent the transaction's COMMIT: it would run outside the transaction, so it is refused.
public struct TransactionEnded: Error, CustomStringConvertible {
    public var description: String { "the transaction has already been committed" }
}

/// The connection had closed before the statement was sent (PostgreSQL went away, or the connection's work was
/// cancelled): the statement was not run. A connection failure, as PostgresNIO's own closed-connection errors are.
public struct ConnectionClosed: Error, CustomStringConvertible {
    public var description: String { "the database connection has closed" }
}

/// A continuation resumed once: by the query's answer or by the task's cancellation, whichever is first. An answer
/// that comes before the continuation exists is kept and handed to it in `start`.
private final class Waiter<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value, any Error>?
        var early: Result<Value, any Error>?
        var finished = false
    }
    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<Value, any Error>) {
        let early: Result<Value, any Error>? = state.withLock { state in
            guard let early = state.early else {
                state.continuation = continuation
                return nil
            }
            state.early = nil
            state.finished = true
            return early
        }
        if let early { continuation.resume(with: early) }
    }

    func resume(_ result: Result<Value, any Error>) {
        let waiting: CheckedContinuation<Value, any Error>? = state.withLock { state in
            guard !state.finished else { return nil }
            guard let continuation = state.continuation else {
                if state.early == nil { state.early = result }
                return nil
            }
            state.continuation = nil
            state.finished = true
            return continuation
        }
        waiting?.resume(with: result)
    }
}

/// A query's rows, all received. Iterated as PostgresNIO's row sequence is (`for try await row in rows`,
/// `rows.decode((A, B).self)`), so that call sites read the same.
public struct SQLRows: AsyncSequence, Sendable {
    public typealias Element = PostgresRow
    public let rows: [PostgresRow]

    init(_ rows: [PostgresRow]) { self.rows = rows }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: IndexingIterator<[PostgresRow]>
        public mutating func next() async -> PostgresRow? { base.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: rows.makeIterator()) }

    /// Each row decoded as `columnType`; a row that does not decode throws where it is reached.
    public func decode<each Column: PostgresDecodable>(
        _ columnType: (repeat each Column).Type, file: String = #fileID, line: Int = #line
    ) -> AsyncThrowingMapSequence<SQLRows, (repeat each Column)> {
        self.map { row in try row.decode(columnType, context: .default, file: file, line: line) }
    }
}

extension PostgresClient {
    /// One statement on a pooled connection, outside any transaction; all of its rows (see `SQLConnection`).
    @discardableResult
    public func collect(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line) async throws -> SQLRows {
        try await withConnection { connection in
            try await SQLConnection(connection).query(query, logger: logger, file: file, line: line)
        }
    }
}
