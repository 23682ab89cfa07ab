import Foundation

/// Values computed independently by scipy (Tests/statistics/references.py), to compare senstat's statistics with.
public enum StatisticsReference {
    public static func values(_ task: String, _ cases: [[String: Any]]) async throws -> [Double] {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("stats-ref-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: ["task": task, "cases": cases]).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let (status, output) = try await Script.run("python3", ["Tests/statistics/references.py", input.path])
        for line in output.split(separator: "\n").reversed() {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let values = object["values"] as? [Double]
            {
                return values
            }
        }
        throw ReferenceFailed(status: status, output: output)
    }

    public struct ReferenceFailed: Error, CustomStringConvertible {
        public let status: Int32
        public let output: String
        public var description: String { "references.py exited \(status): \(output.suffix(2000))" }
    }
}
