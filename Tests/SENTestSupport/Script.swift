import Foundation

/// The repository's scripts (crash safety, contract run, backup drill), run to their end from the tests.
public enum Script {
    /// The repository's root folder.
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `executable` (a path, or a name looked up in PATH) with `arguments` from the root folder; its exit
    /// status and everything it printed on standard output and standard error, interleaved.
    ///
    /// Async, and waited for on a Dispatch thread: a test that waits minutes for a script must not hold one of the
    /// few threads of Swift's cooperative pool (two on a 2-core machine), or every other test stalls meanwhile.
    ///
    /// A script still running after `timeLimit` is sent SIGTERM (then SIGKILL ten seconds later), and the run
    /// answers what it printed so far with "timed out" appended and a non-zero status: a script that hangs fails
    /// its test in minutes rather than holding the whole test run until CI's own limit.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], timeLimit: Duration = .seconds(900)
    ) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runBlocking(executable, arguments, environment: environment, timeLimit: timeLimit) })
            }
        }
    }

    private static func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String], timeLimit: Duration) throws
        -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // A file, not a pipe: a chatty script cannot fill a pipe's buffer and stall while nobody reads it.
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("senstat-script-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        let ended = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in ended.signal() }
        try process.run()
        let seconds = Double(timeLimit.components.seconds) + Double(timeLimit.components.attoseconds) / 1e18
        var timedOut = false
        if ended.wait(timeout: .now() + seconds) == .timedOut {
            timedOut = true
            process.terminate()
            if ended.wait(timeout: .now() + 10) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                ended.wait()
            }
        }
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        if timedOut { return (124, text + "\ntimed out: \(executable) \(arguments.joined(separator: " ")) ran longer than \(timeLimit)") }
        return (process.terminationStatus, text)
    }
}
