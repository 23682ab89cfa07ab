import Foundation
import Testing

/// The short form of Tests/crash/crash_safety.py: 20 clients, three crash cycles (SIGKILL of the server,
/// `pg_ctl stop -m immediate` of its database), then every acknowledged submission present exactly once.
@Suite(.serialized) struct CrashSafetyTests {
    @Test func acknowledgedSubmissionsSurviveCrashesExactlyOnce() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", root.appendingPathComponent("Tests/crash/crash_safety.py").path, "--cycles", "3", "--clients", "20",
            "--server", try ServerProcessTests.executable("senstat-server").path,
        ]
        process.currentDirectoryURL = root
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("senstat-crash-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: output)
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("lost 0, duplicated 0"), "\(text)")
    }
}
