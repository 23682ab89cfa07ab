import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SENAPI

/// `senstat login --web` (as `gh auth login --web`; RFC 8252 with PKCE): listen on a loopback port, send the person
/// to the server's `/cli/authorize` in their browser, take the one-time code the browser brings back, and exchange it
/// with the PKCE verifier for an API token of the role the person acts in.
enum WebLogin {
    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return base64URL((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func challenge(_ verifier: String) -> String { base64URL(SHA256.hash(data: Data(verifier.utf8))) }

    static func run(base: String, openBrowser: Bool, timeout: Duration) async throws -> TokenBody {
        let verifier = random()
        let state = random()
        let receiver = try await LoopbackReceiver.start()
        defer { receiver.stop() }
        let redirect = "http://127.0.0.1:\(receiver.port)/callback"
        var components = URLComponents(string: base + "/cli/authorize")
        components?.queryItems = [
            URLQueryItem(name: "redirect_uri", value: redirect), URLQueryItem(name: "state", value: state),
            URLQueryItem(name: "code_challenge", value: challenge(verifier)), URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        guard let address = components?.string else { throw CLIError(code: .usage, message: "senstat: \(base) is not a URL") }
        FileHandle.standardOutput.write(Data("Open this address in your browser to sign in, if it does not open by itself:\n  \(address)\n".utf8))
        if openBrowser { open(address) }
        guard let query = await receiver.callback(within: timeout) else {
            throw CLIError(code: .authentication, message: "senstat: no answer from the browser within \(timeout.components.seconds) s; run `senstat login --web` again")
        }
        guard query["state"] == state else {
            throw CLIError(code: .authentication, message: "senstat: the browser came back with another sign-in's state; nothing was saved")
        }
        if let error = query["error"] {
            throw CLIError(code: .authentication, message: "senstat: sign-in was not allowed (\(error)); nothing was saved")
        }
        guard let code = query["code"] else { throw CLIError(code: .authentication, message: "senstat: the browser brought no code back") }
        let host = ProcessInfo.processInfo.hostName
        let body = try JSONEncoder.api.encode(
            CommandLineTokenRequest(code: code, codeVerifier: verifier, redirectURI: redirect, label: "senstat on \(host.isEmpty ? "this computer" : host)"))
        let reply = try await API(base: base, token: "").request(.POST, "/cli/token", body: body, contentType: "application/json", timeout: .seconds(30))
        return try reply.decode(TokenBody.self)
    }

    /// The platform's opener (`xdg-open`, macOS `open`); if there is none, the printed address is enough.
    static func open(_ address: String) {
        for opener in ["/usr/bin/xdg-open", "/usr/bin/open"] where FileManager.default.isExecutableFile(atPath: opener) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: opener)
            process.arguments = [address]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            if (try? process.run()) != nil { return }
        }
    }
}

/// A one-request HTTP listener on 127.0.0.1 (an ephemeral port): `GET /callback?...` is answered with a page saying
/// the browser may be closed, and its query handed to `callback(within:)`. Anything else is 404.
final class LoopbackReceiver: Sendable {
    let channel: any Channel
    let port: Int
    let stream: AsyncStream<[String: String]>

    private init(channel: any Channel, port: Int, stream: AsyncStream<[String: String]>) {
        self.channel = channel
        self.port = port
        self.stream = stream
    }

    static func start() async throws -> LoopbackReceiver {
        let (stream, continuation) = AsyncStream<[String: String]>.makeStream()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(CallbackHandler { continuation.yield($0) })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else { throw CLIError(code: .other, message: "senstat: cannot listen on a loopback port") }
        return LoopbackReceiver(channel: channel, port: port, stream: stream)
    }

    func callback(within timeout: Duration) async -> [String: String]? {
        await withTaskGroup(of: [String: String]?.self) { group in
            group.addTask { [stream] in
                for await query in stream { return query }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    func stop() { channel.close(promise: nil) }
}

final class CallbackHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let deliver: @Sendable ([String: String]) -> Void
    var head: HTTPRequestHead?

    init(_ deliver: @escaping @Sendable ([String: String]) -> Void) { self.deliver = deliver }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let components = URLComponents(string: head.uri)
            let found = head.method == .GET && components?.path == "/callback"
            var query: [String: String] = [:]
            for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
            let denied = query["error"] != nil
            let page =
                found
                ? "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>senstat</title><body style=\"font-family:sans-serif;margin:2rem\"><h1>\(denied ? "Not signed in" : "Signed in")</h1><p>\(denied ? "The command line was not given a token." : "The senstat command line has its token.") You can close this tab and go back to the terminal.</p></body></html>"
                : "not found"
            var headers = HTTPHeaders([("Content-Type", found ? "text/html; charset=utf-8" : "text/plain"), ("Cache-Control", "no-store"), ("Connection", "close")])
            headers.add(name: "Content-Length", value: String(page.utf8.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: found ? .ok : .notFound, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: page)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
            if found { deliver(query) }
            self.head = nil
        }
    }
}
