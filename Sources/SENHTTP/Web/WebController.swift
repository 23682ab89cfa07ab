import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SENAPI
import SENCore
import SENStore
import Synchronization

/// The demo's one-click sign-in (`senstat-server --demo` only): the demo tokens, filled in when the demo loads.
public final class DemoSignIn: Sendable {
    public struct Role: Sendable {
        public let name: String
        public let label: String
        public let token: String
        /// The demo person who holds this role, and the membership the button signs in with.
        public let person: UUID?
        public let membership: TokenID?
        public init(name: String, label: String, token: String, person: UUID? = nil, membership: TokenID? = nil) {
            self.name = name
            self.label = label
            self.token = token
            self.person = person
            self.membership = membership
        }
    }
    private let roles = Mutex<[Role]>([])
    public init() {}
    public func set(_ roles: [Role]) { self.roles.withLock { $0 = roles } }
    var all: [Role] { roles.withLock { $0 } }
}

/// The web app (Docs/web.md): server-rendered pages at `/`, beside the API at `/v1`. Its signed-in pages run in
/// the API's own contexts — `AuthenticatedContext`, and `SchoolContext`/`TrustContext` resolved by the same
/// `SchoolAccess`/`TrustAccess` — and call the API controllers' own functions, so access, validation, statistics
/// and disclosure control are the API's, to the letter. Only the rendering is the web app's.
struct WebController {
    let renderer: WebRenderer
    let sessions: WebSessions
    let identity: SignInController
    let demo: DemoSignIn?
    let tokens: TokenStore
    let register: RegisterStore
    let returns: ReturnsStore
    let benchmarks: BenchmarkStore
    let benchmark: BenchmarkController
    let returnsAPI: ReturnsController
    let returnImport: ReturnImportController
    let research: ResearchController
    let surveysAPI: SurveysController
    let accounts: AccountsController
    let peopleAPI: PeopleController
    let registerAPI: RegisterController
    let adminImports: AdminImportsController
    let surveys: SurveyStore
    /// ε each researcher may spend on one release (shown on the research page).
    let researchBudget: Epsilon
    let rateLimit: RateLimiter

    func addRoutes(to router: Router<AppRequestContext>, allowed: AllowedMethods) {
        let web = router.group()
            .add(middleware: WebHeadersMiddleware())
            .add(middleware: HTMLErrorMiddleware(allowed: allowed, renderer: renderer) { title, _ in .signedOut(title) })
        web.get("assets/:file", use: asset)
        web.get("sign-in", use: signInPage)
        web.post("sign-in", use: signIn)

        let app = web.add(middleware: WebSessionMiddleware(sessions: sessions))
            .group(context: AuthenticatedContext.self)
            .add(middleware: ProviderSignOutPolicy(identity: identity))
            .add(middleware: HTMLErrorMiddleware(allowed: allowed, renderer: renderer) { title, context in Chrome(title, context, section: "") })
            .add(middleware: RateLimitMiddleware(limiter: rateLimit))
        app.get("/", use: home)
        app.get("account", use: account)
        app.post("account/act-as", use: actAs)
        app.post("sign-out", use: signOut)
        app.get("schools", use: schoolList)
        app.get("admin", use: adminPage)
        app.post("admin/gias", use: adminGIAS)
        app.post("admin/national", use: adminNational)
        app.post("admin/releases", use: adminRelease)
        app.post("admin/trusts", use: adminCreateTrust)
        app.trust("admin/trusts/:trust", .admin).get(use: adminTrust).post("sign-in-sources", use: saveSignInSources)
        app.get("tokens", use: tokensPage)
        app.post("tokens", use: createToken)
        app.post("tokens/:id/revoke", use: revokeToken)
        app.get("cli/authorize", use: commandLinePage)
        app.post("cli/authorize", use: commandLineDecision)
        app.post("account/tokens/:id/revoke", use: revokeCommandLineToken)
        app.get("people", use: peoplePage)
        app.post("people/invitations", use: invitePerson)
        app.post("people/invitations/:id/withdraw", use: withdrawInvitation)
        app.post("people/memberships/:id/remove", use: removeMembership)
        app.get("people/waiting/:person", use: grantPage)
        app.post("people/waiting/:person", use: grantRole)
        app.get("research", use: researchPage)
        app.post("research", use: researchQuery)
        app.trust("trusts/:trust", .trustExecutive)
            .get(use: trustHome)
            .get("comparison", use: comparisonPage)
            .get("comparison.csv", use: comparisonCSV)
            .get("completeness.csv", use: completenessCSV)
            .get("import", use: importPage)
            .post("import", use: importReturns)
            .get("surveys", use: surveysHome)
            .get("senco", use: sencoPage)
            .get("surveys/:instrument", use: surveyResults)
            .get("funnel.svg", use: benchmark.funnelPlot)
        app.school("schools/:urn", .trustExecutive, .schoolLeader, register: register)
            .get(use: schoolPage)
        app.school("schools/:urn/returns/:term", .trustExecutive, .schoolLeader, register: register)
            .get(use: returnPage)
            .get("edit", use: editReturnPage)
            .post("edit", use: saveReturn)
        app.school("schools/:urn/surveys/:instrument/:term", .schoolLeader, register: register)
            .get(use: surveyPage)
            .post(use: saveSurvey)
        app.school("schools/:urn/returns/:term", .trustExecutive, register: register)
            .post("approve", use: approve)
            .post("unapprove", use: unapprove)
    }

    // MARK: Assets

    static let assets: [String: (type: String, bytes: ByteBuffer)] = {
        let folder = Bundle.module.resourceURL!.appendingPathComponent("assets")
        var result: [String: (String, ByteBuffer)] = [:]
        for (file, type) in [("senstat.css", "text/css; charset=utf-8"), ("senstat.js", "text/javascript; charset=utf-8")] {
            if let data = try? Data(contentsOf: folder.appendingPathComponent(file)) { result[file] = (type, ByteBuffer(bytes: data)) }
        }
        return result
    }()

    @Sendable func asset(_ request: Request, context: AppRequestContext) throws -> Response {
        guard let name = context.parameters.get("file"), let asset = Self.assets[name] else { throw HTTPError(.notFound) }
        return Response(
            status: .ok, headers: [.contentType: asset.type, .cacheControl: "public, max-age=3600"],
            body: .init(byteBuffer: asset.bytes))
    }

    // MARK: Signing in and out

    struct SignInView {
        let chrome: Chrome
        let next: String
        let error: String?
        let notice: String?
        let demo: [DemoSignIn.Role]
        let hasDemo: Bool
        let providers: [SignInController.Button]
        let hasProviders: Bool
    }

    @Sendable func signInPage(_ request: Request, context: AppRequestContext) -> Response {
        let query = request.uri.queryParameters
        let notice: String? =
            switch query.get("session") {
            case "ended": "Your session has ended. Sign in again to continue."
            case "revoked": "The token this session was signed in with has been revoked or has expired. Sign in again."
            case "signed-out": "You have signed out."
            default: nil
            }
        return signInForm(next: WebForms.safeNext(query.get("next")), error: nil, notice: notice, status: .ok)
    }

    func signInForm(next: String?, error: String?, notice: String?, status: HTTPResponse.Status) -> Response {
        renderer.page(
            "sign-in",
            SignInView(
                chrome: .signedOut("Sign in"), next: next ?? "", error: error, notice: notice, demo: demo?.all ?? [], hasDemo: !(demo?.all.isEmpty ?? true),
                providers: identity.buttons.map { .init(href: $0.href + (next.map { "?next=" + WebForms.formEncode($0) } ?? ""), label: $0.label) },
                hasProviders: !identity.providers.isEmpty),
            status: status)
    }

    /// Sign-in with an API token (or, under `--demo`, a demo role): the token is checked exactly as the API checks
    /// it, and the browser gets a new session that names the token by id.
    @Sendable func signIn(_ request: Request, context: AppRequestContext) async throws -> Response {
        try WebForms.checkSameOrigin(request)
        var request = request
        let form = try await WebForm.read(&request)
        let next = WebForms.safeNext(form["next"])
        var token = (form["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if let name = form["demo"], let role = demo?.all.first(where: { $0.name == name }) {
            // The demo's people sign in as people (in their membership), as a person signing in with a provider does.
            if let person = role.person, let membership = role.membership {
                let cookie = try await sessions.begin(tokenID: membership, person: person, actingAs: role.label, replacing: request)
                context.logger.info("web sign-in (demo person)", metadata: ["membership": "\(membership)"])
                return Response(status: .seeOther, headers: [.location: next ?? "/", .setCookie: cookie.description])
            }
            token = role.token
        }
        guard !token.isEmpty else {
            return signInForm(next: next, error: "Enter your API token", notice: nil, status: .unprocessableContent)
        }
        guard let session = try await tokens.session(for: token, logger: context.logger) else {
            context.logger.notice("web sign-in refused: unknown, expired or revoked token")
            return signInForm(
                next: next, error: "That token is not valid: it may be mistyped, expired or revoked", notice: nil, status: .unauthorized)
        }
        let cookie = try await sessions.begin(tokenID: session.principal.tokenID, replacing: request)
        context.logger.info("web sign-in", metadata: ["token_id": "\(session.principal.tokenID)", "role": "\(session.principal.role.rawValue)"])
        return Response(status: .seeOther, headers: [.location: next ?? "/", .setCookie: cookie.description])
    }

    @Sendable func signOut(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var headers: HTTPFields = [.location: await identity.signOutLocation(for: context.webSession, logger: context.logger)]
        if let person = context.webSession?.personID {
            try await identity.people.record(
                "sign_out", trust: context.principal.trustID, person: person, actor: context.principal.tokenID, logger: context.logger)
        }
        let cookie = try await sessions.end(request) ?? sessions.expiredCookie()
        headers.append(HTTPField(name: .setCookie, value: cookie.description))
        context.logger.info("web sign-out")
        return Response(status: .seeOther, headers: headers)
    }

    @Sendable func completenessCSV(_ request: Request, context: TrustContext) async throws -> Response {
        let term = try await chosenTerm(request, trust: context.trust, context: context)
        let rows = try await returns.completeness(trust: context.trust, term: term, logger: context.logger)
        return csvResponse(TrustReturnsController.completenessCSV(rows), name: "completeness-\(term).csv")
    }

    /// Each role's first page.
    @Sendable func home(_ request: Request, context: AuthenticatedContext) throws -> Response {
        let principal = context.principal
        let target: String
        switch principal.role {
        case .trustExecutive: target = principal.trustID.map { "/trusts/\($0)" } ?? "/sign-in"
        case .schoolLeader: target = principal.urns.count == 1 ? "/schools/\(principal.urns.first!)" : "/schools"
        case .researcher: target = "/research"
        case .admin: target = "/admin"
        }
        return Response(status: .seeOther, headers: [.location: target])
    }

    struct SchoolListView {
        struct School { let urn: Int; let name: String; let phase: String }
        let chrome: Chrome
        let schools: [School]
        let noSchools: Bool
    }

    /// A school leader's schools.
    @Sendable func schoolList(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = try context.require(.schoolLeader)
        var schools: [SchoolListView.School] = []
        for urn in principal.urns.sorted(by: { $0.value < $1.value }) {
            if let school = try await register.school(urn, scope: principal.scope, logger: context.logger),
                principal.canSee(school: urn, currentTrust: school.trustID)
            {
                schools.append(.init(urn: urn.value, name: school.name, phase: Show.phase(school.phase)))
            }
        }
        let view = SchoolListView(chrome: Chrome("Your schools", context, section: "Your schools"), schools: schools, noSchools: schools.isEmpty)
        return renderer.page("schools", view)
    }
}

// MARK: The person's own account

extension Membership {
    /// "Trust executive, Pennine Learning Trust", "School leader, Pennine Learning Trust (2 schools)".
    var label: String {
        role.label + (trustName.map { ", " + $0 } ?? "") + (urns.isEmpty ? "" : " (\(urns.count) school\(urns.count == 1 ? "" : "s"))")
    }
}

extension WebController {
    struct AccountView {
        struct School { let urn: Int; let name: String }
        let chrome: Chrome
        let role: String
        let trust: String?
        let schools: [School]
        let hasSchools: Bool
        let tokenID: String
        let signedIn: String
        let endsBy: String
        let idleMinutes: Int
        /// Signed in with an identity provider: who, and the person's other memberships to act in instead.
        let person: String?
        let others: [Other]
        let hasOthers: Bool
        struct Other { let id: String; let label: String }
        /// The person's command-line tokens in this role (`senstat login --web`).
        let cliTokens: [CommandLineTokenRow]
        /// The organisations the provider said the person signed in for (DfE Sign-in: URNs, trust UIDs).
        let organisations: String?
    }

    /// Who the person is (`GET /v1/me`), for which trust and schools, and their session.
    @Sendable func account(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        var trust: String?
        if let id = principal.trustID { trust = try await register.trust(id, scope: principal.scope, logger: context.logger)?.name ?? id.uuidString }
        var schools: [AccountView.School] = []
        for urn in principal.urns.sorted(by: { $0.value < $1.value }) {
            let name = try await register.school(urn, scope: principal.scope, logger: context.logger)?.name ?? urn.description
            schools.append(.init(urn: urn.value, name: name))
        }
        let began = context.webSession?.signedInAt ?? .now
        let settings = sessions.settings
        var others: [AccountView.Other] = []
        var person: String?
        if let id = context.webSession?.personID {
            let memberships = try await identity.people.memberships(of: id, logger: context.logger)
            others = memberships.filter { $0.id != principal.tokenID }.map { .init(id: $0.id.uuidString, label: $0.label) }
            person = try await identity.people.person(id, logger: context.logger)
        }
        let view = AccountView(
            chrome: Chrome("Your account", context, section: ""), role: principal.role.label, trust: trust, schools: schools,
            hasSchools: !schools.isEmpty, tokenID: principal.tokenID.uuidString,
            signedIn: Show.dateTime(began), endsBy: Show.dateTime(began + TimeInterval(settings.absoluteTimeout.components.seconds)),
            idleMinutes: Int(settings.idleTimeout.components.seconds / 60), person: person, others: others, hasOthers: !others.isEmpty,
            cliTokens: try await commandLineTokenRows(context),
            organisations: context.webSession?.organisations.flatMap { $0.isEmpty ? nil : $0.joined(separator: ", ") })
        return renderer.page("account", view)
    }

    /// A person in two trusts (or two roles) acts in one membership at a time: this switches, to a new session id,
    /// if the membership is the signed-in person's own and still live.
    @Sendable func actAs(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var request = request
        let form = try await WebForm.read(&request)
        guard let person = context.webSession?.personID, let chosen = form["membership"].flatMap({ TokenID($0) }),
            let membership = try await identity.people.memberships(of: person, logger: context.logger).first(where: { $0.id == chosen })
        else { throw APIError.notFound("a live membership of yours with that id") }
        let session = context.webSession
        let cookie = try await sessions.begin(
            tokenID: membership.id, person: person, provider: session?.providerID, idToken: session?.idToken, actingAs: membership.label,
            organisations: session?.organisations, replacing: request)
        try await identity.people.record(
            "sign_in", trust: membership.trustID, person: person, actor: membership.id, detail: ["outcome": "switched", "role": membership.role.rawValue],
            logger: context.logger)
        return Response(status: .seeOther, headers: [.location: "/", .setCookie: cookie.description])
    }
}
