import Foundation
import Hummingbird
import Logging
import SENAPI
import SENCore
import SENStore

/// What a trust executive reads of the trust's returns for a term: all of them (JSON or CSV), and which schools
/// have sent theirs. Both are reports, so they may read the replica.
struct TrustReturnsController {
    let returns: ReturnsStore
    let replica: ReplicaReadMiddleware<TrustContext>

    var routes: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.trust("trusts/:trust", .trustExecutive).add(middleware: replica)
            .get("sen-returns/:term", use: list)
            .get("completeness", use: completeness)
        return routes
    }

    @Sendable func list(_ request: Request, context: TrustContext) async throws -> Response {
        let term = try context.term()
        let stored = try await returns.list(trust: context.trust, term: term, logger: context.logger)
        if wantsCSV(request) {
            return csvResponse(ReturnsCSV.write(stored.map { ($0.urn, $0.value) }), name: "sen-returns-\(term).csv")
        }
        return try TrustReturns(trustID: context.trust.uuidString, term: term.description, returns: stored.map(ReturnBody.init))
            .response(from: request, context: context)
    }

    @Sendable func completeness(_ request: Request, context: TrustContext) async throws -> Response {
        let term = try request.termQuery()
        let rows = try await returns.completeness(trust: context.trust, term: term, logger: context.logger)
        if wantsCSV(request) { return csvResponse(Self.completenessCSV(rows), name: "completeness-\(term).csv") }
        return try Completeness(trust: context.trust, term: term, rows: rows).response(from: request, context: context)
    }
}

extension TrustReturnsController {
    static func completenessCSV(_ rows: [CompletenessRow]) -> String {
        var csv = CSVWriter.line(["urn", "name", "phase", "status", "late", "version", "first_submitted_at", "updated_at", "approved_at"])
        for row in rows {
            csv += CSVWriter.line([
                row.urn.description, row.name, row.phase, row.status.rawValue, row.late ? "true" : "false",
                row.version.map(String.init) ?? "", iso(row.firstSubmittedAt), iso(row.updatedAt), iso(row.approvedAt),
            ])
        }
        return csv
    }
}

extension Completeness {
    /// Which of the trust's schools have sent their return for `term`, with totals by status.
    init(trust: TrustID, term: AcademicTerm, rows: [CompletenessRow]) {
        var totals = ["missing": 0, "submitted": 0, "late": 0, "approved": 0]
        for row in rows { totals[row.status.rawValue, default: 0] += 1 }
        self.init(
            trustID: trust.uuidString, term: term.description, censusDay: term.censusDay.description,
            deadline: term.deadline.description, totals: totals,
            schools: rows.map {
                .init(
                    urn: $0.urn.value, name: $0.name, phase: $0.phase, status: $0.status.rawValue, late: $0.late,
                    version: $0.version, firstSubmittedAt: $0.firstSubmittedAt, updatedAt: $0.updatedAt, approvedAt: $0.approvedAt)
            })
    }
}
