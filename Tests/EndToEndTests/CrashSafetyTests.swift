import Foundation
import SENTestSupport
import Testing

/// The short form of Tests/crash/crash_safety.py: 20 clients, three crash cycles (SIGKILL of the server,
/// `pg_ctl stop -m immediate` of its database), then every acknowledged submission present exactly once.
@Suite(.serialized) struct CrashSafetyTests {
    @Test func acknowledgedSubmissionsSurviveCrashesExactlyOnce() throws {
        let (status, text) = try Script.run(
            "python3",
            ["Tests/crash/crash_safety.py", "--cycles", "3", "--clients", "20", "--server", try ServerProcessTests.executable("senstat-server").path])
        #expect(status == 0, "\(text)")
        #expect(text.contains("lost 0, duplicated 0"), "\(text)")
    }
}
