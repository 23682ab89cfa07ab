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
        var errors: [ProblemDetails.FieldError] = []
        let urns = body.urns ?? []
        if body.role.needsTrust && trust == nil {
            errors.append(.init(pointer: "/trust_id", code: "required", message: "a \(body.role.rawValue) token needs a trust"))
        }
        if !body.role.needsTrust && body.trustID != nil {
            errors.append(.init(pointer: "/trust_id", code: "not_allowed", message: "a \(body.role.rawValue) token has no trust"))
        }
        if body.role == .schoolLeader && urns.isEmpty {
            errors.append(.init(pointer: "/urns", code: "required", message: "a school_leader token needs at least one school"))
        }
        if body.role != .schoolLeader && !urns.isEmpty {
            errors.append(.init(pointer: "/urns", code: "not_allowed", message: "only school_leader tokens carry schools"))
        }
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
        if errors.isEmpty, let trust {
            // The trust must exist (and be visible to the issuer), and the schools must be in it now.
            let scope: TenantScope = principal.role == .admin ? .platform : .trust(trust)
            if try await register.trust(trust, scope: scope, logger: context.logger) == nil {
                errors.append(.init(pointer: "/trust_id", code: "unknown", message: "no such trust"))
            } else if !urns.isEmpty {
                let inTrust = Set(try await register.schools(of: trust, only: Set(urns), scope: scope, logger: context.logger).map(\.urn))
                for (index, urn) in urns.enumerated() where !inTrust.contains(urn) {
                    errors.append(.init(pointer: "/urns/\(index)", code: "not_in_trust", message: "school \(urn) is not in this trust"))
                }
            }
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

extension TokenBody {
    init(_ record: TokenRecord, token: String? = nil) {
        self.init(
            id: record.id.uuidString, role: record.role.rawValue, trustID: record.trustID?.uuidString, urns: record.urns.map(\.value),
            label: record.label, createdAt: record.createdAt, expiresAt: record.expiresAt, lastUsedAt: record.lastUsedAt,
            revokedAt: record.revokedAt, token: token)
    }
}
