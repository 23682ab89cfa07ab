import Foundation
import HTTPTypes
import Hummingbird
import SENAPI
import NIOCore
import SENCore
import SENStore

extension Request {
    /// Collects the body up to `limit` bytes; beyond it, 413.
    mutating func collectBody(limit: Int, what: String) async throws -> ByteBuffer {
        let most = limit >= 1_048_576 ? "\(limit / 1_048_576) MB" : "\(limit / 1024) KB"
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.contentTooLarge, "\(what) may be at most \(most)")
        }
        do {
            return try await collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "\(what) may be at most \(most)")
        }
    }

    /// Decodes a JSON body (at most 1 MB). Broken JSON is 400; a body of the wrong shape is 422 with a JSON
    /// pointer to each problem.
    mutating func decodeJSON<T: Decodable>(_ type: T.Type) async throws -> T {
        let buffer = try await collectBody(limit: 1 << 20, what: "a JSON body")
        let data = Data(buffer.readableBytesView)
        // Broken JSON is 400; JSON of the wrong shape is 422, even where the decoder cannot say where.
        _ = try checkedJSON(data)
        do {
            return try JSONDecoder.api.decode(T.self, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                throw APIError.validation([.init(pointer: "/", code: "invalid", message: context.debugDescription)])
            }
            throw APIError.decoding(error)
        }
    }
}

/// A request body as JSON: broken JSON or a key given twice is 400; U+0000 in any string is 422 naming where
/// (PostgreSQL's text cannot hold it, and it would otherwise come back as a 500).
func checkedJSON(_ data: Data) throws -> JSONValue {
    guard let value = try? JSONDecoder().decode(JSONValue.self, from: data) else {
        throw APIError(.badRequest, "the body is not valid JSON")
    }
    switch JSONTextCheck.scan(data) {
    case .duplicateKey(let pointer)?:
        throw APIError(.badRequest, "the body gives \(pointer) twice; a JSON object's keys must be unique")
    case .nul(let pointer)?:
        throw APIError.validation([.init(pointer: pointer, code: "nul", message: "text may not contain U+0000 (NUL)")])
    case nil:
        return value
    }
}

extension APIError {
    static func decoding(_ error: DecodingError) -> APIError {
        func pointer(_ path: [any CodingKey]) -> String {
            "/" + path.map { key in
                key.intValue.map(String.init) ?? APIKeys.snake(key.stringValue).replacingOccurrences(of: "~", with: "~0")
                    .replacingOccurrences(of: "/", with: "~1")
            }.joined(separator: "/")
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return APIError(.badRequest, "the body is not valid JSON")
        case .keyNotFound(let key, let context):
            let path = pointer(context.codingPath + [key])
            return validation([.init(pointer: path, code: "required", message: "\(APIKeys.snake(key.stringValue)) is required")])
        case .typeMismatch(let type, let context):
            return validation([
                .init(pointer: pointer(context.codingPath), code: "type", message: "expected \(describe(type))")
            ])
        case .valueNotFound(let type, let context):
            return validation([
                .init(pointer: pointer(context.codingPath), code: "required", message: "expected \(describe(type)), not null")
            ])
        case .dataCorrupted(let context):
            return validation([
                .init(pointer: pointer(context.codingPath), code: "invalid", message: context.debugDescription)
            ])
        @unknown default:
            return APIError(.badRequest, "the body could not be read")
        }
    }

    static func validation(_ errors: [ProblemDetails.FieldError]) -> APIError {
        APIError(.unprocessableContent, "the request has \(errors.count) invalid field\(errors.count == 1 ? "" : "s")", errors: errors)
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int32.Type, is Int64.Type: "a whole number"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "a value of another type"
        }
    }
}

extension Parameters {
    /// A URN from the path; anything else (`../`, `%00`, letters) is 400.
    func urn(_ name: String = "urn") throws -> URN {
        guard let text = get(name), let urn = URN(text) else {
            throw APIError(.badRequest, "'\(get(name) ?? "")' is not a URN (six digits)")
        }
        return urn
    }

    /// A trust id from the path. A malformed one names nothing, so it is 404 like any trust the caller cannot see.
    func trustID(_ name: String = "trust") throws -> TrustID {
        guard let text = get(name), let id = TrustID(text) else { throw APIError.notFound("the trust") }
        return id
    }
}

func todayUTC() -> CalendarDate { CalendarDate.todayUTC() }

/// A term from a path or query: malformed is 400, outside the years the database knows is 404.
func parseTerm(_ text: String?) throws -> AcademicTerm {
    guard let text, let term = AcademicTerm(text) else {
        // Shaped like a term (the documented pattern) but naming no academic year, such as 2025-99-autumn: there
        // is no such term. Anything else is not a term at all.
        if let text, text.count >= 14, text.prefix(7).allSatisfy({ $0.isNumber || $0 == "-" }),
            ["autumn", "spring", "summer"].contains(where: { text.hasSuffix("-" + $0) }), !text.contains("/")
        {
            throw APIError.notFound("the term \(text)")
        }
        throw APIError(.badRequest, "'\(text ?? "")' is not a term; write terms like 2025-26-autumn")
    }
    guard AcademicTerm.knownStartYears.contains(term.startYear) else { throw APIError.notFound("the term \(term)") }
    return term
}
