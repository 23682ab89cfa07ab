import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SENCore
import SENAPI
import SENHTTP
import SENStore
import SENTestSupport
import Testing

/// Tests/Fixtures/bad-input/cases.json: every case answers its 4xx problem+json naming the problem, and the
/// database is exactly as it was.
@Suite struct BadInputTests {
    struct Case: Decodable {
        struct Generate: Decodable {
            let byte: String
            let size: Int
        }

        let name: String
        let method: String
        let path: String
        let contentType: String?
        let body: String?
        let bodyBase64: String?
        let generate: Generate?
        let status: Int
        let mentions: String?
        let pointers: [String]?
        let cells: [String]?

        enum CodingKeys: String, CodingKey {
            case name, method, path, body, generate, status, mentions, pointers, cells
            case contentType = "content_type"
            case bodyBase64 = "body_base64"
        }
    }

    struct Corpus: Decodable {
        let cases: [Case]
    }

    static func corpus() throws -> [Case] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/bad-input/cases.json")
        return try JSONDecoder().decode(Corpus.self, from: Data(contentsOf: url)).cases
    }

    static let tables = ["trusts", "schools", "trust_memberships", "api_tokens", "sen_returns", "sen_return_versions", "audit_log", "idempotency_keys"]

    func snapshot(_ db: TestDatabase) async throws -> [[String?]] {
        try await db.adminSQL(Self.tables.map { "SELECT '\($0)', count(*)::text FROM \($0)" }.joined(separator: " UNION ALL "))
    }

    @Test func everyCaseIsRefusedAndNothingChanges() async throws {
        let cases = try Self.corpus()
        #expect(cases.count >= 25)
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let before = try await snapshot(db)
            try await withApp(db) { client in
                for item in cases {
                    var body: ByteBuffer?
                    if let text = item.body { body = ByteBuffer(string: text) }
                    if let encoded = item.bodyBase64, let data = Data(base64Encoded: encoded) { body = ByteBuffer(bytes: data) }
                    if let generate = item.generate { body = ByteBuffer(repeating: generate.byte.utf8.first!, count: generate.size) }
                    var headers = f.headers("trust_executive")
                    if let type = item.contentType { headers[.contentType] = type }
                    headers[HTTPField.Name("Idempotency-Key")!] = "bad-\(item.name)"
                    let path = item.path.replacingOccurrences(of: "{trust}", with: f.trustA.id.uuidString)
                    try await client.execute(uri: path, method: HTTPRequest.Method(item.method)!, headers: headers, body: body) { response in
                        #expect(response.status.code == item.status, "\(item.name)")
                        #expect(response.headers[.contentType] == "application/problem+json", "\(item.name)")
                        let details = try response.problem
                        if let mentions = item.mentions {
                            let said = ([details.detail ?? ""] + (details.errors ?? []).map(\.message)).joined(separator: " | ")
                            #expect(said.contains(mentions), "\(item.name): \(said)")
                        }
                        if let pointers = item.pointers {
                            let found = Set((details.errors ?? []).compactMap(\.pointer))
                            #expect(found.isSuperset(of: pointers), "\(item.name): \(found)")
                        }
                        if let cells = item.cells {
                            let found = (details.errors ?? []).map { "\($0.row ?? 0):\($0.column ?? "")" }
                            #expect(Set(found).isSuperset(of: cells), "\(item.name): \(found)")
                        }
                    }
                }
            }
            #expect(try await snapshot(db) == before, "nothing was stored")
        }
    }

    /// The other half of the corpus: files that look odd but are valid are accepted, and text that a spreadsheet
    /// would run as a formula comes back escaped in every CSV export.
    @Test func oddButValidFilesAreAcceptedAndFormulasComeBackEscaped() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let header = "urn,pupils_on_roll,sen_support,ehc_plan\r\n"
            let files: [(String, [UInt8])] = [
                ("UTF-8 with BOM and CRLF", [0xEF, 0xBB, 0xBF] + Array((header + "990101,420,60,14\r\n").utf8)),
                ("Windows-1252, LF", Array("urn,pupils_on_roll,sen_support,ehc_plan\n990102,210,30,6\n".utf8)),
                ("quoted fields", Array("\"urn\",\"pupils_on_roll\",\"sen_support\",\"ehc_plan\"\n\"990103\",\"630\",\"90\",\"20\"\n".utf8)),
            ]
            // A school whose name is a formula, as a register import could bring in.
            try await db.adminSQL("UPDATE schools SET name = '=HYPERLINK(\"http://evil\",\"x\")' WHERE urn = 990104")
            try await withApp(db) { client in
                for (name, bytes) in files {
                    var headers = f.headers("trust_executive")
                    headers[.contentType] = "text/csv"
                    headers[HTTPField.Name("Idempotency-Key")!] = name
                    try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/sen-returns/\(openTerm)/imports", method: .post, headers: headers, body: ByteBuffer(bytes: bytes)) { response in
                        #expect(response.status == .ok, "\(name): \(response.text)")
                    }
                }
                var headers = f.headers("trust_executive")
                headers[.accept] = "text/csv"
                try await client.execute(uri: "/v1/trusts/\(f.trustA.id)/completeness?term=\(openTerm)", method: .get, headers: headers) { response in
                    #expect(response.text.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""))
                    #expect(!response.text.contains(",=HYPERLINK"))
                }
            }
            #expect(try await db.adminSQL("SELECT count(*) FROM sen_returns") == [["3"]])
        }
    }
}
