import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SENCore
import SENStore

/// Termly SEN returns: submit and amend (If-Match), read, history, approval, a trust's CSV import and export,
/// and completeness. Trust executives and school leaders only: the platform's admins do not read schools' returns.
struct ReturnsController {
    let returns: ReturnsStore
    let register: RegisterStore

    /// A trust's CSV of 25,000 schools is about 10 MB; the limit leaves room for every optional column.
    static let csvUploadLimit = 64 << 20

    // MARK: Responses

    struct ReturnBody: ResponseEncodable {
        let urn: Int
        let term: String
        let trustID: String
        let version: Int
        let status: String
        let late: Bool
        let firstSubmittedAt: Date
        let updatedAt: Date
        let approvedAt: Date?
        let value: JSONValue
        let warnings: [ReturnWarning]

        enum CodingKeys: String, CodingKey {
            case urn, term, version, status, late, warnings
            case trustID = "trust_id"
            case firstSubmittedAt = "first_submitted_at"
            case updatedAt = "updated_at"
            case approvedAt = "approved_at"
            case value = "return"
        }

        init(_ stored: StoredReturn) {
            urn = stored.urn.value
            term = stored.term.description
            trustID = stored.trustID.uuidString
            version = stored.version
            status = stored.status.rawValue
            late = stored.late
            firstSubmittedAt = stored.firstSubmittedAt
            updatedAt = stored.updatedAt
            approvedAt = stored.approvedAt
            value = stored.value.json
            warnings = stored.warnings
        }
    }

    struct VersionList: ResponseEncodable {
        struct Change: Encodable {
            let field: String
            let from: JSONValue?
            let to: JSONValue?
        }

        struct Version: Encodable {
            let version: Int
            let submittedAt: Date
            let submittedBy: String?
            let source: String
            let late: Bool
            let warnings: [ReturnWarning]
            let changes: [Change]

            enum CodingKeys: String, CodingKey {
                case version, source, late, warnings, changes
                case submittedAt = "submitted_at"
                case submittedBy = "submitted_by"
            }
        }

        let urn: Int
        let term: String
        let versions: [Version]
    }

    struct TrustReturns: ResponseEncodable {
        let trustID: String
        let term: String
        let returns: [ReturnBody]

        enum CodingKeys: String, CodingKey {
            case term, returns
            case trustID = "trust_id"
        }
    }

    struct ImportBody: ResponseEncodable, Codable {
        struct Warning: Codable {
            let urn: Int
            let row: Int
            let code: String
            let message: String
        }

        let term: String
        let rows: Int
        let created: Int
        let amended: Int
        let unchanged: Int
        let late: Bool
        let warnings: [Warning]
    }

    struct Completeness: ResponseEncodable {
        struct School: Encodable {
            let urn: Int
            let name: String
            let phase: String
            let status: String
            let late: Bool
            let version: Int?
            let firstSubmittedAt: Date?
            let updatedAt: Date?
            let approvedAt: Date?

            enum CodingKeys: String, CodingKey {
                case urn, name, phase, status, late, version
                case firstSubmittedAt = "first_submitted_at"
                case updatedAt = "updated_at"
                case approvedAt = "approved_at"
            }
        }

        let trustID: String
        let term: String
        let censusDay: String
        let deadline: String
        let totals: [String: Int]
        let schools: [School]

        enum CodingKeys: String, CodingKey {
            case term, deadline, totals, schools
            case trustID = "trust_id"
            case censusDay = "census_day"
        }
    }

    // MARK: Routes

    func register(on group: RouterGroup<AppRequestContext>) {
        group.put("schools/:urn/sen-returns/:term") { request, context in try await put(request, context) }
        group.get("schools/:urn/sen-returns/:term") { _, context in
            let (trust, urn, term) = try await school(context, roles: [.trustExecutive, .schoolLeader])
            guard let stored = try await returns.current(trust: trust, urn: urn, term: term, logger: context.logger) else {
                throw APIError.notFound("the return")
            }
            return try respond(stored, status: .ok, context: context)
        }
        group.get("schools/:urn/sen-returns/:term/versions") { _, context in
            let (trust, urn, term) = try await school(context, roles: [.trustExecutive, .schoolLeader])
            let versions = try await returns.versions(trust: trust, urn: urn, term: term, logger: context.logger)
            guard !versions.isEmpty else { throw APIError.notFound("the return") }
            var previous: SENReturn?
            var list: [VersionList.Version] = []
            for version in versions {
                let changes = version.value.changes(since: previous).map {
                    VersionList.Change(field: $0.key, from: $0.before?.json, to: $0.after?.json)
                }
                list.append(
                    .init(
                        version: version.version, submittedAt: version.submittedAt, submittedBy: version.submittedBy,
                        source: version.source, late: version.late, warnings: version.warnings, changes: changes))
                previous = version.value
            }
            return VersionList(urn: urn.value, term: term.description, versions: list)
        }
        group.post("schools/:urn/sen-returns/:term/approval") { _, context in
            let (trust, urn, term) = try await school(context, roles: [.trustExecutive])
            guard
                let stored = try await returns.approve(
                    trust: trust, urn: urn, term: term, actor: context.principal?.tokenID, logger: context.logger)
            else { throw APIError.notFound("the return") }
            return try respond(stored, status: .ok, context: context)
        }
        group.delete("schools/:urn/sen-returns/:term/approval") { request, context in
            let (trust, urn, term) = try await school(context, roles: [.trustExecutive])
            var reason = request.uri.queryParameters.get("reason") ?? ""
            if reason.isEmpty, request.headers[.contentType]?.hasPrefix("application/json") == true {
                struct Body: Decodable { let reason: String? }
                var request = request
                reason = try await request.decodeJSON(Body.self).reason ?? ""
            }
            reason = reason.trimmingASCIIWhitespace()
            guard !reason.isEmpty, reason.databaseLength <= 500, !reason.unicodeScalars.contains("\u{0}") else {
                throw APIError.validation([.init(pointer: "/reason", code: "required", message: "say why the approval is withdrawn (at most 500 characters)")])
            }
            switch try await returns.unapprove(
                trust: trust, urn: urn, term: term, reason: reason, actor: context.principal?.tokenID,
                logger: context.logger)
            {
            case .unapproved(let stored): return try respond(stored, status: .ok, context: context)
            case .notApproved: throw APIError(.conflict, "the return is not approved")
            case .missing: throw APIError.notFound("the return")
            }
        }
        group.post("trusts/:trust/sen-returns/:term/imports") { request, context in try await importCSV(request, context) }
        group.get("trusts/:trust/sen-returns/:term") { request, context in
            let (trust, term) = try await trustAndTerm(context, termFromPath: true)
            let stored = try await returns.list(trust: trust, term: term, logger: context.logger)
            if wantsCSV(request) {
                return csvResponse(ReturnsCSV.write(stored.map { ($0.urn, $0.value) }), name: "sen-returns-\(term).csv")
            }
            return try TrustReturns(trustID: trust.uuidString, term: term.description, returns: stored.map(ReturnBody.init))
                .response(from: request, context: context)
        }
        group.get("trusts/:trust/completeness") { request, context in
            let (trust, term) = try await trustAndTerm(context, termFromPath: false, request: request)
            let rows = try await returns.completeness(trust: trust, term: term, logger: context.logger)
            if wantsCSV(request) {
                var csv = CSVWriter.line(["urn", "name", "phase", "status", "late", "version", "first_submitted_at", "updated_at", "approved_at"])
                for row in rows {
                    csv += CSVWriter.line([
                        row.urn.description, row.name, row.phase, row.status.rawValue, row.late ? "true" : "false",
                        row.version.map(String.init) ?? "", iso(row.firstSubmittedAt), iso(row.updatedAt), iso(row.approvedAt),
                    ])
                }
                return csvResponse(csv, name: "completeness-\(term).csv")
            }
            var totals = ["missing": 0, "submitted": 0, "late": 0, "approved": 0]
            for row in rows { totals[row.status.rawValue, default: 0] += 1 }
            return try Completeness(
                trustID: trust.uuidString, term: term.description, censusDay: term.censusDay.description,
                deadline: term.deadline.description, totals: totals,
                schools: rows.map {
                    .init(
                        urn: $0.urn.value, name: $0.name, phase: $0.phase, status: $0.status.rawValue, late: $0.late,
                        version: $0.version, firstSubmittedAt: $0.firstSubmittedAt, updatedAt: $0.updatedAt,
                        approvedAt: $0.approvedAt)
                }
            ).response(from: request, context: context)
        }
    }

    // MARK: Handlers

    func put(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let (trust, urn, term) = try await school(context, roles: [.trustExecutive, .schoolLeader])
        let today = todayUTC()
        guard term.isOpen(on: today) else {
            throw APIError(.unprocessableContent, "returns for \(term) open on its census day, \(term.censusDay)")
        }
        let ifMatch = try parseIfMatchHeader(request.headers[.ifMatch])
        var request = request
        let buffer = try await request.collectBody(limit: 1 << 20, what: "a JSON body")
        let json = try checkedJSON(Data(buffer.readableBytesView))
        let (raw, structural) = SENReturnValidator.fields(fromJSON: json)
        let value: SENReturn
        switch SENReturnValidator.validate(raw, earlierIssues: structural) {
        case .success(let valid): value = valid
        case .failure(let issues):
            throw APIError.validation(issues.map { .init(pointer: $0.pointer, code: $0.code, message: $0.message) })
        }
        var warnings: [ReturnWarning] = []
        if let lastYear = term.sameTermLastYear {
            let previous = try await returns.headlines(trust: trust, term: lastYear, urns: [urn], logger: context.logger)
            warnings = SENReturnValidator.warnings(for: value, sameTermLastYear: previous[urn], censusDay: term.censusDay)
        } else {
            warnings = SENReturnValidator.warnings(for: value, sameTermLastYear: nil, censusDay: term.censusDay)
        }
        do {
            let (stored, created) = try await returns.submit(
                trust: trust, urn: urn, term: term, value: value, warnings: warnings, ifMatch: ifMatch,
                actor: context.principal?.tokenID, late: term.isLate(on: today), logger: context.logger)
            return try respond(stored, status: created ? .created : .ok, context: context)
        } catch let error as ReturnWriteError {
            throw APIError(error)
        }
    }

    func importCSV(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let (trust, term) = try await trustAndTerm(context, termFromPath: true, roles: [.trustExecutive])
        guard let key = request.headers[.idempotencyKey], !key.isEmpty, key.databaseLength <= 200 else {
            throw APIError(.badRequest, "a bulk import needs an Idempotency-Key header (any unique string up to 200 characters)")
        }
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("text/csv") {
            throw APIError(.unsupportedMediaType, "send the returns as text/csv")
        }
        let today = todayUTC()
        guard term.isOpen(on: today) else {
            throw APIError(.unprocessableContent, "returns for \(term) open on its census day, \(term.censusDay)")
        }
        var request = request
        let body = try await request.collectBody(limit: Self.csvUploadLimit, what: "a CSV import")
        let bytes = Array(body.readableBytesView)
        var hasher = SHA256()
        hasher.update(data: Array("\(term)\n".utf8))
        hasher.update(data: bytes)
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        if let stored = try await returns.idempotentResponse(trust: trust, key: key, logger: context.logger) {
            return try replay(stored, digest: digest)
        }
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
            throw csvProblem(issues.sorted { ($0.row, $0.column) < ($1.row, $1.column) })
        }
        let lastYear = term.sameTermLastYear
        var previous: [URN: (pupilsOnRoll: Int, senSupport: Int)] = [:]
        if let lastYear {
            previous = try await returns.headlines(trust: trust, term: lastYear, urns: rows.map(\.urn), logger: context.logger)
        }
        var importRows: [ReturnsStore.ImportRow] = []
        var warnings: [ImportBody.Warning] = []
        for row in rows {
            let found = SENReturnValidator.warnings(for: row.value, sameTermLastYear: previous[row.urn], censusDay: term.censusDay)
            warnings += found.map { .init(urn: row.urn.value, row: row.row, code: $0.code, message: $0.message) }
            importRows.append(.init(urn: row.urn, value: row.value, warnings: found))
        }
        let late = term.isLate(on: today)
        let termText = term.description
        let rowCount = rows.count
        let reportedWarnings = warnings
        let render: @Sendable (ImportSummary) -> (Int, String) = { summary in
            let body = ImportBody(
                term: termText, rows: rowCount, created: summary.created, amended: summary.amended,
                unchanged: summary.unchanged, late: late, warnings: reportedWarnings)
            return (200, String(decoding: (try? JSONEncoder.api.encode(body)) ?? Data(), as: UTF8.self))
        }
        do {
            let summary = try await returns.importReturns(
                trust: trust, term: term, rows: importRows, actor: context.principal?.tokenID, late: late,
                idempotency: (key, digest, render), logger: context.logger)
            let (status, text) = render(summary)
            return jsonResponse(text, status: HTTPResponse.Status(code: status))
        } catch let rejected as ImportRejected {
            let rowOf = Dictionary(uniqueKeysWithValues: rows.map { ($0.urn, $0.row) })
            var issues: [ReturnsCSV.Issue] = rejected.notInTrust.map {
                .init(row: rowOf[$0] ?? 0, column: "urn", code: "not_in_trust", message: "school \($0) is not in this trust")
            }
            issues += rejected.locked.map {
                .init(row: rowOf[$0] ?? 0, column: "urn", code: "approved", message: "the return of \($0) is approved; withdraw the approval first")
            }
            throw csvProblem(issues.sorted { $0.row < $1.row })
        } catch is ReturnsStore.IdempotencyConflict {
            guard let stored = try await returns.idempotentResponse(trust: trust, key: key, logger: context.logger) else { throw APIError(.conflict, "retry the import") }
            return try replay(stored, digest: digest)
        }
    }

    // MARK: Helpers

    /// Resolves `:urn` and `:term` to the trust the school is in now, if the caller may act for that school.
    func school(_ context: AppRequestContext, roles: [Role]) async throws -> (TrustID, URN, AcademicTerm) {
        let (trust, urn, _) = try await register.authorizedSchool(context, roles: roles)
        return (trust, urn, try parseTerm(context.parameters.get("term")))
    }

    func trustAndTerm(
        _ context: AppRequestContext, termFromPath: Bool, request: Request? = nil, roles: [Role] = [.trustExecutive]
    ) async throws -> (TrustID, AcademicTerm) {
        let principal = try context.require(roles)
        let trust = try context.parameters.trustID()
        guard principal.canSee(trust: trust) else { throw APIError.notFound("the trust") }
        let text: String? =
            if termFromPath { context.parameters.get("term") } else { request?.uri.queryParameters.get("term").map { String($0) } }
        guard let text else { throw APIError.validation([.init(pointer: "/term", code: "required", message: "give ?term=, for example 2025-26-autumn")]) }
        return (trust, try parseTerm(text))
    }

    func etag(_ version: Int) -> String { "\"\(version)\"" }

    /// The return with its version as ETag.
    func respond(_ stored: StoredReturn, status: HTTPResponse.Status, context: AppRequestContext) throws -> Response {
        var response = jsonResponse(String(decoding: try JSONEncoder.api.encode(ReturnBody(stored)), as: UTF8.self), status: status)
        response.headers[.eTag] = etag(stored.version)
        return response
    }

    func replay(_ stored: IdempotentResponse, digest: String) throws -> Response {
        guard stored.requestDigest == digest else {
            throw APIError(.unprocessableContent, "this Idempotency-Key was used for a different import; use a new key")
        }
        var response = jsonResponse(stored.body, status: HTTPResponse.Status(code: stored.status))
        response.headers[.idempotentReplayed] = "true"
        return response
    }

    func csvProblem(_ issues: [ReturnsCSV.Issue]) -> APIError {
        APIError(
            .unprocessableContent,
            "the CSV has \(issues.count) error\(issues.count == 1 ? "" : "s"); nothing was stored",
            errors: issues.map { .init(row: $0.row, column: $0.column, code: $0.code, message: $0.message) })
    }
}

func wantsCSV(_ request: Request) -> Bool {
    request.headers[.accept]?.lowercased().contains("text/csv") == true
}

func csvResponse(_ text: String, name: String) -> Response {
    Response(
        status: .ok,
        headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(name)\""],
        body: .init(byteBuffer: ByteBuffer(string: text)))
}

func jsonResponse(_ text: String, status: HTTPResponse.Status) -> Response {
    Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
}

/// A date as the JSON bodies write it (ISO 8601, UTC, seconds), for CSV cells: one shared format style, not a new
/// formatter per cell.
func iso(_ date: Date?) -> String {
    guard let date else { return "" }
    return date.formatted(isoStyle)
}

let isoStyle = Date.ISO8601FormatStyle()

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}
