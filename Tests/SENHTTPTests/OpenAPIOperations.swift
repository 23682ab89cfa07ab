import HTTPTypes

@testable import SENHTTP

extension OpenAPIDocument {
    /// Path templates (`/v1/schools/{urn}`) and their methods, read from the `paths:` block of the repo's document
    /// (a path at two spaces of indent, its methods at four) — for the tests that hold the document and the routes
    /// equal. The server itself answers 405 from the routes it registered.
    var operations: [(template: [Substring], methods: Set<HTTPRequest.Method>)] {
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
    func methods(forPath path: String) -> Set<HTTPRequest.Method> {
        let segments = path.split(separator: "/")
        for operation in operations where operation.template.count == segments.count {
            if zip(operation.template, segments).allSatisfy({ $0.hasPrefix("{") || $0 == $1 }) { return operation.methods }
        }
        return []
    }
}
