import HTTPTypes
import Hummingbird
import Logging
import Metrics
import SENCore
import SENStore

extension HTTPField.Name {
    /// Which database served a routed read: `replica` or `primary` (only with DATABASE_READ_URL).
    static let readFrom = Self("Senstat-Read-From")!
}

/// Read-your-writes with a read replica (Docs/scaling.md). The routes that only report (comparisons, funnels,
/// completeness, benchmarks, trust survey summaries, research) are registered behind this middleware: they read
/// the replica once it has replayed the caller's last write, and the primary until then. Every other route reads
/// the primary: a school leader's own return, whose ETag the next write must match, is never read from a replica.
struct ReplicaReadMiddleware<Context: AuthenticatedRequestContext>: RouterMiddleware {
    let database: Database

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard database.replica != nil, request.method == .get || request.method == .head else {
            return try await next(request, context)
        }
        let routing = ReadRouting(after: context.lastWritePosition)
        var response = try await Database.$readRouting.withValue(routing) { try await next(request, context) }
        if let target = routing.servedBy {
            response.headers[.readFrom] = target.rawValue
            (target == .replica ? ReplicaCounters.replica : ReplicaCounters.primary).increment()
        }
        return response
    }
}

/// Made once: a Counter looks its metric up in the registry each time it is created.
enum ReplicaCounters {
    static let replica = Counter(label: "senstat_database_reads_total", dimensions: [("target", "replica")])
    static let primary = Counter(label: "senstat_database_reads_total", dimensions: [("target", "primary")])
}

/// Notes the primary's WAL position on the caller's token after every successful write, so that the next
/// reporting read waits for a replica that has it — whichever server instance serves it.
struct WritePositionMiddleware: RouterMiddleware {
    typealias Context = AuthenticatedContext
    let tokens: TokenStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard tokens.database.replica != nil, request.method != .get, request.method != .head else {
            return try await next(request, context)
        }
        let response = try await next(request, context)
        if (200..<300).contains(response.status.code) {
            do {
                try await tokens.noteWrite(by: context.principal.tokenID, logger: context.logger)
            } catch {
                // The write stands; the caller's next reads may come from a replica that lags behind it.
                context.logger.warning("could not note the write position", metadata: ["error": "\(error)"])
            }
        }
        return response
    }
}
