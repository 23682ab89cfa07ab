import Foundation
import SENStore
import Testing

/// DATABASE_URL is read by libpq, exactly as psql reads it.
@Suite(.serialized) struct ConnectionStringTests {
    @Test func urlForm() throws {
        let endpoint = try DatabaseEndpoint.resolve("postgresql://alice:s%40cret@db.example:6432/senstat?sslmode=require")
        #expect(endpoint.address == .tcp(host: "db.example"))
        #expect(endpoint.port == 6432)
        #expect(endpoint.user == "alice")
        #expect(endpoint.password == "s@cret")
        #expect(endpoint.database == "senstat")
        #expect(endpoint.sslMode == .require)
        #expect(!endpoint.redacted.contains("s@cret"))
    }

    @Test func keywordFormWithSocketAndQuoting() throws {
        let endpoint = try DatabaseEndpoint.resolve("host=/var/run/postgresql port=5433 user=bob dbname='my db' password='it\\'s'")
        #expect(endpoint.address == .socketDirectory("/var/run/postgresql"))
        #expect(endpoint.port == 5433)
        #expect(endpoint.database == "my db")
        #expect(endpoint.password == "it's")
        // And back: libpq reads our keyword string to the same endpoint.
        #expect(try DatabaseEndpoint.resolve(endpoint.conninfo).database == "my db")
        #expect(try DatabaseEndpoint.resolve(endpoint.conninfo).password == "it's")
    }

    @Test func pgEnvironmentVariablesFillTheGaps() throws {
        setenv("PGPORT", "6543", 1)
        setenv("PGDATABASE", "from_env", 1)
        defer {
            unsetenv("PGPORT")
            unsetenv("PGDATABASE")
        }
        let endpoint = try DatabaseEndpoint.resolve("postgresql://carol@localhost")
        #expect(endpoint.port == 6543)
        #expect(endpoint.database == "from_env")
        // What the string says wins over the environment.
        #expect(try DatabaseEndpoint.resolve("postgresql://carol@localhost:5000/explicit").port == 5000)
    }

    @Test func badStringsAreRefusedWithLibpqsReason() {
        #expect(throws: DatabaseEndpoint.ConfigurationError.self) { try DatabaseEndpoint.resolve("postgresql://x/y?nosuchoption=1") }
        #expect(throws: DatabaseEndpoint.ConfigurationError.self) { try DatabaseEndpoint.resolve("host=localhost sslmode=sometimes") }
    }
}
