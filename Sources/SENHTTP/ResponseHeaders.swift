import HTTPTypes
import Hummingbird

/// Headers every answer carries, errors included: no MIME sniffing, no referrer, no caching of anything (every
/// answer but the public contract is a caller's own data), and a content security policy that lets nothing run
/// or load — the API's JSON, CSV and SVG need none, and an SVG opened on its own cannot then run script. A handler
/// that sets its own Cache-Control, Content-Security-Policy or Referrer-Policy keeps it.
public struct ResponseHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        if response.headers[.referrerPolicy] == nil { response.headers[.referrerPolicy] = "no-referrer" }
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        if response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] = "default-src 'none'; frame-ancestors 'none'; sandbox"
        }
        return response
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
