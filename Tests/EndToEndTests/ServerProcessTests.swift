import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The built `senstat-server` binary, run as the README runs it: embedded PostgreSQL, demo, SIGTERM.
@Suite(.serialized) struct ServerProcessTests {
    /// The executables sit beside the test bundle in the build folder.
    static func executable(_ name: String) throws -> URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let url = bundle.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw Failure(description: "\(name) was not built at \(url.path)")
        }
        return url
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// A port nothing listens on right now (bind to 0, read it back, close).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func get(_ url: String) async -> (status: Int, body: String)? {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 3
        guard let (data, response) = try? await URLSession.shared.data(for: request),
            let http = response as? HTTPURLResponse
        else { return nil }
        return (http.statusCode, String(decoding: data, as: UTF8.self))
    }

    @Test func demoServesReadyAndSIGTERMLeavesNoPostgres() async throws {
        let dataDirectory = URL(fileURLWithPath: "/tmp/senstat-e2e-\(getpid())-\(UUID().uuidString.prefix(8))")
        let port = try Self.freePort()
        let log = dataDirectory.appendingPathExtension("log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        let server = Process()
        server.executableURL = try Self.executable("senstat-server")
        server.arguments = ["--demo", "--data-dir", dataDirectory.path, "--port", String(port)]
        server.standardOutput = logHandle
        server.standardError = logHandle
        let postmasterPID = dataDirectory.appendingPathComponent("pg/postmaster.pid").path
        defer {
            // Whatever happened above, leave nothing running.
            if server.isRunning { kill(server.processIdentifier, SIGKILL) }
            if FileManager.default.fileExists(atPath: postmasterPID),
                let text = try? String(contentsOfFile: postmasterPID, encoding: .utf8),
                let pid = text.split(separator: "\n").first.flatMap({ Int32($0) })
            {
                kill(pid, SIGQUIT)
            }
            try? FileManager.default.removeItem(at: dataDirectory)
            try? FileManager.default.removeItem(at: log)
        }
        try server.run()

        var ready: (status: Int, body: String)?
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            ready = await Self.get("http://127.0.0.1:\(port)/health/ready")
            if ready?.status == 200 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(ready?.status == 200, "server output:\n\(output)")
        #expect(ready?.body.contains("ready") == true)
        #expect(FileManager.default.fileExists(atPath: postmasterPID), "the embedded PostgreSQL runs in the data folder")
        #expect(output.contains("demo data loaded"))

        kill(server.processIdentifier, SIGTERM)
        let stopDeadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < stopDeadline,
            server.isRunning || FileManager.default.fileExists(atPath: postmasterPID)
        {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(!server.isRunning, "the server exits on SIGTERM")
        #expect(!FileManager.default.fileExists(atPath: postmasterPID), "the embedded PostgreSQL stops with the server")
        #expect(await Self.get("http://127.0.0.1:\(port)/health/live") == nil, "nothing listens any more")
    }
}
