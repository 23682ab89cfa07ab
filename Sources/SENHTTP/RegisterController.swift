import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SENAPI
import SENCore
import SENStore

/// Trusts and their schools as the register holds them.
struct RegisterController {
    let register: RegisterStore

    var routes: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.post("trusts", use: createTrust)
        routes.get("trusts", use: trusts)
        routes.trust("trusts/:trust", .admin, .trustExecutive, .schoolLeader)
            .get(use: trust)
            .get("schools", use: schools)
        routes.get("schools/:urn", use: school)
        return routes
    }

    @Sendable func createTrust(_ request: Request, context: AuthenticatedContext) async throws -> EditedResponse<TrustBody> {
        _ = try context.require(.admin)
        var request = request
        let body = try await request.decodeJSON(NewTrust.self)
        return EditedResponse(status: .created, response: try await createTrust(body, context: context))
    }

    /// Adds a trust (an admin's), every field checked.
    func createTrust(_ body: NewTrust, context: AuthenticatedContext) async throws -> TrustBody {
        _ = try context.require(.admin)
        var errors: [ProblemDetails.FieldError] = []
        let name = body.name.trimmingASCIIWhitespace()
        if name.isEmpty || name.databaseLength > 200 {
            errors.append(.init(pointer: "/name", code: "length", message: "a trust name has 1 to 200 characters"))
        }
        if let code = body.giasCode, !GIASRegisterReader.isTrustCode(code) {
            errors.append(.init(pointer: "/gias_code", code: "format", message: "a GIAS trust code looks like TR01234"))
        }
        guard errors.isEmpty else { throw APIError.validation(errors) }
        let trust = try await register.createTrust(name: name, giasCode: body.giasCode, logger: context.logger)
        return TrustBody(trust)
    }

    @Sendable func trusts(_ request: Request, context: AuthenticatedContext) async throws -> TrustList {
        let principal = try context.require(.admin, .trustExecutive, .schoolLeader)
        return TrustList(trusts: try await register.trusts(scope: principal.scope, logger: context.logger).map(TrustBody.init))
    }

    @Sendable func trust(_ request: Request, context: TrustContext) async throws -> TrustBody {
        guard let trust = try await register.trust(context.trust, scope: context.principal.scope, logger: context.logger) else {
            throw APIError.notFound("the trust")
        }
        return TrustBody(trust)
    }

    @Sendable func schools(_ request: Request, context: TrustContext) async throws -> SchoolList {
        let principal = context.principal
        guard try await register.trust(context.trust, scope: principal.scope, logger: context.logger) != nil else {
            throw APIError.notFound("the trust")
        }
        let only = principal.role == .schoolLeader ? principal.urns : nil
        let schools = try await register.schools(of: context.trust, only: only, scope: principal.scope, logger: context.logger)
        return SchoolList(trustID: context.trust.uuidString, schools: schools)
    }

    /// The register's record of a school, also one no trust holds now (for an admin): not `SchoolAccess`, which
    /// resolves a school that a trust acts for.
    @Sendable func school(_ request: Request, context: AuthenticatedContext) async throws -> SchoolBody {
        let principal = try context.require(.admin, .trustExecutive, .schoolLeader)
        let urn = try context.parameters.urn()
        guard let school = try await register.school(urn, scope: principal.scope, logger: context.logger),
            principal.canSee(school: urn, currentTrust: school.trustID)
        else { throw APIError.notFound("the school") }
        return school
    }
}

extension TrustBody {
    init(_ record: TrustRecord) {
        self.init(
            trustID: record.id.uuidString, name: record.name, giasCode: record.giasCode, createdAt: record.createdAt,
            schoolCount: record.schoolCount)
    }
}
