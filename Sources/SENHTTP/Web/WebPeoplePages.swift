import Foundation
import HTTPTypes
import Hummingbird
import SENAPI
import SENCore
import SENStore

/// People, for the people who manage them (an administrator; a trust executive, for its trust): invitations, the
/// people waiting for a role, members and their removal, the email domains and tenants the trust signs in from, and
/// the recent audit trail. Through `PeopleController`'s own handlers, so the checks are the API's.
extension WebController {
    struct PeopleView {
        struct SchoolBox { let urn: Int; let name: String; let checked: Bool }
        struct Member { let id: String; let name: String; let email: String; let role: String; let scope: String; let lastSignIn: String; let removable: Bool }
        struct Invitation { let id: String; let email: String; let role: String; let scope: String; let status: String; let expires: String; let open: Bool }
        struct Waiting { let id: String; let name: String; let email: String; let from: String; let lastSignIn: String }
        struct Event { let at: String; let what: String; let email: String; let by: String }
        let chrome: Chrome
        let admin: Bool
        let trustName: String?
        let roles: [Choice]
        let trusts: [Choice]
        let schools: [SchoolBox]
        let email: String
        let urnsText: String
        let organisation: String
        let errors: [ErrorLink]
        let hasErrors: Bool
        let emailError: String?
        let roleError: String?
        let trustError: String?
        let urnsError: String?
        let organisationError: String?
        let notice: String?
        let members: [Member]
        let invitations: [Invitation]
        let waiting: [Waiting]
        /// The trust's email domains and tenants, as the administrator set them.
        let domains: [String]
        let events: [Event]
    }

    typealias FieldErrors = [(field: String, message: String)]

    func peopleView(_ context: AuthenticatedContext, form: WebForm = WebForm(), errors: FieldErrors = [], notice: String? = nil) async throws -> PeopleView {
        let principal = try context.require(.admin, .trustExecutive)
        let admin = principal.role == .admin
        var trustNames: [String: String] = [:]
        var trustOptions: [Choice] = []
        var schoolNames: [Int: String] = [:]
        var schools: [PeopleView.SchoolBox] = []
        var sources = SignInSourcesBody(emailDomains: [], tenants: [])
        if admin {
            for trust in try await register.trusts(scope: .platform, logger: context.logger) {
                trustNames[trust.id.uuidString] = trust.name
                trustOptions.append(.init(value: trust.id.uuidString, label: trust.name, selected: form["trust_id"] == trust.id.uuidString))
            }
        } else if let trust = principal.trustID {
            let chosen = Set(form.all("urns"))
            for school in try await register.schools(of: trust, only: nil, scope: principal.scope, logger: context.logger) {
                schoolNames[school.urn.value] = school.name
                schools.append(.init(urn: school.urn.value, name: school.name, checked: chosen.contains(String(school.urn.value))))
            }
            let found = try await peopleAPI.people.sources(trust: trust, scope: principal.scope, logger: context.logger)
            sources = SignInSourcesBody(emailDomains: found.emailDomains, tenants: found.tenants)
        }
        func scope(_ trust: String?, _ urns: [Int]) -> String {
            var parts: [String] = []
            if admin, let trust { parts.append(trustNames[trust] ?? "a trust") }
            if !urns.isEmpty { parts.append(urns.map { urn in schoolNames[urn].map { "\($0) (\(urn))" } ?? "URN \(urn)" }.joined(separator: ", ")) }
            return parts.isEmpty ? (admin ? "All trusts" : "The whole trust") : parts.joined(separator: "; ")
        }
        let memberships = try await peopleAPI.memberships(context: context)
        // Who acted, by membership: the names of the trust's members (a removed member's actions show their email).
        var names: [String: String] = [:]
        var emails: [String: String] = [:]
        for m in memberships.memberships {
            names[m.id] = m.name.isEmpty ? m.email : m.name
            emails[m.personID] = m.email
        }
        let invitations = try await peopleAPI.invitations(context: context)
        let events = try await peopleAPI.events(limit: 30, context: context)
        var byField: [String: String] = [:]
        for error in errors where byField[error.field] == nil { byField[error.field] = error.message }
        let roles: [Role] = admin ? [.trustExecutive, .schoolLeader, .researcher, .admin] : [.schoolLeader, .trustExecutive]
        return PeopleView(
            chrome: Chrome("People", context, section: "People"), admin: admin,
            trustName: admin ? nil : context.webSession?.actingAs,
            roles: roles.map { .init(value: $0.rawValue, label: $0.label, selected: form["role"] == $0.rawValue) },
            trusts: trustOptions, schools: schools, email: form["email"] ?? "", urnsText: form["urns_text"] ?? "",
            organisation: form["organisation"] ?? "",
            errors: errors.map { .init(href: "#" + $0.field, message: $0.message) }, hasErrors: !errors.isEmpty,
            emailError: byField["email"], roleError: byField["role"], trustError: byField["trust_id"], urnsError: byField["urns"],
            organisationError: byField["organisation"], notice: notice,
            members: memberships.memberships.map { m in
                .init(
                    id: m.id, name: m.name.isEmpty ? m.email : m.name, email: m.email, role: Role(rawValue: m.role)?.label ?? m.role,
                    scope: scope(m.trustID, m.urns), lastSignIn: m.lastSignInAt.map(Show.shortDateTime) ?? "Never",
                    removable: m.id != principal.tokenID.uuidString)
            },
            invitations: invitations.invitations.map { i in
                .init(
                    id: i.id, email: i.email, role: Role(rawValue: i.role)?.label ?? i.role,
                    scope: scope(i.trustID, i.urns) + (i.organisation.map { "; only for DfE organisation \($0)" } ?? ""),
                    status: ["open": "Open", "accepted": "Accepted", "expired": "Expired", "withdrawn": "Withdrawn"][i.status] ?? i.status,
                    expires: Show.shortDateTime(i.expiresAt), open: i.status == "open")
            },
            waiting: memberships.waiting.map { w in
                .init(
                    id: w.personID, name: w.name.isEmpty ? w.email : w.name, email: w.email,
                    from: w.tenant.map { "tenant \($0)" } ?? (ConsumerEmailDomains.domain(of: w.email) ?? ""),
                    lastSignIn: w.lastSignInAt.map(Show.shortDateTime) ?? "")
            },
            domains: sources.emailDomains + sources.tenants.map { "tenant \($0)" },
            events: events.events.map { e in
                .init(at: Show.shortDateTime(e.at), what: Self.eventText(e), email: e.email ?? e.personID.flatMap { emails[$0] } ?? "", by: Self.actorText(e, names: names, you: principal.tokenID))
            })
    }

    /// Who did what a line of the trail records: the person themselves (a sign-in, an acceptance), a member by
    /// name, "you", an API token, or the operator's command.
    static func actorText(_ event: IdentityEventBody, names: [String: String], you: TokenID) -> String {
        if ["sign_in", "sign_in_refused", "sign_out", "invitation_accepted"].contains(event.kind) { return "Themselves" }
        guard let actor = event.actor else { return "The operator" }
        if actor == you.uuidString { return "You" }
        if let name = names[actor] { return name }
        if case .object(let fields) = event.detail, case .string("admin")? = fields["by_role"] { return "The administrator" }
        return "An API token or a former member"
    }

    /// An API error's field messages as the web app words them: roles named as people read them.
    static func friendly(_ error: ProblemDetails.FieldError) -> String {
        switch (error.pointer ?? "", error.code) {
        case ("/urns", "required"): return "Choose at least one school for a school leader"
        case ("/urns", "not_allowed"): return "A trust executive acts for the whole trust: clear the schools, or choose the school leader role"
        case ("/trust_id", "required"): return "Choose the trust for a trust executive or a school leader"
        case ("/trust_id", "not_allowed"): return "An administrator or a researcher has no trust: choose No trust"
        default: return ReturnFormView.capitalised(error.message)
        }
    }

    static func eventText(_ event: IdentityEventBody) -> String {
        var detail: [String: String] = [:]
        if case .object(let fields) = event.detail {
            for (key, value) in fields { if case .string(let text) = value { detail[key] = text } }
        }
        let role = detail["role"].flatMap { Role(rawValue: $0)?.label.lowercased() } ?? "a role"
        switch event.kind {
        case "sign_in":
            // DfE Sign-in says which organisation (a URN or a trust's UID) the person signed in for.
            let organisation = detail["organisations"].flatMap { $0.isEmpty ? nil : " for DfE organisation \($0)" } ?? ""
            return detail["outcome"] == "no_role" ? "Signed in, with no role yet" : "Signed in as \(role)\(organisation)"
        case "sign_in_refused": return "Sign-in refused (\(Show.words(detail["refusal"] ?? "unknown").lowercased()))"
        case "sign_out": return "Signed out"
        case "invitation_created": return "Invited as \(role)"
        case "invitation_accepted": return "Accepted an invitation as \(role)"
        case "invitation_revoked": return "Invitation as \(role) withdrawn"
        case "membership_granted": return "Given the role of \(role)"
        case "membership_removed": return "Role of \(role) removed"
        case "sign_in_sources_changed": return "Sign-in domains and tenants changed"
        case "cli_token_issued": return "Command-line token issued"
        default: return Show.words(event.kind)
        }
    }

    @Sendable func peoplePage(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let notice = request.uri.queryParameters.get("done").flatMap { Self.peopleNotices[$0] }
        return renderer.page("people", try await peopleView(context, notice: notice))
    }

    static let peopleNotices = [
        "invited": "Invitation sent. It is accepted when that person signs in with that email address.",
        "withdrawn": "Invitation withdrawn.", "removed": "Role removed. Their sessions in it end at their next request.",
        "granted": "Role given.",
    ]

    /// The errors of an API call, on the form's fields.
    static func formErrors(_ error: APIError, fields: [String: String], fallback: String) -> FieldErrors {
        var errors: FieldErrors = error.errors.map { e in
            (fields.first { (e.pointer ?? "").hasPrefix($0.key) }?.value ?? fallback, friendly(e))
        }
        if error.errors.isEmpty { errors.append((fallback, ReturnFormView.capitalised(error.detail))) }
        return errors
    }

    /// Reads the schools of a form: ticked boxes, and for an administrator URNs typed with commas.
    static func formURNs(_ form: WebForm, errors: inout FieldErrors) -> [URN] {
        var urns: [URN] = form.all("urns").compactMap { URN($0) }
        for part in (form["urns_text"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }) {
            if let urn = URN(part) { urns.append(urn) } else { errors.append(("urns", "'\(part)' is not a URN (six digits)")) }
        }
        return urns
    }

    @Sendable func invitePerson(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var request = request
        let form = try await WebForm.read(&request)
        var errors: FieldErrors = []
        let role = Role(rawValue: form["role"] ?? "")
        if role == nil { errors.append(("role", "Choose a role")) }
        var trust: TrustID?
        if let text = form["trust_id"], !text.isEmpty {
            trust = TrustID(text)
            if trust == nil { errors.append(("trust_id", "Choose a trust")) }
        }
        let urns = Self.formURNs(form, errors: &errors)
        if let role, errors.isEmpty {
            let organisation = (form["organisation"] ?? "").trimmingASCIIWhitespace()
            do {
                _ = try await peopleAPI.invite(
                    NewInvitation(
                        email: form["email"] ?? "", role: role, trustID: trust, urns: urns.isEmpty ? nil : urns,
                        organisation: organisation.isEmpty ? nil : organisation),
                    context: context)
                return Response(status: .seeOther, headers: [.location: "/people?done=invited"])
            } catch let error as APIError where error.status == .unprocessableContent || error.status == .forbidden {
                errors += Self.formErrors(
                    error, fields: ["/email": "email", "/trust_id": "trust_id", "/urns": "urns", "/organisation": "organisation", "/role": "role"],
                    fallback: "role")
            }
        }
        return renderer.page("people", try await peopleView(context, form: form, errors: errors), status: .unprocessableContent)
    }

    @Sendable func withdrawInvitation(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await peopleAPI.withdraw(id: context.parameters.get("id") ?? "", context: context)
        return Response(status: .seeOther, headers: [.location: "/people?done=withdrawn"])
    }

    @Sendable func removeMembership(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await peopleAPI.remove(id: context.parameters.get("id") ?? "", context: context)
        return Response(status: .seeOther, headers: [.location: "/people?done=removed"])
    }

    /// An administrator sets a trust's email domains and tenants, on the trust's administration page.
    @Sendable func saveSignInSources(_ request: Request, context: TrustContext) async throws -> Response {
        var request = request
        let form = try await WebForm.read(&request)
        func lines(_ name: String) -> [String] {
            (form[name] ?? "").split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "," }).map { $0.trimmingASCIIWhitespace() }.filter { !$0.isEmpty }
        }
        do {
            _ = try await peopleAPI.setSources(
                SignInSourcesBody(emailDomains: lines("domains"), tenants: lines("tenants")), trust: context.target, context: context)
            return Response(status: .seeOther, headers: [.location: "/admin/trusts/\(context.target)?done=sources"])
        } catch let error as APIError where error.status == .unprocessableContent {
            let errors = Self.formErrors(error, fields: ["/email_domains": "domains", "/tenants": "tenants"], fallback: "domains")
            return renderer.page("admin-trust", try await adminTrustView(request, context: context, form: form, errors: errors), status: .unprocessableContent)
        }
    }

    // MARK: Giving a waiting person a role

    struct GrantView {
        let chrome: Chrome
        let person: String
        let personID: String
        let roles: [Choice]
        let schools: [PeopleView.SchoolBox]
        let errors: [ErrorLink]
        let hasErrors: Bool
        let roleError: String?
        let urnsError: String?
    }

    func grantView(_ context: AuthenticatedContext, person: String, form: WebForm = WebForm(), errors: FieldErrors = []) async throws -> GrantView {
        let principal = try context.require(.trustExecutive)
        guard let trust = principal.trustID, let id = UUID(uuidString: person),
            let waiting = try await peopleAPI.memberships(context: context).waiting.first(where: { $0.personID == id.uuidString })
        else { throw APIError.notFound("the person") }
        let chosen = Set(form.all("urns"))
        let schools = try await register.schools(of: trust, only: nil, scope: principal.scope, logger: context.logger).map {
            PeopleView.SchoolBox(urn: $0.urn.value, name: $0.name, checked: chosen.contains(String($0.urn.value)))
        }
        var byField: [String: String] = [:]
        for error in errors where byField[error.field] == nil { byField[error.field] = error.message }
        let name = waiting.name.isEmpty ? waiting.email : "\(waiting.name) (\(waiting.email))"
        return GrantView(
            chrome: Chrome("Give \(waiting.name.isEmpty ? waiting.email : waiting.name) a role", context, section: "People"), person: name,
            personID: waiting.personID,
            roles: [Role.schoolLeader, .trustExecutive].map { .init(value: $0.rawValue, label: $0.label, selected: (form["role"] ?? Role.schoolLeader.rawValue) == $0.rawValue) },
            schools: schools, errors: errors.map { .init(href: "#" + $0.field, message: $0.message) }, hasErrors: !errors.isEmpty,
            roleError: byField["role"], urnsError: byField["urns"])
    }

    @Sendable func grantPage(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        renderer.page("people-grant", try await grantView(context, person: context.parameters.get("person") ?? ""))
    }

    @Sendable func grantRole(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let person = context.parameters.get("person") ?? ""
        var request = request
        let form = try await WebForm.read(&request)
        var errors: FieldErrors = []
        let role = Role(rawValue: form["role"] ?? "")
        if role == nil { errors.append(("role", "Choose a role")) }
        let urns = Self.formURNs(form, errors: &errors)
        if let role, let id = UUID(uuidString: person), errors.isEmpty {
            do {
                _ = try await peopleAPI.grant(NewMembership(personID: id, role: role, urns: urns.isEmpty ? nil : urns), context: context)
                return Response(status: .seeOther, headers: [.location: "/people?done=granted"])
            } catch let error as APIError where error.status == .unprocessableContent || error.status == .forbidden {
                errors += Self.formErrors(error, fields: ["/urns": "urns", "/role": "role"], fallback: "role")
            }
        }
        return renderer.page("people-grant", try await grantView(context, person: person, form: form, errors: errors), status: .unprocessableContent)
    }
}
