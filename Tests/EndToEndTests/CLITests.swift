import Foundation
import SENAPI
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The built `senstat` CLI against the built `senstat-server` with the demo, on the embedded database.
@Suite(.serialized) struct CLITests {
    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    final class Server {
        let process = Process()
        let dataDirectory = URL(fileURLWithPath: "/tmp/senstat-cli-\(getpid())-\(UUID().uuidString.prefix(8))")
        let port: Int
        var url: String { "http://127.0.0.1:\(port)" }

        init() throws {
            port = try ServerProcessTests.freePort()
            process.executableURL = try ServerProcessTests.executable("senstat-server")
            process.arguments = ["--demo", "--data-dir", dataDirectory.path, "--port", String(port), "--log-level", "warning"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        func tokens() throws -> [String: [String: Any]] {
            let data = try Data(contentsOf: dataDirectory.appendingPathComponent("demo-tokens.json"))
            return try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] ?? [:]
        }

        func waitUntilReady() async throws {
            let deadline = ContinuousClock.now + .seconds(300)
            while ContinuousClock.now < deadline {
                if await ServerProcessTests.get("\(url)/health/ready")?.status == 200,
                    FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("demo-tokens.json").path)
                {
                    return
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            throw ServerProcessTests.Failure(description: "the server did not become ready")
        }

        func stop() {
            kill(process.processIdentifier, SIGTERM)
            let postmaster = dataDirectory.appendingPathComponent("pg/postmaster.pid").path
            for _ in 0..<300 where process.isRunning || FileManager.default.fileExists(atPath: postmaster) {
                usleep(100_000)
            }
            try? FileManager.default.removeItem(at: dataDirectory)
        }
    }

    static func senstat(_ arguments: [String], environment extra: [String: String] = [:], config: URL) throws -> Run {
        let process = Process()
        process.executableURL = try ServerProcessTests.executable("senstat")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "SENSTAT_URL")
        environment.removeValue(forKey: "SENSTAT_TOKEN")
        environment.removeValue(forKey: "NO_COLOR")
        environment["XDG_CONFIG_HOME"] = config.path
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        let out = config.appendingPathComponent("out-\(UUID().uuidString)")
        let err = config.appendingPathComponent("err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    @Test func aTrustDirectorsSessionFromLoginToFunnel() async throws {
        let server = try Server()
        defer { server.stop() }
        try await server.waitUntilReady()
        let tokens = try server.tokens()
        let executive = try #require(tokens["trust_executive"]?["token"] as? String)
        let trust = try #require(tokens["trust_executive"]?["trust_id"] as? String)
        let config = URL(fileURLWithPath: "/tmp/senstat-cli-config-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: config) }
        func cli(_ arguments: String..., environment: [String: String] = [:]) throws -> Run {
            try Self.senstat(arguments, environment: environment, config: config)
        }

        // login stores the server and token (0600); whoami reads them back.
        let login = try cli("login", "--url", server.url, "--token", executive)
        #expect(login.status == 0, "\(login.stderr)")
        let file = config.appendingPathComponent("senstat/config.json")
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let whoami = try cli("whoami", "--format", "json")
        #expect(whoami.status == 0)
        #expect(whoami.stdout.contains("trust_executive") && whoami.stdout.contains(trust))

        // A CSV with errors: exit 5, every row and column printed, nothing stored.
        let bad = config.appendingPathComponent("bad.csv")
        try Data("urn,pupils_on_roll,sen_support,ehc_plan\n990102,210,300,6\n990103,abc,1,1\n990201,100,10,2\n".utf8).write(to: bad)
        let refused = try cli("returns", "submit", bad.path, "--term", "2026-27-autumn")
        #expect(refused.status == 5)
        #expect(refused.stderr.contains("row 2, column sen_support"))
        #expect(refused.stderr.contains("row 3, column pupils_on_roll"))
        #expect(refused.stderr.contains("row 4, column urn"))
        #expect(try cli("returns", "show", "990102", "--term", "2026-27-autumn").status == 4, "nothing was stored")

        // A good CSV, twice: stored once.
        let good = config.appendingPathComponent("good.csv")
        try Data("urn,pupils_on_roll,sen_support,ehc_plan\n990102,210,31,6\n990103,640,170,22\n".utf8).write(to: good)
        let first = try cli("returns", "submit", good.path, "--term", "2026-27-autumn")
        #expect(first.status == 0 && first.stdout.contains("2 new"), "\(first.stdout) \(first.stderr)")
        let again = try cli("returns", "submit", good.path, "--term", "2026-27-autumn")
        #expect(again.status == 0 && again.stdout.contains("0 new, 0 amended, 2 unchanged"), "\(again.stdout)")
        let history = try cli("returns", "history", "990102", "--term", "2026-27-autumn", "--format", "json")
        #expect(try JSONDecoder.api.decode(ReturnVersions.self, from: Data(history.stdout.utf8)).versions.count == 1)

        // compare --format json is the API's JSON.
        let compare = try cli("compare", "--term", "2025-26-summer", "--format", "json")
        #expect(compare.status == 0)
        let cliAnswer = try JSONDecoder.api.decode(Comparison.self, from: Data(compare.stdout.utf8))
        var request = URLRequest(url: URL(string: "\(server.url)/v1/trusts/\(trust)/comparison?term=2025-26-summer&measure=sen_support&comparator=national")!)
        request.setValue("Bearer \(executive)", forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        #expect(cliAnswer == (try JSONDecoder.api.decode(Comparison.self, from: data)))
        #expect(compare.stdout.trimmingCharacters(in: .newlines) == String(decoding: data, as: UTF8.self), "the API's JSON as it came")

        // The table flags the planted outliers; colour only when asked for, and never with NO_COLOR.
        let coloured = try cli("compare", "--term", "2025-26-summer", environment: ["SENSTAT_FORCE_COLOR": "1"])
        #expect(coloured.stdout.contains("\u{1B}[31m") && coloured.stdout.contains("high_99_8"))
        let plain = try cli("compare", "--term", "2025-26-summer", environment: ["SENSTAT_FORCE_COLOR": "1", "NO_COLOR": "1"])
        #expect(!plain.stdout.contains("\u{1B}["))
        #expect(plain.stdout.contains("Heaton Brook Primary") && plain.stdout.contains("high_99_8"))
        let csv = try cli("compare", "--term", "2025-26-summer", "--format", "csv")
        #expect(csv.stdout.hasPrefix("urn,name,phase,status"))

        // funnel writes a well-formed SVG.
        let svg = config.appendingPathComponent("funnel.svg")
        #expect(try cli("funnel", "--term", "2025-26-summer", "--out", svg.path).status == 0)
        let parser = XMLParser(data: try Data(contentsOf: svg))
        #expect(parser.parse())

        // A wrong token exits 3; a usage error exits 2.
        let wrong = try cli("whoami", "--token", "sst_" + String(repeating: "x", count: 43))
        #expect(wrong.status == 3)
        #expect(wrong.stderr.contains("401"))
        #expect(try cli("compare").status == 2)
        #expect(try cli("logout").status == 0)
        #expect(try cli("whoami").status == 3, "logged out")
        let completion = try cli("--generate-completion-script", "bash")
        #expect(completion.status == 0 && completion.stdout.contains("senstat"))
    }
}
