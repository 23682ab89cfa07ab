import Foundation
import Hummingbird
import SENAPI
import Logging
import NIOCore
import SENCore
import SENStore

/// The context every request starts in: Hummingbird's core context and the peer's address. `AuthMiddleware`
/// fills in `principal`; the routes behind it see an `AuthenticatedContext`, where it is not optional.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthMiddleware`, read only by `AuthenticatedContext.init(context:)`.
    var principal: Principal?
    var lastWritePosition: String?
    /// Set by `WebSessionMiddleware` for the web app's pages; nil for the API.
    var webSession: WebSession?

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

    /// One JSON dialect for every answer (`JSONEncoder.api`).
    public var responseEncoder: JSONEncoder { JSONEncoder.api }
    public var requestDecoder: JSONDecoder { JSONDecoder.api }

    /// JSON bodies are small; CSV uploads are collected with their own, larger limits.
    public var maxUploadSize: Int { 1 << 20 }
}

/// A context behind `AuthMiddleware`: who is asking, and where their last write left the primary's WAL.
public protocol AuthenticatedRequestContext: RequestContext {
    var principal: Principal { get }
    /// The browser's session when the request is a web app page's.
    var webSession: WebSession? { get }
    /// The primary's WAL position after the principal's last write, for read-your-writes (`ReplicaReadMiddleware`).
    var lastWritePosition: String? { get }
}

extension AuthenticatedRequestContext {
    /// The principal if its role is one of `roles`; 403 otherwise.
    func require(_ roles: Role...) throws -> Principal { try require(roles) }

    func require(_ roles: [Role]) throws -> Principal {
        guard roles.contains(principal.role) else {
            throw APIError(.forbidden, "a \(principal.role.rawValue) token may not use this endpoint")
        }
        return principal
    }
}

/// Every `/v1` route: made from the request's `AppRequestContext` once `AuthMiddleware` has found the principal.
public struct AuthenticatedContext: ChildRequestContext, AuthenticatedRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let principal: Principal
    public let lastWritePosition: String?
    /// The browser's session on the web app's pages (nil for the API).
    public let webSession: WebSession?
    /// What `SchoolAccess` or `TrustAccess` resolved for the route (an `AuthorizedSchool` or a `TrustID`), read by
    /// `ScopedContext`.
    var resolved: (any Sendable)?

    public init(context: AppRequestContext) throws {
        // Only reachable if a route were mounted outside the auth middleware.
        guard let principal = context.principal else { throw APIError.unauthorized("authentication is required") }
        self.coreContext = context.coreContext
        self.principal = principal
        self.lastWritePosition = context.lastWritePosition
        self.webSession = context.webSession
    }

    public var responseEncoder: JSONEncoder { JSONEncoder.api }
    public var requestDecoder: JSONDecoder { JSONDecoder.api }
    public var maxUploadSize: Int { 1 << 20 }
}

/// The school at `:urn` that the caller may act for, and the trust it is in now.
struct AuthorizedSchool: Sendable {
    let trust: TrustID
    let urn: URN
    let name: String
}

/// A route that acts on one school or one trust: `SchoolAccess` or `TrustAccess`, registered with the route, resolved
/// it (and checked the caller's right to it) before the handler runs. `SchoolContext` and `TrustContext` name the
/// two.
struct ScopedContext<Target: Sendable>: ChildRequestContext, AuthenticatedRequestContext {
    var coreContext: CoreRequestContextStorage
    let principal: Principal
    let lastWritePosition: String?
    let webSession: WebSession?
    let target: Target

    init(context: AuthenticatedContext) throws {
        // Only a route registered without its access middleware could get here.
        guard let target = context.resolved as? Target else { throw HTTPError(.internalServerError) }
        self.coreContext = context.coreContext
        self.principal = context.principal
        self.lastWritePosition = context.lastWritePosition
        self.webSession = context.webSession
        self.target = target
    }

    var responseEncoder: JSONEncoder { JSONEncoder.api }
    var requestDecoder: JSONDecoder { JSONDecoder.api }
    var maxUploadSize: Int { 1 << 20 }

    /// `:term` of the path.
    func term() throws -> AcademicTerm { try parseTerm(parameters.get("term")) }
}

/// The routes under `schools/:urn`.
typealias SchoolContext = ScopedContext<AuthorizedSchool>
/// The routes under `trusts/:trust`.
typealias TrustContext = ScopedContext<TrustID>

extension ScopedContext<AuthorizedSchool> {
    var school: AuthorizedSchool { target }
}

extension ScopedContext<TrustID> {
    var trust: TrustID { target }
}

extension Request {
    /// `?term=`, which the reporting routes require.
    func termQuery() throws -> AcademicTerm {
        guard let text = uri.queryParameters.get("term") else {
            throw APIError.validation([.init(pointer: "/term", code: "required", message: "give ?term=, for example 2025-26-autumn")])
        }
        return try parseTerm(text)
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
