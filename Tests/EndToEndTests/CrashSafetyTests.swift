import Foundation
import SENTestSupport
import Testing

extension ScriptRuns {
    /// The short form of Tests/crash/crash_safety.py: 20 clients, three crash cycles (SIGKILL of the server,
    /// `pg_ctl stop -m immediate` of its database), then every acknowledged submission present exactly once. Values
    /// wrap every 25 writes, so the run also shows a client's bodies stay valid however long it goes on.
    @Suite struct CrashSafetyTests {
        @Test func acknowledgedSubmissionsSurviveCrashesExactlyOnce() async throws {
            let (status, text) = try await Script.run(
                "python3",
                ["Tests/crash/crash_safety.py", "--cycles", "3", "--clients", "20", "--period", "25", "--server", try ServerProcessTests.executable("senstat-server").path],
                timeLimit: .seconds(600))
            #expect(status == 0, "\(text)")
            #expect(text.contains("lost 0") && text.contains("crash safety: 1 passed, 0 failed"), "\(text)")
            #expect(!text.contains("DIED"), "every client lived to the end: \(text)")
            // Per-client figures, one line each (15 PUT clients and 5 importers).
            #expect(text.split(separator: "\n").filter { $0.hasPrefix("  put ") || $0.hasPrefix("  importer") }.count == 20)
        }
    }
}
