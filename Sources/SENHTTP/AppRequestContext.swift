import Hummingbird
import Logging
import NIOCore
import SENCore
import SENStore

/// The request context of every route: Hummingbird's core context plus the authenticated principal.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthMiddleware` on every `/v1` route.
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// JSON bodies are small; CSV uploads are collected with their own, larger limits.
    public var maxUploadSize: Int { 1 << 20 }

    /// The principal, or 401 (only reachable if a route were mounted outside the auth middleware).
    func requirePrincipal() throws -> Principal {
        guard let principal else { throw APIError.unauthorized("authentication is required") }
        return principal
    }

    /// The principal if its role is one of `roles`; 403 otherwise.
    func require(_ roles: Role...) throws -> Principal { try require(roles) }

    func require(_ roles: [Role]) throws -> Principal {
        let principal = try requirePrincipal()
        guard roles.contains(principal.role) else {
            throw APIError(.forbidden, "a \(principal.role.rawValue) token may not use this endpoint")
        }
        return principal
    }
}

extension Principal {
    /// The RLS scope of this caller's transactions.
    var scope: TenantScope {
        switch role {
        case .admin: .platform
        case .trustExecutive, .schoolLeader: trustID.map { .trust($0) } ?? .none
        case .researcher: .none
        }
    }
}
