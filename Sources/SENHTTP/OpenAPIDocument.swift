import Foundation
import HTTPTypes

/// The OpenAPI 3.1 document kept in the repo (`Sources/SENHTTP/Resources/openapi.yaml`): served at
/// `/openapi.yaml`, and read for the methods each path allows (405 with `Allow` rather than a bare 404).
public struct OpenAPIDocument: Sendable {
    public let yaml: String
    /// Path templates (`/v1/schools/{urn}`) and their methods.
    public let operations: [(template: [Substring], methods: Set<HTTPRequest.Method>)]

    public init(yaml: String) {
        self.yaml = yaml
        self.operations = Self.parsePaths(yaml)
    }

    public static func bundled() -> OpenAPIDocument {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { fatalError("openapi.yaml is missing from the senstat bundle") }
        return OpenAPIDocument(yaml: text)
    }

    /// Reads the `paths:` block: a path at two spaces of indent, its methods at four.
    static func parsePaths(_ yaml: String) -> [(template: [Substring], methods: Set<HTTPRequest.Method>)] {
        var result: [(template: [Substring], methods: Set<HTTPRequest.Method>)] = []
        var inPaths = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: true) {
            if !line.hasPrefix(" ") {
                inPaths = line.hasPrefix("paths:")
                continue
            }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), let colon = line.lastIndex(of: ":") {
                let path = line[line.index(line.startIndex, offsetBy: 2)..<colon]
                result.append((path.split(separator: "/"), []))
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let colon = line.firstIndex(of: ":"),
                case let name = String(line[line.index(line.startIndex, offsetBy: 4)..<colon]),
                ["get", "put", "post", "delete", "patch", "head", "options"].contains(name),
                let method = HTTPRequest.Method(name.uppercased()), !result.isEmpty
            {
                result[result.count - 1].methods.insert(method)
            }
        }
        return result
    }

    /// The documented methods of the first path template that matches `path` (empty when none does).
    public func methods(forPath path: String) -> Set<HTTPRequest.Method> {
        let segments = path.split(separator: "/")
        for operation in operations where operation.template.count == segments.count {
            let matches = zip(operation.template, segments).allSatisfy { template, segment in
                template.hasPrefix("{") || template == segment
            }
            if matches { return operation.methods }
        }
        return []
    }
}
