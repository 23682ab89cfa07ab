import Foundation
import SENTestSupport
import Testing

extension ScriptRuns {
    /// The short form of Tests/fuzz/http_fuzz.py: 20 seconds of mutated bodies to every operation that reads one,
    /// through the built server on its embedded PostgreSQL; not one 5xx, no dropped connection, the server alive.
    /// The long runs (ten minutes of it, and of libFuzzer over SENCore's readers) are in Docs/reliability.md.
    @Suite struct FuzzTests {
        @Test func mutatedBodiesNeverGetA5xx() async throws {
            let (status, text) = try await Script.run(
                "python3", ["Tests/fuzz/http_fuzz.py", "--seconds", "20", "--server", try ServerProcessTests.executable("senstat-server").path])
            #expect(status == 0, "\(text)")
            #expect(text.contains("http fuzz: 0 failures"), "\(text)")
            // It sent a real load, to every kind of body (a run that sends nothing must not pass).
            let sent = text.split(separator: "\n").first { $0.hasPrefix("http fuzz: ") && $0.contains(" requests in ") }
            let count = sent.flatMap { Int($0.split(separator: " ")[2]) } ?? 0
            #expect(count > 200, "\(text)")
            for operation in ["PUT schools", "POST tokens", "POST trusts", "POST admin", "POST instruments", "DELETE schools"] {
                #expect(text.contains(operation), "\(operation) was fuzzed")
            }
        }
    }
}
