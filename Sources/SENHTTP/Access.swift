import Hummingbird
import SENCore
import SENStore

/// Resolves the school at `:urn` for the routes registered behind it, once: the caller's role must be one of
/// `roles` (403), and the school must be one the caller may act for — another trust's school is 404, like a
/// missing one. The handler then reads `SchoolContext.school`.
struct SchoolAccess: RouterMiddleware {
    typealias Context = AuthenticatedContext
    let register: RegisterStore
    let roles: [Role]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let principal = try context.require(roles)
        let urn = try context.parameters.urn()
        guard let school = try await register.school(urn, scope: principal.scope, logger: context.logger),
            principal.canSee(school: urn, currentTrust: school.trustID), let trust = school.trustID
        else { throw APIError.notFound("the school") }
        var context = context
        context.resolved = AuthorizedSchool(trust: trust, urn: urn, name: school.name)
        return try await next(request, context)
    }
}

/// Resolves the trust at `:trust` for the routes registered behind it, once: the caller's role must be one of
/// `roles` (403), and the trust must be one the caller may see (404 otherwise, malformed ids included).
struct TrustAccess: RouterMiddleware {
    typealias Context = AuthenticatedContext
    let roles: [Role]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let principal = try context.require(roles)
        let trust = try context.parameters.trustID()
        guard principal.canSee(trust: trust) else { throw APIError.notFound("the trust") }
        var context = context
        context.resolved = trust
        return try await next(request, context)
    }
}

extension RouterMethods where Context == AuthenticatedContext {
    /// Routes at `path` (under `schools/:urn`) that act on one school, for callers in `roles`.
    func school(_ path: RouterPath, _ roles: Role..., register: RegisterStore) -> RouterGroup<SchoolContext> {
        group(path).add(middleware: SchoolAccess(register: register, roles: roles)).group(context: SchoolContext.self)
    }

    /// Routes at `path` (under `trusts/:trust`) that act on one trust, for callers in `roles`.
    func trust(_ path: RouterPath, _ roles: Role...) -> RouterGroup<TrustContext> {
        group(path).add(middleware: TrustAccess(roles: roles)).group(context: TrustContext.self)
    }
}
