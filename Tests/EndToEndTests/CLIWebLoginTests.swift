import Foundation
import SENAPI
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `senstat login --web` end to end: the built CLI listening on a loopback port, a browser's part played over HTTP
/// (a demo person signed in, the "allow" form posted, the redirect followed to the CLI), the built server with the
/// demo on the embedded database.
@Suite(.serialized) struct CLIWebLoginTests {
    /// HTTP as a browser does it here: cookies by hand, redirects not followed.
    final class Browser: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        var cookie: String?
        lazy var session: URLSession = {
            let configuration = URLSessionConfiguration.ephemeral
            configuration.httpShouldSetCookies = false
            return URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
        }()

        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
            completionHandler: @escaping (URLRequest?) -> Void
        ) { completionHandler(nil) }

        func send(_ url: String, method: String = "GET", form: [(String, String)]? = nil, origin: String? = nil) async throws
            -> (status: Int, body: String, headers: [String: String])
        {
            var request = URLRequest(url: URL(string: url)!)
            request.httpMethod = method
            request.timeoutInterval = 30
            if let cookie { request.setValue("senstat=\(cookie)", forHTTPHeaderField: "Cookie") }
            if let origin { request.setValue(origin, forHTTPHeaderField: "Origin") }
            if let form {
                request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
                let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
                request.httpBody = Data(form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&").utf8)
            }
            let (data, response) = try await session.data(for: request)
            let http = response as! HTTPURLResponse
            var headers: [String: String] = [:]
            for (key, value) in http.allHeaderFields { headers[String(describing: key).lowercased()] = String(describing: value) }
            if let set = headers["set-cookie"], set.hasPrefix("senstat=") { cookie = String(set.dropFirst(8).prefix { $0 != ";" }) }
            return (http.statusCode, String(decoding: data, as: UTF8.self), headers)
        }

        static func field(_ name: String, in html: String) -> String? {
            guard let range = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
            return String(html[range.upperBound...].prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
        }
    }

    @Test func aPersonGivesTheCommandLineATokenOfItsOwnAndRevokesIt() async throws {
        let server = try CLITests.Server()
        defer { server.stop() }
        try await server.waitUntilReady()
        let config = URL(fileURLWithPath: "/tmp/senstat-cli-web-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: config) }

        // The demo's trust executive, a person, signed in in the browser.
        let browser = Browser()
        let signIn = try await browser.send("\(server.url)/sign-in", method: "POST", form: [("demo", "trust_executive"), ("next", "")], origin: server.url)
        #expect(signIn.status == 303 && browser.cookie != nil)

        // A link that would send the code anywhere but this computer is refused outright.
        let evil = try await browser.send(
            "\(server.url)/cli/authorize?redirect_uri=https%3A%2F%2Fevil.example%2Fcb&state=abcdefgh12&code_challenge=\(String(repeating: "A", count: 43))&code_challenge_method=S256")
        #expect(evil.status == 400 && evil.body.contains("redirect_uri"))

        // The CLI, waiting on its loopback port.
        let process = Process()
        process.executableURL = try ServerProcessTests.executable("senstat")
        process.arguments = ["login", "--url", server.url, "--web", "--no-browser", "--timeout", "120"]
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CONFIG_HOME"] = config.path
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        var printed = ""
        let deadline = Date.now + 30
        while !printed.contains("code_challenge_method=S256"), Date.now < deadline {
            printed += String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        }
        let address = try #require(printed.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix(server.url + "/cli/authorize?") })

        // The browser: the page names the role, its form may go to the loopback port only.
        let page = try await browser.send(address)
        #expect(page.status == 200 && page.body.contains("Trust executive"), "\(page.body.prefix(500))")
        let redirect = try #require(Browser.field("redirect_uri", in: page.body))
        let loopback = "http://127.0.0.1:" + (redirect.split(separator: ":").last?.split(separator: "/").first ?? "")
        #expect(page.headers["content-security-policy"]?.contains("form-action 'self' \(loopback)") == true)
        var fields: [(String, String)] = []
        for name in ["csrf", "redirect_uri", "state", "code_challenge", "code_challenge_method"] {
            fields.append((name, try #require(Browser.field(name, in: page.body), "\(name)")))
        }
        let allowed = try await browser.send("\(server.url)/cli/authorize", method: "POST", form: fields + [("decision", "allow")], origin: server.url)
        #expect(allowed.status == 303)
        let back = try #require(allowed.headers["location"])
        #expect(back.hasPrefix(redirect + "?code="))
        let code = try #require(URLComponents(string: back)?.queryItems?.first { $0.name == "code" }?.value)
        let done = try await browser.send(back)
        #expect(done.status == 200 && done.body.contains("has its token"))

        process.waitUntilExit()
        printed += String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(printed)")
        #expect(printed.contains("logged in to \(server.url) as trust_executive"))
        let whoami = try CLITests.senstat(["whoami", "--format", "json"], config: config)
        #expect(whoami.status == 0 && whoami.stdout.contains("trust_executive"))

        // The code is used once.
        var replay = URLRequest(url: URL(string: "\(server.url)/cli/token")!)
        replay.httpMethod = "POST"
        replay.setValue("application/json", forHTTPHeaderField: "Content-Type")
        replay.httpBody = try JSONEncoder.api.encode(CommandLineTokenRequest(code: code, codeVerifier: "x", redirectURI: redirect, label: nil))
        let (_, replayed) = try await URLSession.shared.data(for: replay)
        #expect((replayed as? HTTPURLResponse)?.statusCode == 400)

        // Listed on the person's account page, and revoked there: the CLI is then refused.
        let account = try await browser.send("\(server.url)/account")
        #expect(account.body.contains("senstat on "))
        let action = try #require(account.body.range(of: "/account/tokens/").map { String(account.body[$0.lowerBound...].prefix { $0 != "\"" }) })
        let csrf = try #require(Browser.field("csrf", in: account.body))
        #expect(try await browser.send(server.url + action, method: "POST", form: [("csrf", csrf)], origin: server.url).status == 303)
        #expect(try CLITests.senstat(["whoami"], config: config).status == 3, "the revoked token no longer works")
    }
}
