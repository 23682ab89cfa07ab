import Foundation
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
    /// The primary's WAL position after the principal's last write, for read-your-writes (`ReadRoutingMiddleware`).
    public var lastWritePosition: String?

    /// The peer's IP address (nil in router tests, which have no socket).
    public let peerAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peerAddress = source.channel.remoteAddress?.ipAddress
    }

    /// The client's address: the peer's, or — when the peer is a proxy on this machine (Deploy/nginx) — the
    /// address the proxy appended last to X-Forwarded-For.
    func clientAddress(forwardedFor: String?) -> String {
        let peer = peerAddress ?? "unknown"
        guard peer == "127.0.0.1" || peer == "::1", let forwarded = forwardedFor?.split(separator: ",").last else { return peer }
        let address = forwarded.trimmingASCIIWhitespace()
        return address.isEmpty ? peer : address
    }

    /// One JSON dialect for every answer: the values handlers return are encoded as the bodies they write
    /// themselves (ISO 8601 dates, sorted keys, unescaped slashes).
    public var responseEncoder: JSONEncoder { JSONEncoder.api }
    public var requestDecoder: JSONDecoder { JSONDecoder.api }

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

extension RegisterStore {
    /// The school at `:urn` and the trust it is in now, if the caller (in one of `roles`) may act for it; another
    /// trust's school is 404, like a missing one.
    func authorizedSchool(_ context: AppRequestContext, roles: [Role]) async throws -> (trust: TrustID, urn: URN, name: String) {
        let principal = try context.require(roles)
        let urn = try context.parameters.urn()
        guard let school = try await school(urn, scope: principal.scope, logger: context.logger),
            principal.canSee(school: urn, currentTrust: school.trustID), let trust = school.trustID
        else { throw APIError.notFound("the school") }
        return (trust, urn, school.name)
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
