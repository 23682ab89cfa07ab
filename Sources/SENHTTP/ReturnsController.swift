import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SENAPI
import SENCore
import SENStore

/// One school's termly SEN return: submit and amend (If-Match), read, history, approval. Trust executives and
/// school leaders only: the platform's admins do not read schools' returns.
struct ReturnsController {
    let returns: ReturnsStore
    let register: RegisterStore

    var routes: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        let path: RouterPath = "schools/:urn/sen-returns/:term"
        routes.school(path, .trustExecutive, .schoolLeader, register: register)
            .put(use: put)
            .get(use: get)
            .get("versions", use: versions)
        routes.school(path, .trustExecutive, register: register)
            .post("approval", use: approve)
            .delete("approval", use: withdrawApproval)
        return routes
    }

    // MARK: Handlers

    @Sendable func get(_ request: Request, context: SchoolContext) async throws -> EditedResponse<ReturnBody> {
        let school = context.school
        guard let stored = try await returns.current(trust: school.trust, urn: school.urn, term: try context.term(), logger: context.logger) else {
            throw APIError.notFound("the return")
        }
        return Self.respond(stored, status: .ok)
    }

    @Sendable func versions(_ request: Request, context: SchoolContext) async throws -> ReturnVersions {
        let versions = try await versionHistory(context: context)
        guard !versions.versions.isEmpty else { throw APIError.notFound("the return") }
        return versions
    }

    /// Every version of the return at `:term`, each with what changed from the one before (none: no return yet).
    func versionHistory(context: SchoolContext) async throws -> ReturnVersions {
        let school = context.school
        let term = try context.term()
        let versions = try await returns.versions(trust: school.trust, urn: school.urn, term: term, logger: context.logger)
        var previous: SENReturn?
        var list: [ReturnVersions.Version] = []
        for version in versions {
            let changes = version.value.changes(since: previous).map {
                ReturnVersions.Change(field: $0.key, from: $0.before?.json, to: $0.after?.json)
            }
            list.append(
                .init(
                    version: version.version, submittedAt: version.submittedAt, submittedBy: version.submittedBy,
                    source: version.source, late: version.late, warnings: version.warnings, changes: changes))
            previous = version.value
        }
        return ReturnVersions(urn: school.urn.value, term: term.description, versions: list)
    }

    @Sendable func put(_ request: Request, context: SchoolContext) async throws -> EditedResponse<ReturnBody> {
        let ifMatch = try parseIfMatchHeader(request.headers[.ifMatch])
        var request = request
        let buffer = try await request.collectBody(limit: 1 << 20, what: "a JSON body")
        let json = try checkedJSON(Data(buffer.readableBytesView))
        let (raw, structural) = SENReturnValidator.fields(fromJSON: json)
        let (stored, created) = try await submit(raw, earlierIssues: structural, ifMatch: ifMatch, context: context)
        return Self.respond(stored, status: created ? .created : .ok)
    }

    /// Validates and writes a new version of the return at `:term`: every rule of a return (the term must be open,
    /// every field valid, plausibility warnings kept, `ifMatch` the version amended), for the API's PUT and the web
    /// app's form alike. Invalid fields are one 422 naming each; a lost race is `APIError(ReturnWriteError)`.
    func submit(
        _ raw: [String: RawField], earlierIssues: [ReturnIssue], ifMatch: Int??, context: SchoolContext
    ) async throws -> (stored: StoredReturn, created: Bool) {
        let school = context.school
        let term = try context.term()
        let today = todayUTC()
        guard term.isOpen(on: today) else {
            throw APIError(.unprocessableContent, "returns for \(term) open on its census day, \(term.censusDay)")
        }
        let value: SENReturn
        switch SENReturnValidator.validate(raw, earlierIssues: earlierIssues) {
        case .success(let valid): value = valid
        case .failure(let issues):
            throw APIError.validation(issues.map { .init(pointer: $0.pointer, code: $0.code, message: $0.message) })
        }
        var previous: (pupilsOnRoll: Int, senSupport: Int)?
        if let lastYear = term.sameTermLastYear {
            previous = try await returns.headlines(trust: school.trust, term: lastYear, urns: [school.urn], logger: context.logger)[school.urn]
        }
        let warnings = SENReturnValidator.warnings(for: value, sameTermLastYear: previous, censusDay: term.censusDay)
        do {
            return try await returns.submit(
                trust: school.trust, urn: school.urn, term: term, value: value, warnings: warnings, ifMatch: ifMatch,
                actor: context.principal.tokenID, late: term.isLate(on: today), logger: context.logger)
        } catch let error as ReturnWriteError {
            throw APIError(error)
        }
    }

    @Sendable func approve(_ request: Request, context: SchoolContext) async throws -> EditedResponse<ReturnBody> {
        Self.respond(try await approve(context: context), status: .ok)
    }

    /// Approves and locks the return at `:term`.
    func approve(context: SchoolContext) async throws -> StoredReturn {
        let school = context.school
        guard
            let stored = try await returns.approve(
                trust: school.trust, urn: school.urn, term: try context.term(), actor: context.principal.tokenID,
                logger: context.logger)
        else { throw APIError.notFound("the return") }
        return stored
    }

    @Sendable func withdrawApproval(_ request: Request, context: SchoolContext) async throws -> EditedResponse<ReturnBody> {
        var reason = request.uri.queryParameters.get("reason") ?? ""
        if reason.isEmpty, request.headers[.contentType]?.hasPrefix("application/json") == true {
            struct Body: Decodable { let reason: String? }
            var request = request
            reason = try await request.decodeJSON(Body.self).reason ?? ""
        }
        return Self.respond(try await withdrawApproval(reason: reason, context: context), status: .ok)
    }

    /// Unlocks an approved return, with the reason kept in the audit trail (the API's DELETE and the web app's form).
    func withdrawApproval(reason: String, context: SchoolContext) async throws -> StoredReturn {
        let school = context.school
        let term = try context.term()
        let reason = reason.trimmingASCIIWhitespace()
        guard !reason.isEmpty, reason.databaseLength <= 500, !reason.unicodeScalars.contains("\u{0}") else {
            throw APIError.validation([.init(pointer: "/reason", code: "required", message: "say why the approval is withdrawn (at most 500 characters)")])
        }
        switch try await returns.unapprove(
            trust: school.trust, urn: school.urn, term: term, reason: reason, actor: context.principal.tokenID,
            logger: context.logger)
        {
        case .unapproved(let stored): return stored
        case .notApproved: throw APIError(.conflict, "the return is not approved")
        case .missing: throw APIError.notFound("the return")
        }
    }

    /// The return with its version as ETag.
    static func respond(_ stored: StoredReturn, status: HTTPResponse.Status) -> EditedResponse<ReturnBody> {
        EditedResponse(status: status, headers: [.eTag: "\"\(stored.version)\""], response: ReturnBody(stored))
    }
}

extension ReturnBody {
    init(_ stored: StoredReturn) {
        self.init(
            urn: stored.urn.value, term: stored.term.description, trustID: stored.trustID.uuidString, version: stored.version,
            status: stored.status.rawValue, late: stored.late, firstSubmittedAt: stored.firstSubmittedAt,
            updatedAt: stored.updatedAt, approvedAt: stored.approvedAt, value: stored.value.json, warnings: stored.warnings)
    }
}

extension APIError {
    /// A versioned write that lost: 428 without If-Match, 412 when stale, 409 when locked.
    init(_ error: ReturnWriteError) {
        switch error {
        case .preconditionRequired(let current):
            self.init(.preconditionRequired, "version \(current) exists: send If-Match: \"\(current)\" to amend it", headers: [.eTag: "\"\(current)\""])
        case .preconditionFailed(let current?):
            self.init(.preconditionFailed, "the current version is \(current); fetch it and amend that", headers: [.eTag: "\"\(current)\""])
        case .preconditionFailed(nil):
            self.init(.preconditionFailed, "there is no version to amend yet; send the first without If-Match")
        case .locked:
            self.init(.conflict, "the return is approved and locked; the trust can withdraw the approval")
        }
    }
}

/// `If-Match: "3"` → 3; `*` → `.some(nil)`; absent → nil.
func parseIfMatchHeader(_ header: String?) throws -> Int?? {
    guard let header = header?.trimmingASCIIWhitespace(), !header.isEmpty else { return nil }
    if header == "*" { return .some(nil) }
    let first = header.split(separator: ",").first.map { $0.trimmingASCIIWhitespace() } ?? ""
    guard first.hasPrefix("\""), first.hasSuffix("\""), first.count >= 3, let version = Int(first.dropFirst().dropLast()) else {
        throw APIError(.preconditionFailed, "If-Match must be an ETag from this API, such as \"3\"")
    }
    return .some(version)
}
