import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SENCore
import SENHTTP
import SENStore
import SENTestSupport
import Testing

/// DATABASE_READ_URL: reporting reads go to the replica once it has replayed the caller's last write. Here the
/// "replica" is a second pool on the same database (a primary has replayed everything), which shows the routing;
/// a caller whose noted write position lies ahead of it shows the fall-back to the primary; Deploy/scale-demo does
/// the same against a real streaming replica with replay paused.
@Suite struct ReadReplicaTests {
    static let readFrom = HTTPField.Name("Senstat-Read-From")!

    func database(_ db: TestDatabase, replica: DatabaseEndpoint?) -> Database {
        let logger = Logger.test
        return Database(
            client: Database.makeClient(endpoint: db.app, maximumConnections: 8, logger: logger),
            replica: replica.map { Database.makeClient(endpoint: $0, maximumConnections: 8, logger: logger) },
            deadline: .seconds(5))
    }

    /// The noted write position of the live demo token of `role` in trust A.
    func position(of role: String, _ db: TestDatabase) async throws -> String? {
        try await db.adminSQL(
            "SELECT last_write_lsn::text FROM api_tokens WHERE role = $1 AND trust_id = $2 AND revoked_at IS NULL",
            [role, DemoData.trusts[0].id.uuidString]
        ).first?[0] ?? nil
    }

    @Test func reportsReadTheReplicaAndOwnWritesAreReadBack() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let comparison = "/v1/trusts/\(f.trustA.id)/comparison?term=\(openTerm)"
            let benchmark = "/v1/schools/\(f.ownSchool.urn)/benchmark?term=\(openTerm)"
            let returnPath = "/v1/schools/\(f.ownSchool.urn)/sen-returns/\(openTerm)"
            let body = #"{"pupils_on_roll": 420, "sen_support": 61, "ehc_plan": 14}"#
            try await withApp(db, database: database(db, replica: db.app)) { client in
                try await client.execute(uri: comparison, method: .get, headers: f.headers("trust_executive")) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[Self.readFrom] == "replica")
                }
                // Not a report: the caller's identity and its own return (whose ETag the next write must match).
                try await client.execute(uri: "/v1/me", method: .get, headers: f.headers("school_leader")) { response in
                    #expect(response.headers[Self.readFrom] == nil)
                }
                try await client.execute(uri: returnPath, method: .put, headers: f.headers("school_leader"), body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .created)
                }
                try await client.execute(uri: returnPath, method: .get, headers: f.headers("school_leader")) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[Self.readFrom] == nil)
                }
            }
            // The write noted the primary's position on the writer's token only.
            #expect(try await position(of: "school_leader", db) != nil)
            #expect(try await position(of: "trust_executive", db) == nil)

            // A replica that has not replayed the caller's write: the read goes to the primary, and still answers.
            try await db.adminSQL("UPDATE api_tokens SET last_write_lsn = 'FFFFFFFF/0' WHERE role = 'school_leader' AND revoked_at IS NULL")
            try await withApp(db, database: database(db, replica: db.app)) { client in
                try await client.execute(uri: benchmark, method: .get, headers: f.headers("school_leader")) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[Self.readFrom] == "primary")
                }
                try await client.execute(uri: benchmark, method: .get, headers: f.headers("trust_executive")) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[Self.readFrom] == "replica")
                }
            }
        }
    }

    @Test func anUnreachableReplicaFallsBackToThePrimary() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let nowhere = try DatabaseEndpoint.resolve("postgresql://senstat_app@127.0.0.1:1/senstat")
            try await withApp(db, database: database(db, replica: nowhere)) { client in
                let path = "/v1/trusts/\(f.trustA.id)/completeness?term=\(openTerm)"
                try await client.execute(uri: path, method: .get, headers: f.headers("trust_executive")) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[Self.readFrom] == "primary")
                }
                // Then the replica is skipped for a while: the next reads do not wait for it again.
                let started = ContinuousClock.now
                for _ in 0..<3 {
                    try await client.execute(uri: path, method: .get, headers: f.headers("trust_executive")) { response in
                        #expect(response.headers[Self.readFrom] == "primary")
                    }
                }
                // Three reads that each waited on the replica again would take three deadlines (15 s); a 2-core
                // machine takes about a second for three debug-build requests, and up to 5 under the whole suite's
                // load. Past the 5-second skip one read may wait on the replica again, as designed: 12 s allows
                // that and still fails if every read waits.
                #expect(ContinuousClock.now - started < .seconds(12))
            }
        }
    }

    /// Research with differential privacy writes its ledger in a GET: the ledger goes to the primary while the
    /// answer reads the replica's read-only transaction.
    @Test func privacyLedgerWritesThePrimaryInARoutedRead() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            try await db.withDatabase { database in
                let logger = Logger.test
                try await DemoData.loadReturns(into: ReturnsStore(database: database), logger: logger)
                try await DemoData.releaseTerms(into: ResearchStore(database: database), logger: logger)
            }
            try await withApp(db, database: database(db, replica: db.app)) { client in
                try await client.execute(uri: "/v1/research/sen?term=2024-25-summer&privacy=dp&epsilon=0.5&group_by=region", method: .get, headers: f.headers("researcher")) { response in
                    #expect(response.status == .ok, "\(response.text)")
                    #expect(response.headers[Self.readFrom] == "replica")
                    #expect(response.headers[HTTPField.Name("Privacy-Budget-Remaining")!] == "0.5")
                }
            }
            #expect(try await db.adminSQL("SELECT spent_micro FROM dp_budgets").first?[0] == "500000")
        }
    }
}
