import HTTPTypes
import Synchronization

/// The methods each registered route answers, recorded once the router is built, so that a request with another
/// method gets 405 with `Allow` rather than a bare 404.
final class AllowedMethods: Sendable {
    private let routes = Mutex<[(template: [Substring], methods: Set<HTTPRequest.Method>)]>([])

    /// `path` as the router describes it: `/v1/schools/{urn}`, captures in braces.
    func record(_ registered: [(path: String, method: HTTPRequest.Method)]) {
        var table: [(template: [Substring], methods: Set<HTTPRequest.Method>)] = []
        for route in registered {
            let template = route.path.split(separator: "/")
            if let index = table.firstIndex(where: { $0.template == template }) {
                table[index].methods.insert(route.method)
            } else {
                table.append((template, [route.method]))
            }
        }
        routes.withLock { $0 = table }
    }

    /// The methods of the first route whose template matches `path` (empty when none does).
    func methods(forPath path: String) -> Set<HTTPRequest.Method> {
        let segments = path.split(separator: "/")
        return routes.withLock { routes in
            for route in routes where route.template.count == segments.count {
                let matches = zip(route.template, segments).allSatisfy { template, segment in
                    template.hasPrefix("{") || template == segment
                }
                if matches { return route.methods }
            }
            return []
        }
    }
}
