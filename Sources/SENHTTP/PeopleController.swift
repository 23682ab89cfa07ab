import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SENAPI
import SENCore
import SENStore

/// People and their roles, for the people who manage them (Docs/security.md "People, memberships and tokens"): an
/// administrator invites anyone to any role; a trust executive invites school leaders and other executives of its
/// trust, grants roles to the people waiting for one, removes memberships, lists the email domains and tenants the
/// trust signs in from, and reads its trust's part of the audit trail. The web app's people pages call these.
struct PeopleController {
    let people: PeopleStore
    let accounts: AccountsController

    var routes: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.get("invitations", use: invitations)
        routes.post("invitations", use: invite)
        routes.delete("invitations/:id", use: withdraw)
        routes.get("memberships", use: memberships)
        routes.post("memberships", use: grant)
        routes.delete("memberships/:id", use: remove)
        routes.get("identity-events", use: events)
        routes.trust("trusts/:trust/sign-in-sources", .admin, .trustExecutive).get(use: sources)
        // Set by the administrator only, who checks that the trust owns the domain or tenant: listing one would
        // show a trust's executives everyone who signs in from it.
        routes.trust("trusts/:trust/sign-in-sources", .admin).put(use: setSources)
        return routes
    }

    static let defaultInvitationDays = 14
    static let longestInvitationDays = 30

    // MARK: Invitations

    @Sendable func invitations(_ request: Request, context: AuthenticatedContext) async throws -> InvitationList {
        try await invitations(context: context)
    }

    func invitations(context: some AuthenticatedRequestContext) async throws -> InvitationList {
        let principal = try context.require(.admin, .trustExecutive)
        return InvitationList(invitations: try await people.invitations(scope: principal.scope, logger: context.logger).map { InvitationBody($0) })
    }

    @Sendable func invite(_ request: Request, context: AuthenticatedContext) async throws -> EditedResponse<InvitationBody> {
        _ = try context.require(.admin, .trustExecutive)
        var request = request
        let body = try await request.decodeJSON(NewInvitation.self)
        return EditedResponse(status: .created, response: try await invite(body, context: context))
    }

    /// Invites as `body` asks, if the caller may: every field checked, all errors at once.
    func invite(_ body: NewInvitation, context: AuthenticatedContext) async throws -> InvitationBody {
        let principal = try context.require(.admin, .trustExecutive)
        let trust = body.trustID ?? (principal.role == .trustExecutive ? principal.trustID : nil)
        guard principal.mayInvite(role: body.role, trust: trust) else {
            throw APIError(.forbidden, "a \(principal.role.rawValue) may not invite a \(body.role.rawValue) to that trust")
        }
        let urns = body.urns ?? []
        let email = body.email.trimmingASCIIWhitespace().lowercased()
        var errors = accounts.grantErrors(role: body.role, trust: trust, namedTrust: body.trustID != nil, urns: urns, noun: "invitation")
        if ConsumerEmailDomains.domain(of: email) == nil || email.databaseLength > 320 || email.contains(where: \.isWhitespace) {
            errors.append(.init(pointer: "/email", code: "email", message: "'\(body.email)' is not an email address such as head@pennine.sch.uk"))
        }
        let organisation = body.organisation?.trimmingASCIIWhitespace()
        if let organisation, organisation.isEmpty || organisation.databaseLength > 100 {
            errors.append(.init(pointer: "/organisation", code: "length", message: "an organisation (a URN or a trust's UID) has 1 to 100 characters"))
        }
        let days = body.expiresInDays ?? Self.defaultInvitationDays
        if !(1...Self.longestInvitationDays).contains(days) {
            errors.append(.init(pointer: "/expires_in_days", code: "range", message: "an invitation lasts 1 to \(Self.longestInvitationDays) days"))
        }
        if errors.isEmpty {
            errors += try await accounts.registerErrors(trust: trust, urns: urns, principal: principal, logger: context.logger)
        }
        guard errors.isEmpty else { throw APIError.validation(errors) }
        let record = try await people.invite(
            email: email, role: body.role, trust: trust, urns: urns, organisation: organisation, days: days, invitedBy: principal.tokenID,
            scope: principal.role == .admin ? .platform : principal.scope, logger: context.logger)
        context.logger.info("invitation created", metadata: ["invitation": "\(record.id)", "invited_role": "\(body.role.rawValue)"])
        return InvitationBody(record)
    }

    @Sendable func withdraw(_ request: Request, context: AuthenticatedContext) async throws -> HTTPResponse.Status {
        try await withdraw(id: context.parameters.get("id") ?? "", context: context)
        return .noContent
    }

    /// Withdraws an open invitation the caller can see; 404 for any other (accepted, withdrawn, another trust's).
    func withdraw(id text: String, context: AuthenticatedContext) async throws {
        let principal = try context.require(.admin, .trustExecutive)
        guard let id = UUID(uuidString: text),
            try await people.revokeInvitation(id: id, actor: principal.tokenID, scope: principal.scope, logger: context.logger) != nil
        else { throw APIError.notFound("the open invitation") }
    }

    // MARK: Memberships

    @Sendable func memberships(_ request: Request, context: AuthenticatedContext) async throws -> MembershipList {
        try await memberships(context: context)
    }

    func memberships(context: some AuthenticatedRequestContext) async throws -> MembershipList {
        let principal = try context.require(.admin, .trustExecutive)
        let held = try await people.memberships(scope: principal.scope, logger: context.logger)
        var waiting: [WaitingPerson] = []
        if principal.role == .trustExecutive, let trust = principal.trustID {
            waiting = try await people.waiting(trust: trust, logger: context.logger)
        }
        return MembershipList(
            memberships: held.map { MembershipBody($0) },
            waiting: waiting.map {
                WaitingPersonBody(personID: $0.id.uuidString, name: $0.name, email: $0.email, tenant: $0.tenant, lastSignInAt: $0.lastSignInAt)
            })
    }

    @Sendable func grant(_ request: Request, context: AuthenticatedContext) async throws -> EditedResponse<MembershipBody> {
        _ = try context.require(.trustExecutive)
        var request = request
        let body = try await request.decodeJSON(NewMembership.self)
        return EditedResponse(status: .created, response: try await grant(body, context: context))
    }

    /// Grants a role in the caller's trust to a person waiting for one there (or replaces a school leader's schools).
    func grant(_ body: NewMembership, context: AuthenticatedContext) async throws -> MembershipBody {
        let principal = try context.require(.trustExecutive)
        guard let trust = principal.trustID, principal.mayInvite(role: body.role, trust: trust) else {
            throw APIError(.forbidden, "a \(principal.role.rawValue) may not grant a \(body.role.rawValue) role")
        }
        let urns = body.urns ?? []
        var errors = accounts.grantErrors(role: body.role, trust: trust, namedTrust: false, urns: urns, noun: "membership")
        if errors.isEmpty {
            errors += try await accounts.registerErrors(trust: trust, urns: urns, principal: principal, logger: context.logger)
        }
        guard errors.isEmpty else { throw APIError.validation(errors) }
        guard let id = try await people.grant(person: body.personID, role: body.role, urns: urns, actor: principal.tokenID, trust: trust, logger: context.logger),
            let granted = try await people.memberships(scope: principal.scope, logger: context.logger).first(where: { $0.id == id })
        else { throw APIError.notFound("the person") }
        context.logger.info("membership granted", metadata: ["membership": "\(id)", "granted_role": "\(body.role.rawValue)"])
        return MembershipBody(granted)
    }

    @Sendable func remove(_ request: Request, context: AuthenticatedContext) async throws -> HTTPResponse.Status {
        try await remove(id: context.parameters.get("id") ?? "", context: context)
        return .noContent
    }

    /// Removes a membership the caller manages (a trust executive: its trust's school leaders and executives), and
    /// every token issued from it; the person's sessions in it end at their next request. Not the caller's own.
    func remove(id text: String, context: AuthenticatedContext) async throws {
        let principal = try context.require(.admin, .trustExecutive)
        guard let id = TokenID(text) else { throw APIError.notFound("the membership") }
        if id == principal.tokenID {
            throw APIError(.conflict, "you cannot remove the membership you are acting in; ask another executive or the administrator")
        }
        let removed = try await people.removeMembership(
            id: id, onlyRoles: principal.role == .admin ? nil : [.schoolLeader, .trustExecutive], actor: principal.tokenID, scope: principal.scope,
            logger: context.logger)
        guard removed != nil else { throw APIError.notFound("the membership") }
        context.logger.info("membership removed", metadata: ["membership": "\(id)"])
    }

    // MARK: Audit trail and sign-in sources

    static let eventLimit = 1000

    @Sendable func events(_ request: Request, context: AuthenticatedContext) async throws -> IdentityEventList {
        var limit = 200
        if let text = request.uri.queryParameters.get("limit") {
            guard let value = Int(text), (1...Self.eventLimit).contains(value) else {
                throw APIError.validation([.init(pointer: "/limit", code: "range", message: "limit is a whole number from 1 to \(Self.eventLimit)")])
            }
            limit = value
        }
        return try await events(limit: limit, context: context)
    }

    /// The newest lines of the audit trail the caller may read: its trust's for an executive, all for an administrator.
    func events(limit: Int, context: some AuthenticatedRequestContext) async throws -> IdentityEventList {
        let principal = try context.require(.admin, .trustExecutive)
        let events = try await people.events(scope: principal.scope, limit: limit, logger: context.logger)
        return IdentityEventList(
            events: events.map {
                IdentityEventBody(
                    at: $0.at, kind: $0.kind, trustID: $0.trustID?.uuidString, personID: $0.person?.uuidString, actor: $0.actor?.uuidString,
                    email: $0.email, detail: (try? JSONDecoder().decode(JSONValue.self, from: Data($0.detail.utf8))) ?? .object([:]))
            })
    }

    @Sendable func sources(_ request: Request, context: TrustContext) async throws -> SignInSourcesBody {
        let found = try await people.sources(trust: context.target, scope: context.principal.scope, logger: context.logger)
        return SignInSourcesBody(emailDomains: found.emailDomains, tenants: found.tenants)
    }

    @Sendable func setSources(_ request: Request, context: TrustContext) async throws -> SignInSourcesBody {
        var request = request
        let body = try await request.decodeJSON(SignInSourcesBody.self)
        return try await setSources(body, trust: context.target, context: context)
    }

    /// Replaces the trust's email domains and tenants (an administrator's): each checked (never a personal email
    /// service, never one another trust lists), all errors at once.
    func setSources(_ body: SignInSourcesBody, trust: TrustID, context: some AuthenticatedRequestContext) async throws -> SignInSourcesBody {
        let principal = try context.require(.admin)
        var errors: [ProblemDetails.FieldError] = []
        var sources = SignInSources(emailDomains: [], tenants: [])
        for (index, text) in body.emailDomains.enumerated() {
            switch SignInSourceCheck.domain(text) {
            case .success(let value): if !sources.emailDomains.contains(value) { sources.emailDomains.append(value) }
            case .failure(let problem): errors.append(.init(pointer: "/email_domains/\(index)", code: problem.code, message: problem.message(text)))
            }
        }
        for (index, text) in body.tenants.enumerated() {
            switch SignInSourceCheck.tenant(text) {
            case .success(let value): if !sources.tenants.contains(value) { sources.tenants.append(value) }
            case .failure(let problem): errors.append(.init(pointer: "/tenants/\(index)", code: problem.code, message: problem.message(text)))
            }
        }
        if body.emailDomains.count > SignInSourceCheck.limit || body.tenants.count > SignInSourceCheck.limit {
            errors.append(.init(pointer: body.emailDomains.count > SignInSourceCheck.limit ? "/email_domains" : "/tenants", code: "too_many", message: SignInSourceCheck.Problem.tooMany.message("")))
        }
        if errors.isEmpty {
            let taken = try await people.sourcesListedElsewhere(sources, except: trust, logger: context.logger)
            for (index, text) in body.emailDomains.enumerated() {
                if case .success(let value) = SignInSourceCheck.domain(text), let other = taken["email_domain:" + value] {
                    errors.append(.init(pointer: "/email_domains/\(index)", code: "taken", message: "'\(value)' is listed by \(other)"))
                }
            }
            for (index, text) in body.tenants.enumerated() {
                if case .success(let value) = SignInSourceCheck.tenant(text), let other = taken["tenant:" + value] {
                    errors.append(.init(pointer: "/tenants/\(index)", code: "taken", message: "'\(value)' is listed by \(other)"))
                }
            }
        }
        guard errors.isEmpty else { throw APIError.validation(errors) }
        try await people.setSources(sources, trust: trust, actor: principal.tokenID, scope: principal.role == .admin ? .platform : principal.scope, logger: context.logger)
        return SignInSourcesBody(emailDomains: sources.emailDomains.sorted(), tenants: sources.tenants.sorted())
    }
}

extension InvitationBody {
    init(_ record: InvitationRecord, now: Date = .now) {
        let status =
            record.acceptedAt != nil ? "accepted" : record.revokedAt != nil ? "withdrawn" : record.expiresAt <= now ? "expired" : "open"
        self.init(
            id: record.id.uuidString, email: record.email, role: record.role.rawValue, trustID: record.trustID?.uuidString,
            urns: record.urns.map(\.value), organisation: record.organisation, createdAt: record.createdAt, expiresAt: record.expiresAt,
            acceptedAt: record.acceptedAt, revokedAt: record.revokedAt, status: status)
    }
}

extension MembershipBody {
    init(_ record: MembershipRecord) {
        self.init(
            id: record.id.uuidString, personID: record.person.uuidString, name: record.name, email: record.email, role: record.role.rawValue,
            trustID: record.trustID?.uuidString, urns: record.urns.map(\.value), grantedAt: record.grantedAt, lastSignInAt: record.lastSignInAt)
    }
}
