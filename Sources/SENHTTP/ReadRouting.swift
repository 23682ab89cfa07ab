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

/// Read-your-writes with a read replica (Docs/scaling.md). Reads that only report (comparisons, funnels,
/// completeness, benchmarks, trust survey summaries, research) go to the replica once it has replayed the caller's
/// last write, and to the primary until then. A successful write notes the primary's WAL position on the token, so
/// this holds whichever server instance serves the next request. Everything else reads the primary: a school
/// leader's own return, whose ETag the next write must match, is never read from a replica.
struct ReadRoutingMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let tokens: TokenStore
    /// Made once: a Counter looks its metric up in the registry each time it is created.
    static let replicaReads = Counter(label: "senstat_database_reads_total", dimensions: [("target", "replica")])
    static let primaryReads = Counter(label: "senstat_database_reads_total", dimensions: [("target", "primary")])

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard tokens.database.replica != nil, let principal = context.principal else {
            return try await next(request, context)
        }
        switch request.method {
        case .get, .head:
            guard Self.routesToReplica(request.uri.path) else { return try await next(request, context) }
            let routing = ReadRouting(after: context.lastWritePosition)
            var response = try await Database.$readRouting.withValue(routing) { try await next(request, context) }
            if let target = routing.servedBy {
                response.headers[.readFrom] = target.rawValue
                (target == .replica ? Self.replicaReads : Self.primaryReads).increment()
            }
            return response
        default:
            let response = try await next(request, context)
            if (200..<300).contains(response.status.code) {
                do {
                    try await tokens.noteWrite(by: principal.tokenID, logger: context.logger)
                } catch {
                    // The write stands; the caller's next reads may come from a replica that lags behind it.
                    context.logger.warning("could not note the write position", metadata: ["error": "\(error)"])
                }
            }
            return response
        }
    }

    /// GET paths that report rather than edit.
    static func routesToReplica(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0] == "v1" else { return false }
        switch (parts[1], parts.count) {
        case ("research", _):
            return true
        case ("trusts", 4):
            return ["comparison", "funnel.svg", "completeness"].contains(parts[3])
        case ("trusts", 5):
            return parts[3] == "sen-returns" || parts[3] == "surveys"
        case ("schools", 4):
            return parts[3] == "benchmark"
        default:
            return false
        }
    }
}
