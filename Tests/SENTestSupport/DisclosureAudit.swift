import Foundation

/// The linear-programming audit of disclosure control (Tests/privacy/lp_audit.py, scipy's HiGHS): for every hidden
/// value of every table, the range consistent with everything its release publishes.
public enum DisclosureAudit {
    /// Runs the audit on `releases` (the script's input format) and returns its report: releases, programmes,
    /// violation_count and the first violations. Empty if the script could not run.
    public static func run(_ releases: [[String: Any]]) async throws -> [String: Any] {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("lp-audit-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: ["releases": releases]).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let (_, output) = try await Script.run("python3", ["Tests/privacy/lp_audit.py", input.path])
        // The report is the one line of JSON the script prints; anything else is a warning or an error.
        for line in output.split(separator: "\n").reversed() {
            if let report = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] { return report }
        }
        print("lp_audit.py printed no report (is scipy installed? Tests/privacy/requirements.txt):\n\(output)")
        return [:]
    }
}
