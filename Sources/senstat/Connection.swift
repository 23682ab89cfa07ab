import ArgumentParser
import AsyncHTTPClient
import Foundation
import SENAPI
import NIOCore
import NIOHTTP1

/// A failure with its documented exit code.
struct CLIError: Error {
    enum Code: Int32 {
        case other = 1, usage = 2, authentication = 3, notFound = 4, validation = 5
    }

    let code: Code
    let message: String
}

/// Where the configuration lives: $XDG_CONFIG_HOME/senstat/config.json, else ~/.config/senstat/config.json.
enum ConfigFile {
    struct Contents: Codable {
        var url: String
        var token: String
    }

    static var url: URL {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config")
        return base.appendingPathComponent("senstat").appendingPathComponent("config.json")
    }

    static func load() -> Contents? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(Contents.self, from: data)
    }

    /// Written with mode 0600 (it holds a token).
    static func save(_ contents: Contents) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = try JSONEncoder().encode(contents)
        guard FileManager.default.createFile(atPath: url.path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw CLIError(code: .other, message: "cannot write \(url.path)")
        }
        _ = chmod(url.path, 0o600)
    }

    static func remove() { try? FileManager.default.removeItem(at: url) }
}

/// --url and --token, every command has them; flags win over SENSTAT_URL/SENSTAT_TOKEN, which win over the file.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The senstat server, for example http://127.0.0.1:8080 (or SENSTAT_URL).")
    var url: String?

    @Option(help: "An API token (or SENSTAT_TOKEN).")
    var token: String?

    func client() throws -> API {
        let environment = ProcessInfo.processInfo.environment
        let file = ConfigFile.load()
        guard let url = url ?? environment["SENSTAT_URL"].flatMap({ $0.isEmpty ? nil : $0 }) ?? file?.url else {
            throw CLIError(code: .authentication, message: "senstat: not logged in; run `senstat login --url URL --token TOKEN` or set SENSTAT_URL and SENSTAT_TOKEN")
        }
        guard let token = token ?? environment["SENSTAT_TOKEN"].flatMap({ $0.isEmpty ? nil : $0 }) ?? file?.token else {
            throw CLIError(code: .authentication, message: "senstat: no token; run `senstat login` or set SENSTAT_TOKEN")
        }
        return API(base: url.hasSuffix("/") ? String(url.dropLast()) : url, token: token)
    }
}

/// The REST API over AsyncHTTPClient, with explicit timeouts and problem+json turned into readable errors.
struct API: Sendable {
    let base: String
    let token: String

    struct Reply: Sendable {
        let status: Int
        let headers: HTTPHeaders
        let body: Data

        var text: String { String(decoding: body, as: UTF8.self) }

        /// The answer as the API's type for it (SENAPI), read in the API's JSON dialect.
        func decode<Body: Decodable>(_ type: Body.Type) throws -> Body {
            do {
                return try JSONDecoder.api.decode(Body.self, from: body)
            } catch {
                throw CLIError(code: .other, message: "senstat: the server's answer is not the \(Body.self) this senstat expects: \(error)")
            }
        }
    }

    func request(
        _ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], body: Data? = nil, contentType: String? = nil,
        accept: String = "application/json", headers extra: [(String, String)] = [], progress: Bool = false,
        timeout: TimeAmount = .seconds(120)
    ) async throws -> Reply {
        var components = URLComponents(string: base + path)
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        if !items.isEmpty { components?.queryItems = items }
        guard let url = components?.string else { throw CLIError(code: .usage, message: "senstat: \(base) is not a URL") }
        var request = HTTPClientRequest(url: url)
        request.method = method
        if !token.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "User-Agent", value: "senstat-cli/0.1.0")
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body {
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
            request.body = progress && body.count > 256 * 1024 && isatty(2) == 1
                ? .stream(ProgressChunks(data: body), length: .known(Int64(body.count)))
                : .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: timeout)
        } catch {
            throw CLIError(code: .other, message: "senstat: cannot reach \(base): \(error)")
        }
        let collected = try await response.body.collect(upTo: 256 << 20)
        let reply = Reply(status: Int(response.status.code), headers: response.headers, body: Data(collected.readableBytesView))
        if progress && body != nil && isatty(2) == 1 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        guard reply.status < 400 else { throw Self.problem(reply) }
        return reply
    }

    /// The server's problem details, readably: the title and detail, then each error with its row and column or
    /// its field.
    static func problem(_ reply: Reply) -> CLIError {
        let code: CLIError.Code =
            switch reply.status {
            case 401: .authentication
            case 404: .notFound
            case 400, 409, 412, 413, 415, 422, 428: .validation
            default: .other
            }
        guard let problem = try? JSONDecoder.api.decode(ProblemDetails.self, from: reply.body) else {
            return CLIError(code: code, message: "senstat: the server answered \(reply.status)")
        }
        var lines = ["senstat: \(problem.title) (\(reply.status)): \(problem.detail ?? "")"]
        for error in problem.errors ?? [] {
            if let row = error.row {
                let column = error.column.flatMap { $0.isEmpty ? nil : $0 }
                lines.append("  row \(row)\(column.map { ", column \($0)" } ?? ""): \(error.message)")
            } else {
                lines.append("  \(error.pointer ?? "?"): \(error.message)")
            }
        }
        return CLIError(code: code, message: lines.joined(separator: "\n"))
    }
}

/// The upload in 64 KiB chunks, drawing a progress bar on standard error as they are sent.
struct ProgressChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let data: Data

    struct AsyncIterator: AsyncIteratorProtocol {
        let data: Data
        var offset = 0

        mutating func next() async throws -> ByteBuffer? {
            guard offset < data.count else { return nil }
            let end = Swift.min(data.count, offset + 65_536)
            let chunk = ByteBuffer(bytes: data[offset..<end])
            offset = end
            let fraction = Double(offset) / Double(data.count)
            let filled = Int(fraction * 30)
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: 30 - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(Int(fraction * 100))% of \(data.count / 1024) KiB".utf8))
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(data: data) }
}
