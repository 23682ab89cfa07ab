import AsyncHTTPClient
import Crypto
import Foundation
import JWTKit
import Logging
import NIOHTTP1
import NIOCore
import NIOFoundationCompat
import SENCore

/// One identity provider senstat accepts (Docs/operations.md "Sign-in providers"), from the JSON file named by
/// `SENSTAT_OIDC_PROVIDERS`: an array of these, with snake_case keys.
public struct OIDCProviderSettings: Codable, Sendable, Equatable {
    /// In URLs (`/sign-in/oidc/{id}`): letters, digits and hyphens.
    public var id: String
    /// On the sign-in button: "Microsoft", "Google", "DfE Sign-in".
    public var displayName: String
    /// Exactly as the provider's discovery document and id_tokens give it.
    public var issuer: String
    public var clientID: String
    /// The client secret, read from `client_secret_file` or the environment variable `client_secret_env`; never
    /// written in the file itself.
    public var clientSecret: String?
    public var clientSecretFile: String?
    public var clientSecretEnv: String?
    /// The claim that carries the organisations a person signs in for (DfE Sign-in: `organisation`).
    public var organisationClaim: String?
    /// Entra ID multi-tenant: the tenant ids (`tid`) accepted; nil accepts any.
    public var allowedTenants: [String]?
    /// Google Workspace: the hosted domains (`hd`) accepted; nil accepts any.
    public var allowedHostedDomains: [String]?
    /// Scopes beyond `openid email profile` (DfE Sign-in: `organisation`).
    public var extraScopes: [String]?

    enum CodingKeys: String, CodingKey {
        case id, issuer
        case displayName = "display_name"
        case clientID = "client_id"
        case clientSecretFile = "client_secret_file"
        case clientSecretEnv = "client_secret_env"
        case organisationClaim = "organisation_claim"
        case allowedTenants = "allowed_tenants"
        case allowedHostedDomains = "allowed_hosted_domains"
        case extraScopes = "extra_scopes"
    }

    public init(
        id: String, displayName: String, issuer: String, clientID: String, clientSecret: String?, organisationClaim: String? = nil,
        allowedTenants: [String]? = nil, allowedHostedDomains: [String]? = nil, extraScopes: [String]? = nil
    ) {
        self.id = id
        self.displayName = displayName
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.organisationClaim = organisationClaim
        self.allowedTenants = allowedTenants
        self.allowedHostedDomains = allowedHostedDomains
        self.extraScopes = extraScopes
    }

    /// The providers in `path`, with their secrets read. A mistake stops the server at start with a sentence that
    /// names the provider and the field.
    public static func load(path: String, environment: [String: String]) throws -> [OIDCProviderSettings] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var providers = try JSONDecoder().decode([OIDCProviderSettings].self, from: data)
        var seen: Set<String> = []
        for index in providers.indices {
            let p = providers[index]
            guard !p.id.isEmpty, p.id.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else {
                throw SettingsError("\(path): provider id '\(p.id)' must be lower-case letters, digits and hyphens")
            }
            guard seen.insert(p.id).inserted else { throw SettingsError("\(path): provider id '\(p.id)' is given twice") }
            guard let url = URL(string: p.issuer), url.scheme == "https" || url.host == "127.0.0.1" || url.host == "localhost" else {
                throw SettingsError("\(path): provider '\(p.id)': issuer must be an https URL")
            }
            if p.isMultiTenant && (p.allowedTenants ?? []).isEmpty {
                throw SettingsError("\(path): provider '\(p.id)': a multi-tenant issuer needs allowed_tenants (the tenant ids accepted)")
            }
            if let file = p.clientSecretFile {
                providers[index].clientSecret = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } else if let name = p.clientSecretEnv {
                guard let value = environment[name], !value.isEmpty else {
                    throw SettingsError("\(path): provider '\(p.id)': the environment variable \(name) (client_secret_env) is not set")
                }
                providers[index].clientSecret = value
            }
        }
        return providers
    }

    /// Entra ID's endpoints for any organisation's accounts.
    var isMultiTenant: Bool { issuer.contains("/organizations/") || issuer.contains("/common/") }

    public struct SettingsError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

/// What a provider publishes at `/.well-known/openid-configuration`.
struct ProviderMetadata: Decodable, Sendable {
    let issuer: String
    let authorizationEndpoint: String
    let tokenEndpoint: String
    let jwksURI: String
    let endSessionEndpoint: String?

    enum CodingKeys: String, CodingKey {
        case issuer
        case authorizationEndpoint = "authorization_endpoint"
        case tokenEndpoint = "token_endpoint"
        case jwksURI = "jwks_uri"
        case endSessionEndpoint = "end_session_endpoint"
    }
}

/// A configured provider at run time: its discovery document, its signing keys (fetched, cached, and fetched again
/// when a token names a key the cache lacks, at most once per `refetchFloor`), the code exchange and the id_token
/// checks. One instance per provider, shared by every request.
actor OIDCProvider {
    let settings: OIDCProviderSettings
    let http: HTTPClient
    let refetchFloor: Duration
    private var metadata: ProviderMetadata?
    private var keys: [String: JWK] = [:]
    private var keysFetched: ContinuousClock.Instant?

    /// Algorithms accepted for an id_token's signature; never `none`, never HMAC (whose "key" would be public).
    static let algorithms: Set<String> = ["RS256", "ES256"]

    init(settings: OIDCProviderSettings, http: HTTPClient, refetchFloor: Duration = .seconds(60)) {
        self.settings = settings
        self.http = http
        self.refetchFloor = refetchFloor
    }

    /// The discovery document, fetched once (a failure is not kept, so the next sign-in tries again). Its
    /// `issuer` must be exactly the configured one.
    func discover(logger: Logger) async throws -> ProviderMetadata {
        if let metadata { return metadata }
        let base = settings.issuer.hasSuffix("/") ? String(settings.issuer.dropLast()) : settings.issuer
        let found = try await getJSON(ProviderMetadata.self, from: base + "/.well-known/openid-configuration")
        // Entra ID's multi-tenant endpoints (`/organizations/`, `/common/`) publish `{tenantid}` in their issuer:
        // each token's issuer is then that with its own `tid`, which must be in `allowed_tenants`.
        guard found.issuer == settings.issuer || (settings.isMultiTenant && found.issuer.contains("{tenantid}")) else {
            throw OIDCFailure.discovery("the discovery document's issuer \(found.issuer) is not \(settings.issuer)")
        }
        metadata = found
        return found
    }

    /// The key a token names. A kid the cache lacks fetches the JWKS again (a provider rotating its keys), but
    /// not more often than `refetchFloor`, so tokens with made-up kids cannot make senstat hammer the provider.
    func key(id kid: String?, logger: Logger) async throws -> JWK? {
        if keysFetched == nil { try await fetchKeys(logger: logger) }
        if let found = lookup(kid) { return found }
        if let last = keysFetched, ContinuousClock.now - last < refetchFloor { return nil }
        try await fetchKeys(logger: logger)
        return lookup(kid)
    }

    private func lookup(_ kid: String?) -> JWK? {
        if let kid { return keys[kid] }
        return keys.count == 1 ? keys.values.first : nil
    }

    private func fetchKeys(logger: Logger) async throws {
        let metadata = try await discover(logger: logger)
        let jwks = try await getJSON(JWKS.self, from: metadata.jwksURI)
        var found: [String: JWK] = [:]
        for key in jwks.keys {
            if let kid = key.keyIdentifier?.string { found[kid] = key }
        }
        keys = found
        keysFetched = .now
        logger.info("fetched signing keys", metadata: ["provider": "\(settings.id)", "keys": "\(found.count)"])
    }

    /// Exchanges an authorization code (with the PKCE verifier) for the provider's id_token.
    func exchange(code: String, verifier: String, redirectURI: String, logger: Logger) async throws -> String {
        let metadata = try await discover(logger: logger)
        var request = HTTPClientRequest(url: metadata.tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        var form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", verifier)]
        if let secret = settings.clientSecret {
            // client_secret_basic (RFC 6749 §2.3.1): both parts form-encoded, then base64.
            let credentials = WebForms.formEncode(settings.clientID) + ":" + WebForms.formEncode(secret)
            request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        } else {
            form.append(("client_id", settings.clientID))
        }
        request.body = .bytes(ByteBuffer(string: form.map { WebForms.formEncode($0.0) + "=" + WebForms.formEncode($0.1) }.joined(separator: "&")))
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw OIDCFailure.refused(.tokenExchange, "the token endpoint answered \(response.status.code)")
        }
        struct TokenResponse: Decodable {
            let idToken: String?
            enum CodingKeys: String, CodingKey { case idToken = "id_token" }
        }
        guard let token = try? JSONDecoder().decode(TokenResponse.self, from: body).idToken else {
            throw OIDCFailure.refused(.tokenExchange, "the token endpoint's answer has no id_token")
        }
        return token
    }

    /// The id_token's claims if its signature is by the provider's key with an allowed algorithm and every claim
    /// checks out (`IdentityTokenCheck`), and the tenant or hosted domain is one this provider accepts.
    func verify(idToken: String, nonce: String, now: Date, logger: Logger) async throws -> IdentityClaims {
        let parts = idToken.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Self.base64URLDecode(parts[0]),
            let header = try? JSONDecoder().decode(Header.self, from: headerData)
        else { throw OIDCFailure.refused(.malformedToken, "not a JWS in compact form") }
        guard let alg = header.alg, Self.algorithms.contains(alg) else {
            throw OIDCFailure.refused(.algorithm, "alg \(header.alg ?? "(none given)") is not RS256 or ES256")
        }
        guard let key = try await key(id: header.kid, logger: logger) else {
            throw OIDCFailure.refused(.unknownKey, "no signing key \(header.kid ?? "(no kid)") at the provider, after fetching its keys again")
        }
        // The key's own type and algorithm must be the token's: an RSA key verifies RS256 only, an EC key ES256.
        let keyType = key.keyType == .rsa ? "RS256" : key.keyType == .ecdsa ? "ES256" : nil
        guard keyType == alg, key.algorithm == nil || key.algorithm?.rawValue == alg else {
            throw OIDCFailure.refused(.algorithm, "alg \(alg) does not match the key's type")
        }
        let collection = JWTKeyCollection()
        let claims: IdentityClaims
        do {
            try await collection.add(jwk: key)
            let payload = try await collection.verify(idToken, as: ClaimsPayload.self)
            claims = payload.claims(organisationClaim: settings.organisationClaim)
        } catch {
            throw OIDCFailure.refused(.signature, "the signature does not verify: \(error)")
        }
        let published = try await discover(logger: logger).issuer
        let issuer = published.contains("{tenantid}") ? published.replacingOccurrences(of: "{tenantid}", with: claims.tenant ?? "") : settings.issuer
        if let refusal = IdentityTokenCheck.check(claims, issuer: issuer, clientID: settings.clientID, nonce: nonce, now: now.timeIntervalSince1970) {
            throw OIDCFailure.refused(refusal, "claim check failed: \(refusal.code)")
        }
        if let tenants = settings.allowedTenants, !tenants.contains(claims.tenant ?? "") {
            throw OIDCFailure.refused(.tenantNotAllowed, "tenant \(claims.tenant ?? "(none)") is not allowed")
        }
        if let domains = settings.allowedHostedDomains, !domains.contains(claims.hostedDomain ?? "") {
            throw OIDCFailure.refused(.domainNotAllowed, "hosted domain \(claims.hostedDomain ?? "(none)") is not allowed")
        }
        return claims
    }

    struct Header: Decodable {
        let alg: String?
        let kid: String?
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }

    private func getJSON<T: Decodable>(_ type: T.Type, from url: String) async throws -> T {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw OIDCFailure.discovery("\(url) answered \(response.status.code)") }
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch {
            throw OIDCFailure.discovery("\(url) is not the JSON expected: \(error)")
        }
    }
}

enum OIDCFailure: Error {
    /// The provider's metadata or keys could not be had: a configuration or network fault, not the person's.
    case discovery(String)
    /// The sign-in was refused for `refusal`; `detail` is for the log and the audit trail.
    case refused(SignInRefusal, String)
}

/// An id_token's payload as jwt-kit decodes it: any claims, read into `IdentityClaims`. The checks are
/// `IdentityTokenCheck`'s, after jwt-kit has verified the signature (this type's own `verify` adds nothing).
struct ClaimsPayload: JWTPayload {
    let values: [String: JSONValue]

    init(from decoder: any Decoder) throws {
        values = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}

    func claims(organisationClaim: String?) -> IdentityClaims {
        var organisations: [String] = []
        if let name = organisationClaim, let claim = values[name] { organisations = claim.organisationIDs }
        return IdentityClaims(
            issuer: values["iss"]?.claimString, subject: values["sub"]?.claimString, audiences: values["aud"]?.claimStrings ?? [],
            authorizedParty: values["azp"]?.claimString, expires: values["exp"]?.claimNumber, issuedAt: values["iat"]?.claimNumber,
            notBefore: values["nbf"]?.claimNumber, nonce: values["nonce"]?.claimString, email: values["email"]?.claimString,
            emailVerified: values["email_verified"]?.claimBool, name: values["name"]?.claimString, tenant: values["tid"]?.claimString,
            hostedDomain: values["hd"]?.claimString, organisations: organisations)
    }
}

/// Reading claims, which are JSON values (SENCore's `JSONValue`).
extension JSONValue {
    var claimString: String? { if case .string(let v) = self { v } else { nil } }
    var claimNumber: Double? {
        switch self {
        case .integer(let v): Double(v)
        case .number(let v): v
        default: nil
        }
    }
    /// `true`, or the string "true" (some providers send booleans as strings).
    var claimBool: Bool? {
        switch self {
        case .bool(let v): v
        case .string(let v): v == "true" ? true : v == "false" ? false : nil
        default: nil
        }
    }
    var claimStrings: [String]? {
        switch self {
        case .string(let v): [v]
        case .array(let values): values.compactMap(\.claimString)
        default: nil
        }
    }

    /// DfE Sign-in's organisation: an object (or a JSON string of one, or an array of them) with `urn` for a
    /// school and `uid` for a trust; both are taken.
    var organisationIDs: [String] {
        switch self {
        case .object(let fields):
            return ["urn", "uid", "id"].compactMap { key in
                switch fields[key] {
                case .string(let v)?: v.isEmpty ? nil : v
                case .integer(let v)?: String(v)
                default: nil
                }
            }
        case .array(let values): return values.flatMap(\.organisationIDs)
        case .string(let text):
            guard let inner = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)), case .object = inner else { return [text] }
            return inner.organisationIDs
        default: return []
        }
    }
}

/// PKCE (RFC 7636) with S256, and the random values of a sign-in.
enum PKCE {
    /// 32 random bytes, base64url: 43 characters, within the 43-128 the RFC asks of a verifier.
    static func random() -> String { WebSessions.randomToken() }

    static func challenge(for verifier: String) -> String {
        Data(SHA256.hash(data: Data(verifier.utf8))).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
