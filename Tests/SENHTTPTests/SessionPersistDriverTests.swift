import Crypto
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import SENHTTP
import SENStore
import SENTestSupport
import Testing

/// The web app's session storage on PostgreSQL, against PersistDriver's contract, and what it keeps of a key.
@Suite struct SessionPersistDriverTests {
    struct Session: Codable, Sendable, Equatable {
        let tokenID: String
        let csrf: String
    }

    @Test func createGetSetAndRemoveAsPersistDriverSays() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                let driver = SessionPersistDriver(database: database, logger: .test)
                let value = Session(tokenID: "t1", csrf: "c1")
                try await driver.create(key: "k1", value: value, expires: .seconds(600))
                let (found, ttl) = try #require(try await driver.getWithTTL(key: "k1", as: Session.self))
                #expect(found == value)
                let left = try #require(ttl)
                #expect(left > .seconds(590) && left <= .seconds(600))
                // A key that exists cannot be created again.
                await #expect(throws: PersistError.duplicate) {
                    try await driver.create(key: "k1", value: value, expires: .seconds(600))
                }
                // Set without an expiry keeps the one the key has; with one, replaces it.
                try await driver.set(key: "k1", value: Session(tokenID: "t1", csrf: "c2"), expires: nil)
                let kept = try #require(try await driver.getWithTTL(key: "k1", as: Session.self))
                #expect(kept.object.csrf == "c2" && (kept.ttl ?? .zero) > .seconds(590))
                try await driver.set(key: "k1", value: value, expires: .seconds(30))
                #expect(try #require(try await driver.getWithTTL(key: "k1", as: Session.self)).ttl ?? .zero <= .seconds(30))
                // Without any expiry, none is reported.
                try await driver.set(key: "forever", value: value, expires: nil)
                #expect(try #require(try await driver.getWithTTL(key: "forever", as: Session.self)).ttl == nil)
                // Another shape is an error, not a default.
                await #expect(throws: PersistError.invalidConversion) { _ = try await driver.get(key: "k1", as: Int.self) }
                try await driver.remove(key: "k1")
                #expect(try await driver.get(key: "k1", as: Session.self) == nil)
                #expect(try await driver.get(key: "never-set", as: Session.self) == nil)
            }
        }
    }

    @Test func anExpiredSessionIsGoneAndItsKeyCanBeCreatedAgain() async throws {
        try await withTestDatabase { db in
            try await db.withDatabase { database in
                let driver = SessionPersistDriver(database: database, logger: .test)
                try await driver.create(key: "short", value: Session(tokenID: "t", csrf: "c"), expires: .milliseconds(20))
                try await Task.sleep(for: .milliseconds(100))
                #expect(try await driver.get(key: "short", as: Session.self) == nil)
                try await driver.create(key: "short", value: Session(tokenID: "t2", csrf: "c"), expires: .seconds(60))
                #expect(try await driver.get(key: "short", as: Session.self)?.tokenID == "t2")
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM web_sessions") == [["1"]], "the expired row was cleared")
        }
    }

    /// Extending a session's idle window touches only a live row (migration 0017): a session removed meanwhile (a
    /// sign-out) is not written back, an expired one is not revived, and one another transaction holds is skipped
    /// at once rather than waited for.
    @Test func aTouchExtendsOnlyALiveSessionThatNoOneHolds() async throws {
        try await withTestDatabase { db in
            let value = Session(tokenID: "t", csrf: "c")
            try await db.withDatabase { database in
                let driver = SessionPersistDriver(database: database, logger: .test)
                let store = WebSessionStore(database: database)
                try await driver.create(key: "web.live", value: value, expires: .seconds(300))
                #expect(try await store.touch(key: "web.live", expires: .seconds(1800), logger: .test))
                let ttl = try #require(try await driver.getWithTTL(key: "web.live", as: Session.self)?.ttl)
                #expect(ttl > .seconds(1790), "extended to the new window")
                #expect(try await driver.get(key: "web.live", as: Session.self) == value, "the value is as it was")

                try await driver.remove(key: "web.live")
                #expect(try await store.touch(key: "web.live", expires: .seconds(1800), logger: .test) == false)
                #expect(try await driver.get(key: "web.live", as: Session.self) == nil, "a removed session stays removed")

                try await driver.create(key: "web.short", value: value, expires: .milliseconds(20))
                try await Task.sleep(for: .milliseconds(100))
                #expect(try await store.touch(key: "web.short", expires: .seconds(1800), logger: .test) == false)
                #expect(try await driver.get(key: "web.short", as: Session.self) == nil, "an expired session is not revived")

                try await driver.create(key: "web.held", value: value, expires: .seconds(300))
            }
            func hex(_ key: String) -> String { Data(SHA256.hash(data: Data(key.utf8))).map { String(format: "%02x", $0) }.joined() }
            #expect(
                try await db.adminSQL("SELECT count(*) FROM web_sessions WHERE key_digest = decode($1, 'hex')", [hex("web.live")]) == [["0"]],
                "the removed row was not written back")
            // Another transaction holds the row; a deadline of 20 s: waiting for it fails, skipping it takes milliseconds.
            let (touched, waited, stillLocked) = try await db.whileAnotherTransactionHolds(
                "SELECT 1 FROM web_sessions WHERE key_digest = decode($1, 'hex') FOR UPDATE", [hex("web.held")]
            ) { database in
                try await WebSessionStore(database: database).touch(key: "web.held", expires: .seconds(1800), logger: .test)
            }
            #expect(stillLocked, "the row was held throughout")
            #expect(waited < .seconds(15), "the touch did not wait for the row (\(waited))")
            #expect(touched == false, "a held row is left to its holder")
        }
    }

    /// A session id is a bearer credential: only its SHA-256 is stored, and the server role reaches the table only
    /// through the session functions.
    @Test func onlyTheKeysDigestIsStoredAndTheServerRoleCannotReadTheTable() async throws {
        try await withTestDatabase { db in
            let key = "a-session-id-\(UUID().uuidString)"
            try await db.withDatabase { database in
                try await SessionPersistDriver(database: database, logger: .test)
                    .create(key: key, value: Session(tokenID: "t", csrf: "c"), expires: .seconds(60))
                await #expect(throws: (any Error).self, "no grant on the table") {
                    try await database.client.collect("SELECT count(*) FROM web_sessions", logger: .test).rows
                }
            }
            let rows = try await db.adminSQL("SELECT encode(key_digest, 'hex'), value::text FROM web_sessions")
            let digest = SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(rows.map { $0[0] } == [digest])
            #expect(!(rows[0][1] ?? "").contains(key))
        }
    }
}
