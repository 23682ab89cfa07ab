import Foundation
import HTTPTypes
import Hummingbird
import SENAPI
import SENCore
import SENStore

/// Tokens, for the people who issue them: an administrator (any role), a trust executive (its school leaders).
/// Through `AccountsController`'s own create, list and revoke.
extension WebController {
    struct TokensView {
        struct SchoolBox { let urn: Int; let name: String; let checked: Bool }
        struct Row { let id: String; let role: String; let scope: String; let label: String; let created: String; let expires: String; let used: String; let revoked: Bool; let active: Bool; let revocable: Bool }
        let chrome: Chrome
        let admin: Bool
        let roles: [Choice]
        let trusts: [Choice]
        let schools: [SchoolBox]
        let urnsText: String
        let label: String
        let expires: String
        let errors: [ErrorLink]
        let hasErrors: Bool
        let fieldErrors: [String: String]
        let roleError: String?
        let trustError: String?
        let urnsError: String?
        let labelError: String?
        let expiresError: String?
        let issued: String?
        let issuedRole: String
        let tokens: [Row]
    }

    func tokensView(_ context: AuthenticatedContext, form: WebForm = WebForm(), errors: [(field: String, message: String)] = [], issued: TokenBody? = nil)
        async throws -> TokensView
    {
        let principal = context.principal
        let admin = principal.role == .admin
        let list = try await accounts.list(context: context)
        var trustNames: [String: String] = [:]
        var trustOptions: [Choice] = []
        if admin {
            for trust in try await register.trusts(scope: .platform, logger: context.logger) {
                trustNames[trust.id.uuidString] = trust.name
                trustOptions.append(.init(value: trust.id.uuidString, label: trust.name, selected: form["trust_id"] == trust.id.uuidString))
            }
        }
        var schools: [TokensView.SchoolBox] = []
        if let trust = principal.trustID, principal.role == .trustExecutive {
            let chosen = Set(form.all("urns"))
            schools = try await register.schools(of: trust, only: nil, scope: principal.scope, logger: context.logger).map {
                .init(urn: $0.urn.value, name: $0.name, checked: chosen.contains(String($0.urn.value)))
            }
        }
        let roles: [Role] = admin ? [.trustExecutive, .schoolLeader, .researcher, .admin] : [.schoolLeader]
        var byField: [String: String] = [:]
        for error in errors where byField[error.field] == nil { byField[error.field] = error.message }
        return TokensView(
            chrome: Chrome("Tokens", context, section: "Tokens"), admin: admin,
            roles: roles.map { .init(value: $0.rawValue, label: $0.label, selected: form["role"] == $0.rawValue) },
            trusts: trustOptions, schools: schools, urnsText: form["urns_text"] ?? "", label: form["label"] ?? "", expires: form["expires"] ?? "",
            errors: errors.map { .init(href: "#" + $0.field, message: $0.message) }, hasErrors: !errors.isEmpty, fieldErrors: byField,
            roleError: byField["role"], trustError: byField["trust_id"], urnsError: byField["urns"], labelError: byField["label"],
            expiresError: byField["expires"], issued: issued?.token, issuedRole: issued.flatMap { Role(rawValue: $0.role)?.label.lowercased() } ?? "",
            tokens: list.tokens.reversed().map { t in
                let scope = [t.trustID.map { trustNames[$0] ?? "this trust" }, t.urns.isEmpty ? nil : "schools \(t.urns.map(String.init).joined(separator: ", "))"]
                    .compactMap { $0 }.joined(separator: "; ")
                return .init(
                    id: t.id, role: Role(rawValue: t.role)?.label ?? t.role, scope: scope.isEmpty ? "all trusts" : scope, label: t.label,
                    created: Show.date(t.createdAt), expires: Show.date(t.expiresAt), used: Show.date(t.lastUsedAt), revoked: t.revokedAt != nil,
                    active: t.revokedAt == nil && (t.expiresAt.map { $0 > .now } ?? true),
                    // What the person may revoke: an administrator any token, a trust executive school leaders' (as the API).
                    revocable: admin || t.role == Role.schoolLeader.rawValue)
            })
    }

    @Sendable func tokensPage(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        renderer.page("tokens", try await tokensView(context))
    }

    /// A new token from the form; its secret is shown on the page that answers, once.
    @Sendable func createToken(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var request = request
        let form = try await WebForm.read(&request)
        var errors: [(field: String, message: String)] = []
        let role = Role(rawValue: form["role"] ?? "")
        if role == nil { errors.append(("role", "Choose a role")) }
        var trust: TrustID?
        if let text = form["trust_id"], !text.isEmpty {
            trust = TrustID(text)
            if trust == nil { errors.append(("trust_id", "Choose a trust")) }
        }
        var urns: [URN] = form.all("urns").compactMap { URN($0) }
        for part in (form["urns_text"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }) {
            if let urn = URN(part) { urns.append(urn) } else { errors.append(("urns", "'\(part)' is not a URN (six digits)")) }
        }
        var expires: String?
        if let text = form["expires"], !text.isEmpty {
            if let date = CalendarDate(iso: text) { expires = "\(date)T00:00:00Z" } else { errors.append(("expires", "Give the date as YYYY-MM-DD, for example 2027-07-31")) }
        }
        if let role, errors.isEmpty {
            do {
                let issued = try await accounts.create(
                    NewToken(role: role, trustID: trust, urns: urns.isEmpty ? nil : urns, label: form["label"], expiresAt: expires), context: context)
                return renderer.page("tokens", try await tokensView(context, issued: issued), status: .created)
            } catch let error as APIError where error.status == .unprocessableContent || error.status == .forbidden {
                let fields = ["/trust_id": "trust_id", "/urns": "urns", "/label": "label", "/expires_at": "expires", "/role": "role"]
                errors += error.errors.map { e in
                    (fields.first { (e.pointer ?? "").hasPrefix($0.key) }?.value ?? "role", Self.friendly(e))
                }
                if error.errors.isEmpty { errors.append(("role", ReturnFormView.capitalised(error.detail))) }
            }
        }
        return renderer.page("tokens", try await tokensView(context, form: form, errors: errors), status: .unprocessableContent)
    }

    @Sendable func revokeToken(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await accounts.revoke(id: context.parameters.get("id") ?? "", context: context)
        return Response(status: .seeOther, headers: [.location: "/tokens"])
    }
}
