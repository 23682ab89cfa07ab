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
        let deadline = ContinuousClock.now + .seconds(300)
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

extension ServerProcessTests {
    /// `pg_ctl stop -m immediate` on the server's private cluster, as the user that owns it: a crash, from the
    /// server's point of view.
    static func crashPostgres(dataDirectory: URL) throws {
        let bin = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")
            .sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }.first.map { "/usr/lib/postgresql/\($0)/bin/pg_ctl" } ?? "pg_ctl"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let command = "\(bin) -D '\(dataDirectory.appendingPathComponent("pg").path)' -m immediate -w stop"
        process.arguments = ["-c", getuid() == 0 ? "runuser -u postgres -- \(command)" : command]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure(description: "pg_ctl stop failed") }
    }

    /// The private PostgreSQL dies: requests answer 503 quickly instead of hanging, /health/ready says so, and
    /// the server starts its database again and recovers without being restarted itself.
    @Test func theServerNoticesItsPostgresDiedAndRecovers() async throws {
        let dataDirectory = URL(fileURLWithPath: "/tmp/senstat-e2e-crash-\(getpid())-\(UUID().uuidString.prefix(8))")
        let port = try Self.freePort()
        let server = Process()
        server.executableURL = try Self.executable("senstat-server")
        server.arguments = ["--data-dir", dataDirectory.path, "--port", String(port), "--log-level", "warning"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        let postmasterPID = dataDirectory.appendingPathComponent("pg/postmaster.pid").path
        defer {
            kill(server.processIdentifier, SIGTERM)
            for _ in 0..<300 where server.isRunning || FileManager.default.fileExists(atPath: postmasterPID) { usleep(100_000) }
            try? FileManager.default.removeItem(at: dataDirectory)
        }
        try server.run()
        let base = "http://127.0.0.1:\(port)"
        func waitFor(_ status: Int, within seconds: Int) async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(seconds)
            while ContinuousClock.now < deadline {
                if await Self.get("\(base)/health/ready")?.status == status { return true }
                try await Task.sleep(for: .milliseconds(200))
            }
            return false
        }
        #expect(try await waitFor(200, within: 90))

        try Self.crashPostgres(dataDirectory: dataDirectory)
        let start = ContinuousClock.now
        let during = await Self.get("\(base)/health/ready")
        let elapsed = ContinuousClock.now - start
        // A restart takes the watchdog a second or more, so right after the crash the database is down.
        #expect(during?.status == 503)
        #expect(during?.body.contains("does not answer") == true)
        #expect(elapsed < .seconds(3), "no request is parked waiting for a dead database")
        #expect(try await waitFor(200, within: 30), "the server restarted its PostgreSQL and recovered")
        #expect(server.isRunning)
    }
}
