import Foundation
import SENTestSupport
import Testing

extension ScriptRuns {
    /// Tests/contract/contract.py: schemathesis, every check on, against the built server and the OpenAPI document it
    /// serves, once per role (admin, trust executive, school leader, researcher) and seed (two). Zero failures is the
    /// pass mark.
    @Suite struct ContractTests {
        @Test func everyRoleConformsToTheOpenAPIDocument() async throws {
            let (status, text) = try await Script.run(
                "python3", ["Tests/contract/contract.py", "--server", try ServerProcessTests.executable("senstat-server").path])
            #expect(status == 0, "\(text)")
            // Eight runs, each of which generated and sent requests (a run that tests nothing must not pass).
            let runs = text.split(separator: "\n").filter { $0.hasPrefix("== ") && $0.contains(": exit 0 in") && $0.contains(" passed") }
            #expect(runs.count == 8, "\(text)")
            #expect(text.contains("contract: 0 failures for admin, trust_executive, school_leader, researcher with seeds"), "\(text)")
        }
    }
}
