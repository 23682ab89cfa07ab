import Foundation
import HTTPTypes
import Hummingbird
import SENAPI
import PostgresNIO
import Logging
import NIOCore
import SENStore

/// An error the API answers deliberately, with its status and a sentence for the person who sent the request.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var detail: String
    public var errors: [ProblemDetails.FieldError]
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, _ detail: String, errors: [ProblemDetails.FieldError] = [],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers
    }

    public static func notFound(_ what: String) -> APIError { APIError(.notFound, "\(what) was not found") }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        ProblemResponse.make(
            status: status, detail: detail, errors: errors, headers: headers, request: request,
            requestID: context.id)
    }
}

enum ProblemResponse {
    static let contentType = "application/problem+json"

    static func make(
        status: HTTPResponse.Status, detail: String?, errors: [ProblemDetails.FieldError] = [],
        headers: HTTPFields = [:], request: Request, requestID: String
    ) -> Response {
        let problem = ProblemDetails(
            type: "https://senstat.dev/problems/\(slug(status))",
            title: status.reasonPhrase,
            status: status.code,
            detail: detail,
            instance: request.uri.path,
            requestID: requestID,
            errors: errors.isEmpty ? nil : errors)
        let body = (try? JSONEncoder.api.encode(problem)) ?? Data(#"{"title":"Internal Server Error","status":500}"#.utf8)
        var fields = headers
        fields[.contentType] = contentType
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func slug(_ status: HTTPResponse.Status) -> String {
        status.reasonPhrase.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.reduce(into: "") {
            if !($1 == "-" && $0.hasSuffix("-")) { $0.append($1) }
        }
    }
}

/// Turns every error into problem+json: deliberate API errors keep their status; a missing route is 404, or 405
/// with `Allow` when the path exists under other methods only; an unreachable database is 503; anything else is a
/// 500 whose details go to the log, never to the client.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowed: AllowedMethods

    init(allowed: AllowedMethods) {
        self.allowed = allowed
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let problem = try self.problem(for: error, request: request, context: context)
            return ProblemResponse.make(
                status: problem.status, detail: problem.detail, errors: problem.errors, headers: problem.headers,
                request: request, requestID: context.id)
        }
    }

    /// What an error answers, for problem+json here and for the web app's error pages alike.
    struct Problem {
        var status: HTTPResponse.Status
        var detail: String?
        var errors: [ProblemDetails.FieldError] = []
        var headers: HTTPFields = [:]
    }

    func problem(for error: any Error, request: Request, context: Context) throws -> Problem {
        switch error {
        case let error as APIError:
            return Problem(status: error.status, detail: error.detail, errors: error.errors, headers: error.headers)
        case let error as HTTPError:
            if error.status == .notFound {
                let methods = self.allowed.methods(forPath: request.uri.path)
                // A route for this method and path threw it: the handler found nothing (an unknown provider, asset or
                // membership), which is a 404, not a method to change. Hummingbird answers HEAD with the GET route.
                let routed = methods.contains(request.method) || (request.method == .head && methods.contains(.get))
                if !methods.isEmpty, !routed {
                    var headers = HTTPFields()
                    headers[.allow] = methods.map(\.rawValue).sorted().joined(separator: ", ")
                    return Problem(status: .methodNotAllowed, detail: "\(request.method.rawValue) is not allowed on \(request.uri.path)", headers: headers)
                }
                return Problem(status: .notFound, detail: "no resource at \(request.uri.path)")
            }
            return Problem(status: error.status, detail: error.body, headers: error.headers)
        case let error as DatabaseUnavailable:
            context.logger.warning("database unavailable", metadata: ["reason": "\(error.reason)", "cause": "\(error.cause ?? "")"])
            var headers = HTTPFields()
            headers[.retryAfter] = "2"
            return Problem(status: .serviceUnavailable, detail: "the database is unavailable; try again shortly", headers: headers)
        case let error as any HTTPResponseError:
            return Problem(status: error.status, detail: nil)
        case let error as PSQLError where Self.isInvalidInput(error):
            // Input the checks before the database let through (they should not): still the caller's to fix, so
            // 422 naming the field the constraint is on, not a 500.
            context.logger.warning("a constraint refused input", metadata: ["constraint": "\(error.serverInfo?[.constraintName] ?? "")"])
            let field = Self.field(of: error)
            let refused = APIError.validation([.init(pointer: "/" + field, code: "invalid", message: "\(field) is not a value this field can hold")])
            return Problem(status: refused.status, detail: refused.detail, errors: refused.errors, headers: refused.headers)
        default:
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return Problem(status: .internalServerError, detail: "an internal error occurred; quote the request id to the operator")
        }
    }
}

extension ProblemMiddleware {
    /// Integrity violations (class 23) and data exceptions from text or numbers PostgreSQL cannot hold (22001
    /// too long, 22003 out of range, 22007/22008 bad dates, 22021/22P05 bytes or characters it cannot store).
    static func isInvalidInput(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("23") || ["22001", "22003", "22007", "22008", "22021", "22P05"].contains(state)
    }

    /// The column a constraint is on: PostgreSQL's column field, else the constraint's default name
    /// (table_column_check, table_column_key), else "body".
    static func field(of error: PSQLError) -> String {
        if let column = error.serverInfo?[.columnName], !column.isEmpty { return column }
        if var name = error.serverInfo?[.constraintName], let table = error.serverInfo?[.tableName], name.hasPrefix(table + "_") {
            name.removeFirst(table.count + 1)
            for suffix in ["_check", "_key", "_fkey", "_not_null"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
            if !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) { return name }
        }
        return "body"
    }
}
