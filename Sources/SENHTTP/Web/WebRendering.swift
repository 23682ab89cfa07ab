import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import NIOCore
import SENAPI
import SENCore

/// The web app's templates (Resources/templates, Mustache), loaded once at start. Every page is a template that
/// fills the blocks of `layout`.
struct WebRenderer: Sendable {
    let library: MustacheLibrary

    init() {
        MustacheContentTypes.register(HTMLText(), named: HTMLText.name)
        var library = MustacheLibrary()
        let folder = Bundle.module.resourceURL!.appendingPathComponent("templates")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for file in files where file.hasSuffix(".mustache") {
            let text = (try? String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)) ?? ""
            do {
                // Every template escapes with HTMLText (the same five characters as Mustache's own HTML escape).
                let template = try MustacheTemplate(string: "{{% CONTENT_TYPE: \(HTMLText.name)}}" + text)
                library.register(template, named: String(file.dropLast(".mustache".count)))
            } catch {
                // The templates ship with the server; one that does not parse is a build error the tests catch.
                preconditionFailure("template \(file) does not parse: \(error)")
            }
        }
        self.library = library
    }

    /// The page `template` for `view`, as HTML.
    func page(_ template: String, _ view: Any, status: HTTPResponse.Status = .ok) -> Response {
        guard let html = library.render(Self.tree(view) ?? view, withTemplate: template) else {
            preconditionFailure("no template named \(template)")
        }
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The view as dictionaries and arrays, read once with `Mirror`. Mustache finds `{{name}}` in a struct by
    /// reflecting over all its stored properties, again for every name on every row, and again at each level of the
    /// context stack it passes; on the comparison page of a 100-school trust that was 70% of the request's CPU
    /// (Docs/performance.md, item 6). A `[String: Any]` answers by hash lookup (swift-mustache's `MustacheParent`).
    /// Same lookups as before: a nil optional is left out, so a name falls through to the enclosing context as it
    /// did; values with a text of their own (strings, numbers, identifiers, anything `CustomStringConvertible`)
    /// stay as they are.
    static func tree(_ value: Any) -> Any? {
        switch value {
        case is String, is Bool, is Int, is Double:
            return value
        default:
            break
        }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            return mirror.children.first.flatMap { tree($0.value) }
        case .collection:
            return mirror.children.compactMap { tree($0.value) }
        case .struct, .class:
            if value is any CustomStringConvertible || value is any MustacheParent || value is MustacheLambda || value is any MustacheCustomRenderable {
                return value
            }
            var fields: [String: Any] = [:]
            fields.reserveCapacity(Int(mirror.children.count))
            for child in mirror.children {
                if let label = child.label, let field = tree(child.value) { fields[label] = field }
            }
            return TemplateObject(fields)
        default:
            return value
        }
    }
}

/// A view's fields for Mustache. A final class with its own conformance rather than `[String: Any]`, whose
/// conditional conformance to `MustacheParent` the runtime checks again on every name Mustache looks up (a third of
/// the comparison page's CPU time; Docs/performance.md).
final class TemplateObject: MustacheParent {
    let fields: [String: Any]

    init(_ fields: [String: Any]) { self.fields = fields }

    func child(named name: String) -> Any? { fields[name] }
}

/// HTML escaping for the templates: the characters and entities of swift-mustache's own (`< > & " '`), by
/// `MarkupText`. Mustache's walks the text by `Character` (grapheme clusters), which was a tenth of the comparison
/// page's CPU.
struct HTMLText: MustacheContentType {
    static let name = "SENSTAT_HTML"

    func escapeText(_ text: String) -> String {
        Self.escape(text)
    }

    static func escape(_ text: String) -> String {
        MarkupText.escape(text)
    }
}

/// One option of a select, radio group or checkbox list.
struct Choice: Sendable {
    let value: String
    let label: String
    let selected: Bool
}

/// A line of a form's error summary: the message, linking to the field it is about.
struct ErrorLink: Sendable {
    let href: String
    let message: String
}

/// A figure as a page shows it under disclosure control: the number, or `c` where it is hidden.
struct ShownCell: Sendable {
    let text: String
    let suppressed: Bool

    init(_ value: ShownValue?) {
        switch value {
        case .value(let v)?: (text, suppressed) = (v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v), false)
        case .suppressed?: (text, suppressed) = ("c", true)
        case nil: (text, suppressed) = ("", false)
        }
    }
}

/// What every page's layout shows: who is signed in, the navigation for their role, and the form token the
/// sign-out button (and every form) carries.
struct Chrome: Sendable {
    struct Link: Sendable {
        let href: String
        let label: String
        let current: Bool
    }
    let title: String
    let signedIn: Bool
    let who: String
    let csrf: String
    let nav: [Link]
    // Mustache reads stored properties only (Mirror).
    let hasNav: Bool

    static func signedOut(_ title: String) -> Chrome { Chrome(title: title, signedIn: false, who: "", csrf: "", nav: []) }

    init(title: String, signedIn: Bool, who: String, csrf: String, nav: [Link]) {
        self.title = title
        self.signedIn = signedIn
        self.who = who
        self.csrf = csrf
        self.nav = nav
        self.hasNav = !nav.isEmpty
    }

    /// The chrome for `principal`'s pages; `section` marks the current navigation item.
    init(_ title: String, _ context: some AuthenticatedRequestContext, section: String) {
        let principal = context.principal
        var nav: [(String, String)] = []
        switch principal.role {
        case .trustExecutive:
            if let trust = principal.trustID {
                nav = [
                    ("/trusts/\(trust)", "This term"), ("/trusts/\(trust)/comparison", "Comparison"), ("/trusts/\(trust)/import", "Import"),
                    ("/trusts/\(trust)/senco", "SENCO and progress"), ("/trusts/\(trust)/surveys", "Surveys"), ("/people", "People"),
                    ("/tokens", "Tokens"),
                ]
            }
        case .schoolLeader: nav = [("/schools", "Your schools")]
        case .researcher: nav = [("/research", "Research")]
        case .admin: nav = [("/admin", "Administration"), ("/people", "People"), ("/tokens", "Tokens")]
        }
        self.init(
            title: title, signedIn: true, who: context.webSession?.actingAs ?? principal.role.label, csrf: context.webSession?.csrf ?? "",
            nav: nav.map { Link(href: $0.0, label: $0.1, current: $0.1 == section) })
    }
}

extension Role {
    /// How the web app names the role.
    var label: String {
        switch self {
        case .admin: "Administrator"
        case .trustExecutive: "Trust executive"
        case .schoolLeader: "School leader"
        case .researcher: "Researcher"
        }
    }
}

/// Headers of every web app page: a content security policy that allows only this server's own stylesheet,
/// script and images (no inline script), no framing, forms posting only here, and referrers only to this site.
struct WebHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var policy: String { policy(formAction: nil) }

    /// The policy, with one more origin that forms may post (or be redirected) to: the identity provider's
    /// end-session endpoint, for the sign-out form of a session signed in with it.
    static func policy(formAction origin: String?) -> String {
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'\(origin.map { " " + $0 } ?? ""); frame-ancestors 'none'; base-uri 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if response.headers[.contentSecurityPolicy] == nil { response.headers[.contentSecurityPolicy] = Self.policy }
        // Not no-referrer: under it browsers send `Origin: null` with a form, and the app could not tell its own
        // forms from another site's. Other sites still get nothing.
        response.headers[.referrerPolicy] = "same-origin"
        return response
    }
}

/// The pages of a session signed in with an identity provider: their sign-out form is answered with a redirect to
/// the provider's end-session endpoint (RP-initiated logout), which `form-action 'self'` alone would block.
struct ProviderSignOutPolicy: RouterMiddleware {
    typealias Context = AuthenticatedContext
    let identity: SignInController

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if context.webSession?.providerID != nil, response.headers[.contentSecurityPolicy] == nil,
            let origin = await identity.endSessionOrigin(for: context.webSession, logger: context.logger)
        {
            response.headers[.contentSecurityPolicy] = WebHeadersMiddleware<Context>.policy(formAction: origin)
        }
        return response
    }
}

/// Errors on the web app's pages are pages: the same classification as the API's problem+json (status, detail,
/// field errors, Allow, Retry-After), shown as HTML with a way back.
struct HTMLErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let problems: ProblemMiddleware<Context>
    let renderer: WebRenderer
    /// The page's chrome: signed out, or (inside the signed-in pages) the person's own.
    let chrome: @Sendable (String, Context) -> Chrome

    init(allowed: AllowedMethods, renderer: WebRenderer, chrome: @escaping @Sendable (String, Context) -> Chrome) {
        self.problems = ProblemMiddleware(allowed: allowed)
        self.renderer = renderer
        self.chrome = chrome
    }

    struct View {
        let chrome: Chrome
        let status: Int
        let heading: String
        let detail: String
        let requestID: String
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = try problems.problem(for: error, request: request, context: context)
            let status = problem.status
            let heading: String
            switch status {
            case .notFound: heading = "Page not found"
            case .forbidden: heading = "You cannot do that"
            case .methodNotAllowed: heading = "That cannot be done to this page"
            case .serviceUnavailable: heading = "Sorry, the service is unavailable"
            case .internalServerError: heading = "Sorry, there is a problem with the service"
            default: heading = status.reasonPhrase
            }
            let detail =
                status == .notFound
                ? "If you typed the web address, check it is correct. If you followed a link, the page may belong to another trust, or it may have moved."
                : problem.detail ?? status.reasonPhrase
            var response = renderer.page(
                "error", View(chrome: chrome(heading, context), status: Int(status.code), heading: heading, detail: detail, requestID: context.id),
                status: status)
            for field in problem.headers where field.name != .contentType { response.headers.append(field) }
            return response
        }
    }
}

/// A browser asking for a page that does not exist (outside `/v1` and the operational endpoints) gets the web app's
/// "page not found" page, not the API's problem+json.
struct BrowserNotFoundMiddleware<Context: RequestContext>: RouterMiddleware {
    let renderer: WebRenderer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path
            let api = ["/v1", "/health", "/metrics", "/openapi.yaml"].contains { path == $0 || path.hasPrefix($0 + "/") }
            guard !api, request.method == .get || request.method == .head, request.headers[.accept]?.contains("text/html") == true else { throw error }
            let view = HTMLErrorMiddleware<Context>.View(
                chrome: .signedOut("Page not found"), status: 404, heading: "Page not found",
                detail: "If you typed the web address, check it is correct. If you followed a link, the page may have moved.", requestID: context.id)
            var response = renderer.page("error", view, status: .notFound)
            response.headers[.contentSecurityPolicy] = WebHeadersMiddleware<Context>.policy
            return response
        }
    }
}
