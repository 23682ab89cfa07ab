import Foundation

/// The OpenAPI 3.1 document kept in the repo (`Sources/SENHTTP/Resources/openapi.yaml`), served at
/// `/openapi.yaml`. The tests hold it and the registered routes equal.
public struct OpenAPIDocument: Sendable {
    public let yaml: String

    public init(yaml: String) {
        self.yaml = yaml
    }

    public static func bundled() -> OpenAPIDocument {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { fatalError("openapi.yaml is missing from the senstat bundle") }
        return OpenAPIDocument(yaml: text)
    }
}
