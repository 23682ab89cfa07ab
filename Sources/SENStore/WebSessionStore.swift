import Crypto
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The web app's session storage (migration 0011): values as JSON text with an optional expiry, keyed by the
/// SHA-256 of the key, so the session ids browsers hold are never stored. Reached only through the migration's
/// functions: sessions are read before any tenant is known.
public struct WebSessionStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Stores a new key; false when it exists and has not expired.
    public func create(key: String, json: String, expires: Duration?, logger: Logger) async throws -> Bool {
        let (digest, ttl, client) = (Self.digest(key), Self.milliseconds(expires), database.client)
        return try await database.withDeadline {
            let rows = try await client.collect("SELECT web_session_create(\(digest), \(json)::jsonb, \(ttl))", logger: logger)
            for try await created in rows.decode(Bool.self) { return created }
            return false
        }
    }

    /// Stores a key's value; with `expires` nil, an existing expiry is kept.
    public func set(key: String, json: String, expires: Duration?, logger: Logger) async throws {
        let (digest, ttl) = (Self.digest(key), Self.milliseconds(expires))
        let client = database.client
        try await database.withDeadline {
            _ = try await client.collect("SELECT web_session_set(\(digest), \(json)::jsonb, \(ttl))", logger: logger)
        }
    }

    /// Extends an existing, unexpired key's expiry to `expires` from now, without writing its value (migration
    /// 0017); true when this call extended it. A key that is gone (a session ended meanwhile) stays gone, and one
    /// that another request holds locked is left to that request.
    public func touch(key: String, expires: Duration, logger: Logger) async throws -> Bool {
        let (digest, ttl, client) = (Self.digest(key), Self.milliseconds(expires), database.client)
        return try await database.withDeadline {
            let rows = try await client.collect("SELECT web_session_touch(\(digest), \(ttl))", logger: logger)
            for try await touched in rows.decode(Bool.self) { return touched }
            return false
        }
    }

    /// The value and the time it has left (nil: no expiry), unless it is missing or has expired.
    public func get(key: String, logger: Logger) async throws -> (json: String, ttl: Duration?)? {
        let (digest, client) = (Self.digest(key), database.client)
        let found = try await database.withDeadline { () -> (String, Int64?)? in
            let rows = try await client.collect("SELECT value::text, ttl_ms FROM web_session_get(\(digest))", logger: logger)
            for try await row in rows.decode((String, Int64?).self) { return row }
            return nil
        }
        return found.map { ($0.0, $0.1.map { Duration.milliseconds($0) }) }
    }

    /// Removes a key and returns its value if it had not expired, in one statement: of two requests that take the
    /// same key at once, one gets the value and the other nothing (a pending sign-in is used once).
    public func take(key: String, logger: Logger) async throws -> String? {
        let (digest, client) = (Self.digest(key), database.client)
        return try await database.withDeadline { () -> String? in
            let rows = try await client.collect("SELECT web_session_take(\(digest))::text", logger: logger)
            for try await value in rows.decode(String?.self) { return value }
            return nil
        }
    }

    public func remove(key: String, logger: Logger) async throws {
        let (digest, client) = (Self.digest(key), database.client)
        try await database.withDeadline {
            _ = try await client.collect("SELECT web_session_remove(\(digest))", logger: logger)
        }
    }

    static func digest(_ key: String) -> ByteBuffer { ByteBuffer(bytes: SHA256.hash(data: Data(key.utf8))) }

    static func milliseconds(_ duration: Duration?) -> Int64? {
        duration.map { $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 }
    }
}
