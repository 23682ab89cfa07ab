import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SENAPI
import SENCore
import SENStore

/// A trust's CSV import of its schools' returns for a term: all rows or none, with an Idempotency-Key so that a
/// retried upload answers the same and imports nothing twice.
struct ReturnImportController {
    let returns: ReturnsStore
    let register: RegisterStore

    /// A trust's CSV of 25,000 schools is about 10 MB; the limit leaves room for every optional column.
    static let csvUploadLimit = 64 << 20

    var routes: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.trust("trusts/:trust/sen-returns/:term", .trustExecutive).post("imports", use: importCSV)
        return routes
    }

    @Sendable func importCSV(_ request: Request, context: TrustContext) async throws -> EditedResponse<ImportResult> {
        let term = try context.term()
        guard let key = request.headers[.idempotencyKey], !key.isEmpty, key.databaseLength <= 200 else {
            throw APIError(.badRequest, "a bulk import needs an Idempotency-Key header (any unique string up to 200 characters)")
        }
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("text/csv") {
            throw APIError(.unsupportedMediaType, "send the returns as text/csv")
        }
        var request = request
        let body = try await request.collectBody(limit: Self.csvUploadLimit, what: "a CSV import")
        return try await importCSV(Array(body.readableBytesView), term: term, key: key, context: context)
    }

    /// Imports a CSV of the trust's returns for `term`, all rows or none (the API's upload and the web app's form):
    /// every row and column at fault in one 422, the key's first answer again for a repeated upload.
    func importCSV(_ bytes: [UInt8], term: AcademicTerm, key: String, context: TrustContext) async throws -> EditedResponse<ImportResult> {
        let trust = context.trust
        let today = todayUTC()
        guard term.isOpen(on: today) else {
            throw APIError(.unprocessableContent, "returns for \(term) open on its census day, \(term.censusDay)")
        }
        var hasher = SHA256()
        hasher.update(data: Array("\(term)\n".utf8))
        hasher.update(data: bytes)
        let digest = Hex.lowercase(hasher.finalize())
        let rows: [ReturnsCSV.Row]
        switch ReturnsCSV.read(bytes) {
        case .success(let parsed): rows = parsed
        case .failure(var issues):
            // Report schools outside the trust in the same answer, so one round of fixes is enough.
            let urnRows = ReturnsCSV.urnRows(bytes)
            let members = try await register.schools(
                of: trust, only: Set(urnRows.map(\.urn)), scope: .trust(trust), logger: context.logger)
            let inTrust = Set(members.map(\.urn))
            issues += urnRows.filter { !inTrust.contains($0.urn) }.map {
                ReturnsCSV.Issue(row: $0.row, column: "urn", code: "not_in_trust", message: "school \($0.urn) is not in this trust")
            }
            throw Self.csvProblem(issues.sorted { ($0.row, $0.column) < ($1.row, $1.column) })
        }
        // One transaction reads the key's earlier answer and last year's figures (for the warnings), then writes.
        let late = term.isLate(on: today)
        let censusDay = term.censusDay
        do {
            let outcome = try await returns.importReturns(
                trust: trust, term: term, urns: rows.map(\.urn), key: key, digest: digest, actor: context.principal.tokenID, late: late,
                logger: context.logger
            ) { stored, previous in
                if let stored { return .replay(stored) }
                var importRows: [ReturnsStore.ImportRow] = []
                var warnings: [ImportReceipt.Warning] = []
                for row in rows {
                    let found = SENReturnValidator.warnings(for: row.value, sameTermLastYear: previous[row.urn], censusDay: censusDay)
                    warnings += found.map { .init(urn: row.urn.value, row: row.row, code: $0.code, message: $0.message) }
                    importRows.append(.init(urn: row.urn, value: row.value, warnings: found))
                }
                return .write(importRows, ImportReceipt(term: term.description, rows: rows.count, late: late, warnings: warnings))
            }
            switch outcome {
            case .replayed(let stored): return try replay(stored, digest: digest)
            case .imported(_, let receipt): return EditedResponse(status: .ok, response: receipt)
            }
        } catch let rejected as ImportRejected {
            let rowOf = Dictionary(uniqueKeysWithValues: rows.map { ($0.urn, $0.row) })
            var issues: [ReturnsCSV.Issue] = rejected.notInTrust.map {
                .init(row: rowOf[$0] ?? 0, column: "urn", code: "not_in_trust", message: "school \($0) is not in this trust")
            }
            issues += rejected.locked.map {
                .init(row: rowOf[$0] ?? 0, column: "urn", code: "approved", message: "the return of \($0) is approved; withdraw the approval first")
            }
            throw Self.csvProblem(issues.sorted { $0.row < $1.row })
        } catch is ReturnsStore.IdempotencyConflict {
            guard let stored = try await returns.storedImport(trust: trust, key: key, logger: context.logger) else {
                throw APIError(.conflict, "retry the import")
            }
            return try replay(stored, digest: digest)
        }
    }

    /// The answer the key's first import gave, if this request is the same import.
    func replay(_ stored: StoredImport, digest: String) throws -> EditedResponse<ImportResult> {
        guard stored.requestDigest == digest else {
            throw APIError(.unprocessableContent, "this Idempotency-Key was used for a different import; use a new key")
        }
        return EditedResponse(status: .ok, headers: [.idempotentReplayed: "true"], response: stored.receipt)
    }

    static func csvProblem(_ issues: [ReturnsCSV.Issue]) -> APIError {
        APIError(
            .unprocessableContent,
            "the CSV has \(issues.count) error\(issues.count == 1 ? "" : "s"); nothing was stored",
            errors: issues.map { .init(row: $0.row, column: $0.column, code: $0.code, message: $0.message) })
    }
}

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}
