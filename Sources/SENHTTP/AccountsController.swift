import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SENAPI
import SENCore
import SENStore

/// `/v1/me` and `/v1/tokens`: who the caller is, and the tokens an admin or a trust executive manages.
struct AccountsController {
    let tokens: TokenStore
    let register: RegisterStore

    var routes: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.get("me", use: me)
        routes.post("tokens", use: create)
        routes.get("tokens", use: list)
        routes.delete("tokens/:id", use: revoke)
        return routes
    }

    @Sendable func me(_ request: Request, context: AuthenticatedContext) async throws -> Me {
        let principal = context.principal
        return Me(
            tokenID: principal.tokenID.uuidString, role: principal.role.rawValue, trustID: principal.trustID?.uuidString,
            urns: principal.urns.map(\.value).sorted())
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> TokenList {
        try await list(context: context)
    }

    /// The tokens the caller manages: every token for an admin, the trust's for a trust executive.
    func list(context: some AuthenticatedRequestContext) async throws -> TokenList {
        let principal = try context.require(.admin, .trustExecutive)
        return TokenList(tokens: try await tokens.list(scope: principal.scope, logger: context.logger).map { TokenBody($0) })
    }

    @Sendable func revoke(_ request: Request, context: AuthenticatedContext) async throws -> HTTPResponse.Status {
        try await revoke(id: context.parameters.get("id") ?? "", context: context)
        return .noContent
    }

    /// Revokes a token the caller manages (a trust executive: its school leaders' tokens); 404 for any other.
    func revoke(id text: String, context: AuthenticatedContext) async throws {
        let principal = try context.require(.admin, .trustExecutive)
        guard let id = TokenID(text) else {
            throw APIError.notFound("the token")
        }
        let revoked = try await tokens.revoke(
            id: id, onlyRoles: principal.role == .admin ? nil : [.schoolLeader], scope: principal.scope, logger: context.logger)
        guard revoked != nil else { throw APIError.notFound("the token") }
    }

    static let longestLife: TimeInterval = 10 * 366 * 86_400

    /// `…Z` or an offset of at most ±14:00 with minutes under 60 (RFC 3339); the formatter alone takes +25:00.
    static func hasPlausibleOffset(_ text: String) -> Bool {
        if text.hasSuffix("Z") || text.hasSuffix("z") { return true }
        let tail = text.suffix(6)
        guard tail.count == 6, tail.first == "+" || tail.first == "-", tail.dropFirst(3).first == ":",
            let hours = Int(tail.dropFirst().prefix(2)), let minutes = Int(tail.suffix(2))
        else { return false }
        return hours <= 14 && minutes < 60 && tail.dropFirst().prefix(2).allSatisfy(\.isNumber) && tail.suffix(2).allSatisfy(\.isNumber)
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> EditedResponse<TokenBody> {
        _ = try context.require(.admin, .trustExecutive)
        var request = request
        let body = try await request.decodeJSON(NewToken.self)
        return EditedResponse(status: .created, response: try await create(body, context: context))
    }

    /// Issues a token as `body` asks, if the caller may: every field checked, all errors at once; the secret is in
    /// the answer this once.
    func create(_ body: NewToken, context: AuthenticatedContext) async throws -> TokenBody {
        let principal = try context.require(.admin, .trustExecutive)
        // A trust executive's tokens are for its own trust unless it says otherwise.
        let trust = body.trustID ?? (principal.role == .trustExecutive ? principal.trustID : nil)
        guard principal.mayIssue(role: body.role, trust: trust) else {
            throw APIError(.forbidden, "a \(principal.role.rawValue) may not issue \(body.role.rawValue) tokens for that trust")
        }
        let urns = body.urns ?? []
        var errors = grantErrors(role: body.role, trust: trust, namedTrust: body.trustID != nil, urns: urns, noun: "token")
        if let label = body.label, label.databaseLength > 200 {
            errors.append(.init(pointer: "/label", code: "too_long", message: "a label has at most 200 characters"))
        }
        var expiresAt: Date?
        if let text = body.expiresAt {
            let formatter = ISO8601DateFormatter()
            let withFraction = ISO8601DateFormatter()
            withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if Self.hasPlausibleOffset(text), let date = formatter.date(from: text) ?? withFraction.date(from: text) {
                expiresAt = date
                if date <= Date() {
                    errors.append(.init(pointer: "/expires_at", code: "in_the_past", message: "expires_at must be in the future"))
                } else if date > Date().addingTimeInterval(Self.longestLife) {
                    errors.append(.init(pointer: "/expires_at", code: "too_far", message: "a token lives at most 10 years"))
                }
            } else {
                errors.append(.init(pointer: "/expires_at", code: "date_time", message: "'\(text)' is not an ISO 8601 date-time such as 2027-01-31T00:00:00Z"))
            }
        }
        if errors.isEmpty {
            errors += try await registerErrors(trust: trust, urns: urns, principal: principal, logger: context.logger)
        }
        guard errors.isEmpty else { throw APIError.validation(errors) }
        let issued = try await tokens.issue(
            role: body.role, trustID: trust, urns: urns, label: body.label ?? "", expiresAt: expiresAt,
            createdBy: principal.tokenID, scope: principal.role == .admin ? .platform : principal.scope,
            logger: context.logger)
        context.logger.info("token issued", metadata: ["new_token_id": "\(issued.record.id)", "new_role": "\(body.role.rawValue)"])
        return TokenBody(issued.record, token: issued.token)
    }
}

extension AccountsController {
    /// What a role needs of a trust and schools, for a token or an invitation alike.
    func grantErrors(role: Role, trust: TrustID?, namedTrust: Bool, urns: [URN], noun: String) -> [ProblemDetails.FieldError] {
        var errors: [ProblemDetails.FieldError] = []
        if role.needsTrust && trust == nil {
            errors.append(.init(pointer: "/trust_id", code: "required", message: "a \(role.rawValue) \(noun) needs a trust"))
        }
        if !role.needsTrust && namedTrust {
            errors.append(.init(pointer: "/trust_id", code: "not_allowed", message: "a \(role.rawValue) \(noun) has no trust"))
        }
        if role == .schoolLeader && urns.isEmpty {
            errors.append(.init(pointer: "/urns", code: "required", message: "a school_leader \(noun) needs at least one school"))
        }
        if role != .schoolLeader && !urns.isEmpty {
            errors.append(.init(pointer: "/urns", code: "not_allowed", message: "only school_leader \(noun)s carry schools"))
        }
        return errors
    }

    /// The trust must exist (and be visible to the caller), and the schools must be in it now.
    func registerErrors(trust: TrustID?, urns: [URN], principal: Principal, logger: Logger) async throws -> [ProblemDetails.FieldError] {
        guard let trust else { return [] }
        let scope: TenantScope = principal.role == .admin ? .platform : .trust(trust)
        guard try await register.trust(trust, scope: scope, logger: logger) != nil else {
            return [.init(pointer: "/trust_id", code: "unknown", message: "no such trust")]
        }
        guard !urns.isEmpty else { return [] }
        let inTrust = Set(try await register.schools(of: trust, only: Set(urns), scope: scope, logger: logger).map(\.urn))
        return urns.enumerated().filter { !inTrust.contains($0.element) }.map {
            .init(pointer: "/urns/\($0.offset)", code: "not_in_trust", message: "school \($0.element) is not in this trust")
        }
    }
}

extension TokenBody {
    init(_ record: TokenRecord, token: String? = nil) {
        self.init(
            id: record.id.uuidString, role: record.role.rawValue, trustID: record.trustID?.uuidString, urns: record.urns.map(\.value),
            label: record.label, createdAt: record.createdAt, expiresAt: record.expiresAt, lastUsedAt: record.lastUsedAt,
            revokedAt: record.revokedAt, token: token)
    }
}
