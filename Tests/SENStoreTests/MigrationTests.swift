import Foundation
import Logging
import SENStore
import SENTestSupport
import Testing

@Suite struct MigrationTests {
    let logger = Logger.test

    @Test func migratesFromZeroAndRecordsEveryFileWithItsChecksum() async throws {
        let bundled = try Migrator.bundled(logger: logger)
        #expect(!bundled.migrations.isEmpty)
        try await withTestDatabase { db in
            // A database with nothing in it, owned by the owner role.
            let empty = db.name + "_empty"
            try await db.adminSQL("CREATE DATABASE \(empty) OWNER senstat_owner")
            let owner = db.owner.with(database: empty)
            let applied = try await bundled.migrate(owner: owner)
            #expect(applied == bundled.migrations.map(\.fileName))
            let recorded = try await LibPQ.runScript(on: owner) {
                try $0.execute("SELECT file_name, checksum FROM schema_migrations ORDER BY version")
            }
            #expect(recorded.map { $0[0]! } == bundled.migrations.map(\.fileName))
            #expect(recorded.map { $0[1]! } == bundled.migrations.map(\.checksum))
            // Running again changes nothing.
            #expect(try await bundled.migrate(owner: owner).isEmpty)
            try await db.adminSQL("DROP DATABASE \(empty) WITH (FORCE)")
        }
    }

    @Test func aChangedAppliedFileStopsMigrationAndNamesTheFile() async throws {
        let bundled = try Migrator.bundled(logger: logger)
        let first = bundled.migrations[0]
        var changed = bundled.migrations
        changed[0] = Migration(version: first.version, fileName: first.fileName, sql: first.sql + "\n-- edited\n")
        try await withTestDatabase { db in
            let error = await #expect(throws: MigrationError.self) {
                try await Migrator(migrations: changed, logger: logger).migrate(owner: db.owner)
            }
            #expect(error?.description.contains(first.fileName) == true)
            #expect(error?.description.contains("changed after it was applied") == true)
        }
    }

    @Test func aFailingMigrationNamesFileAndLineAndLeavesNothingBehind() async throws {
        let bundled = try Migrator.bundled(logger: logger)
        let broken = Migration(
            version: 9_000, fileName: "9000_broken.sql",
            sql: "CREATE TABLE half_done (id int);\n\nSELECT * FROM no_such_table;\n")
        try await withTestDatabase { db in
            let error = await #expect(throws: MigrationError.self) {
                try await Migrator(migrations: bundled.migrations + [broken], logger: logger).migrate(owner: db.owner)
            }
            #expect(error == .failed(fileName: "9000_broken.sql", line: 3, message: #"relation "no_such_table" does not exist"#))
            let leftovers = try await db.adminSQL("SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'")
            #expect(leftovers == [["0"]])
            let recorded = try await db.adminSQL("SELECT count(*) FROM schema_migrations WHERE version = 9000")
            #expect(recorded == [["0"]])
        }
    }

    @Test func aMissingAppRoleIsExplained() async throws {
        try await withTestDatabase { db in
            let error = await #expect(throws: MigrationError.self) {
                try await Migrator.bundled(logger: logger).migrate(owner: db.owner, appRole: "no_such_role")
            }
            #expect(error == .missingRole("no_such_role"))
        }
    }

    @Test func badFileNamesAreRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("senstat-mig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("SELECT 1;".utf8).write(to: folder.appendingPathComponent("first.sql"))
        #expect(throws: MigrationError.badFileName("first.sql")) { try Migrator.load(from: folder) }
    }

    /// The SQL seed of academic_terms and the core's census-day rule must agree for every seeded term.
    @Test func seededCensusDaysMatchTheCoreRule() async throws {
        try await withTestDatabase { db in
            let rows = try await db.adminSQL("SELECT term, census_day::text, deadline::text FROM academic_terms")
            #expect(rows.count == AcademicTerm.knownStartYears.count * 3)
            let years = try await db.adminSQL("SELECT min(start_year)::text, max(start_year)::text FROM academic_terms")
            #expect(years == [[String(AcademicTerm.knownStartYears.lowerBound), String(AcademicTerm.knownStartYears.upperBound)]],
                    "the API's term range is the seeded one")
            for row in rows {
                let term = try #require(AcademicTermParser.parse(row[0]!))
                #expect(term.censusDay == row[1]!, "\(row[0]!)")
                #expect(term.deadline == row[2]!, "\(row[0]!)")
            }
        }
    }
}

import SENCore

enum AcademicTermParser {
    static func parse(_ text: String) -> (censusDay: String, deadline: String)? {
        AcademicTerm(text).map { ($0.censusDay.description, $0.deadline.description) }
    }
}
