import Foundation
import Hummingbird
import Logging
import SENAPI
import SENStore
import ServiceLifecycle

/// hummingbird-auth's session storage on PostgreSQL: a `PersistDriver` over `WebSessionStore` (migration 0011),
/// which keys rows by the SHA-256 of the key so that no session id a browser holds is stored. Values are JSON.
public struct SessionPersistDriver: PersistDriver {
    let store: WebSessionStore
    let logger: Logger

    public init(database: Database, logger: Logger) {
        self.store = WebSessionStore(database: database)
        self.logger = logger
    }

    public func create<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        let json = String(decoding: try JSONEncoder.api.encode(value), as: UTF8.self)
        guard try await store.create(key: key, json: json, expires: expires, logger: logger) else { throw PersistError.duplicate }
    }

    public func set<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        let json = String(decoding: try JSONEncoder.api.encode(value), as: UTF8.self)
        try await store.set(key: key, json: json, expires: expires, logger: logger)
    }

    public func get<Object: Codable & Sendable>(key: String, as type: Object.Type) async throws -> Object? {
        try await getWithTTL(key: key, as: type)?.object
    }

    /// A stored value of another shape is `invalidConversion` (the session middleware then ends that session), not
    /// a default.
    public func getWithTTL<Object: Codable & Sendable>(key: String, as type: Object.Type) async throws -> (object: Object, ttl: Duration?)? {
        guard let (json, ttl) = try await store.get(key: key, logger: logger) else { return nil }
        do {
            return (try JSONDecoder.api.decode(Object.self, from: Data(json.utf8)), ttl)
        } catch {
            logger.notice("a stored session is not the value asked for", metadata: ["type": "\(Object.self)"])
            throw PersistError.invalidConversion
        }
    }

    public func remove(key: String) async throws {
        try await store.remove(key: key, logger: logger)
    }

    /// Expired rows are cleared as new sessions are created; nothing runs in the background.
    public func run() async throws {
        try? await gracefulShutdown()
    }
}
