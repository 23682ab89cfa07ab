import Hummingbird
import Logging
import NIOCore

/// The request context of every route. Later it carries the authenticated principal (role, trust, schools).
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// JSON bodies are small; CSV uploads stream and are capped on their own routes.
    public var maxUploadSize: Int { 1 << 20 }
}
