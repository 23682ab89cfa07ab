import Foundation
import SENStore
import Testing

@Suite struct EmbeddedPostgresTests {
    @Test func noBinariesGivesAOneLineInstallHint() {
        let error = #expect(throws: EmbeddedPostgres.Failure.self) {
            try EmbeddedPostgres.findBinaries(environment: ["PATH": "/nonexistent"], debian: "/nonexistent")
        }
        #expect(error?.description.contains("apt-get install -y postgresql") == true)
        #expect(error?.description.contains("\n") == false)
    }

    @Test func prefersSENSTAT_PG_BINThenTheNewestDebianVersion() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("senstat-pgbin-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for folder in ["debian/14/bin", "debian/16/bin", "explicit"] {
            let directory = root.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for tool in ["initdb", "pg_ctl", "postgres"] {
                let path = directory.appendingPathComponent(tool).path
                FileManager.default.createFile(atPath: path, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
            }
        }
        let debian = root.appendingPathComponent("debian").path
        #expect(try EmbeddedPostgres.findBinaries(environment: [:], debian: debian).path.hasSuffix("debian/16/bin"))
        let explicit = root.appendingPathComponent("explicit").path
        #expect(try EmbeddedPostgres.findBinaries(environment: ["SENSTAT_PG_BIN": explicit], debian: debian).path == explicit)
    }
}
