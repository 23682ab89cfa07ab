import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SENAPI
import SENCore
import SENStore

/// `senstat login --web` (as `gh auth login --web` does it; RFC 8252 with PKCE): the CLI listens on a loopback port
/// and opens the browser at `/cli/authorize`; a person signed in here allows it; the browser is sent back to the
/// loopback port with a one-time code; the CLI exchanges code and PKCE verifier at `/cli/token` for an API token of
/// the membership the person acts in — bound to the person, listed and revocable on their account page, revoked with
/// the membership.
extension WebController {
    /// What the code stands for until the CLI exchanges it (kept server-side, taken once, for two minutes).
    struct CommandLineGrant: Codable {
        let person: UUID
        let membership: TokenID
        let challenge: String
        let redirectURI: String
    }

    static let commandLineCodeLifetime: Duration = .seconds(120)

    struct CommandLineView {
        let chrome: Chrome
        let actingAs: String
        let person: Bool
        let redirectURI: String
        let state: String
        let challenge: String
        let port: String
        let lifetimeDays: Int
    }

    func commandLineRequest(_ fields: (String) -> String?) throws -> (origin: String, redirectURI: String, state: String, challenge: String) {
        let redirect = fields("redirect_uri") ?? "", state = fields("state") ?? "", challenge = fields("code_challenge") ?? ""
        switch LoopbackRedirect.check(redirectURI: redirect, state: state, challenge: challenge, method: fields("code_challenge_method") ?? "") {
        case .success(let origin): return (origin, redirect, state, challenge)
        case .failure(let problem): throw APIError(.badRequest, "This sign-in link for the command line is not valid: \(problem.message).")
        }
    }

    /// "Allow the command line?", for the membership the person acts in. Its form may be redirected to the
    /// loopback origin (and the sign-out form to the provider), nowhere else.
    @Sendable func commandLinePage(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let query = request.uri.queryParameters
        let asked = try commandLineRequest { query.get($0) }
        let session = context.webSession
        let view = CommandLineView(
            chrome: Chrome("Sign in the command line", context, section: ""),
            actingAs: session?.actingAs ?? context.principal.role.label, person: session?.personID != nil, redirectURI: asked.redirectURI,
            state: asked.state, challenge: asked.challenge, port: String(asked.origin.split(separator: ":").last ?? ""),
            lifetimeDays: PeopleStore.commandLineTokenLifetimeDays)
        var response = renderer.page("cli-authorize", view)
        let provider = await identity.endSessionOrigin(for: session, logger: context.logger)
        response.headers[.contentSecurityPolicy] = WebHeadersMiddleware<AuthenticatedContext>.policy(
            formAction: [asked.origin, provider].compactMap { $0 }.joined(separator: " "))
        return response
    }

    /// Allowed: a one-time code to the loopback port. Refused (or not a person's session): the CLI is told so.
    @Sendable func commandLineDecision(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var request = request
        let form = try await WebForm.read(&request)
        let asked = try commandLineRequest { form[$0] }
        func back(_ items: [(String, String)]) -> Response {
            let query = (items + [("state", asked.state)]).map { WebForms.formEncode($0.0) + "=" + WebForms.formEncode($0.1) }.joined(separator: "&")
            return Response(status: .seeOther, headers: [.location: asked.redirectURI + "?" + query, .cacheControl: "no-store"])
        }
        guard form["decision"] == "allow", let person = context.webSession?.personID else {
            return back([("error", "access_denied")])
        }
        let code = PKCE.random()
        let grant = CommandLineGrant(person: person, membership: context.principal.tokenID, challenge: asked.challenge, redirectURI: asked.redirectURI)
        let json = String(decoding: try JSONEncoder().encode(grant), as: UTF8.self)
        _ = try await identity.store.create(key: "cli." + code, json: json, expires: Self.commandLineCodeLifetime, logger: context.logger)
        context.logger.info("command-line sign-in allowed", metadata: ["membership": "\(context.principal.tokenID)"])
        return back([("code", code)])
    }

    // MARK: The person's command-line tokens, on their account page

    struct CommandLineTokenRow { let id: String; let label: String; let created: String; let expires: String; let used: String; let active: Bool }

    func commandLineTokenRows(_ context: AuthenticatedContext) async throws -> [CommandLineTokenRow] {
        guard context.webSession?.personID != nil else { return [] }
        return try await identity.people.commandLineTokens(membership: context.principal.tokenID, scope: context.principal.scope, logger: context.logger).map {
            .init(
                id: $0.id.uuidString, label: $0.label, created: Show.shortDateTime($0.createdAt), expires: $0.expiresAt.map(Show.shortDateTime) ?? "",
                used: $0.lastUsedAt.map(Show.shortDateTime) ?? "Never", active: $0.revokedAt == nil && ($0.expiresAt.map { $0 > .now } ?? true))
        }
    }

    @Sendable func revokeCommandLineToken(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        guard let id = TokenID(context.parameters.get("id") ?? ""),
            try await identity.people.revokeCommandLineToken(id: id, membership: context.principal.tokenID, scope: context.principal.scope, logger: context.logger)
        else { throw APIError.notFound("the token") }
        return Response(status: .seeOther, headers: [.location: "/account"])
    }
}

extension SignInController {
    /// `POST /cli/token`: the code (once, within two minutes), the PKCE verifier and the same redirect URI give the
    /// CLI its token. Every failure is the same 400 (`invalid_grant`), as OAuth's token endpoint answers.
    @Sendable func commandLineToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await request.decodeJSON(CommandLineTokenRequest.self)
        let refused = APIError(.badRequest, "invalid_grant: the code is unknown, used, expired, or does not match the verifier and redirect_uri")
        guard body.code.utf8.count <= 100, let json = try await store.take(key: "cli." + body.code, logger: context.logger),
            let grant = try? JSONDecoder().decode(WebController.CommandLineGrant.self, from: Data(json.utf8)),
            grant.redirectURI == body.redirectURI,
            IdentityTokenCheck.constantTimeEqual(PKCE.challenge(for: body.codeVerifier), grant.challenge)
        else { throw refused }
        let label = String((body.label ?? "").filter { !$0.isNewline && $0.isASCII }.prefix(100)).trimmingASCIIWhitespace()
        guard let issued = try await people.issueCommandLineToken(
            person: grant.person, membership: grant.membership, label: label.isEmpty ? "senstat command line" : label, logger: context.logger)
        else { throw refused }
        context.logger.info("command-line token issued", metadata: ["new_token_id": "\(issued.record.id)", "membership": "\(grant.membership)"])
        let bytes = try JSONEncoder.api.encode(TokenBody(issued.record, token: issued.token))
        return Response(
            status: .created, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
