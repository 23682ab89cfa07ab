import Foundation
import SENAPI
import SENCore
import Testing

/// The API's JSON dialect (SENAPI): one naming rule each way, and the shared types read back what they write.
@Suite struct APIJSONTests {
    @Test(arguments: [
        ("trustID", "trust_id"), ("firstSubmittedAt", "first_submitted_at"), ("pValue", "p_value"), ("differencePP", "difference_pp"),
        ("urn", "urn"), ("tau2", "tau2"), ("wilson_95", "wilson_95"), ("limits_99_8_tau2", "limits_99_8_tau2"),
        ("interval_95_pp", "interval_95_pp"), ("establishmentType", "establishment_type"), ("censusYear", "census_year"),
    ])
    func keysConvertBothWays(_ swift: String, _ wire: String) {
        #expect(APIKeys.snake(swift) == wire)
        #expect(APIKeys.camel(wire) == swift)
    }

    /// Need codes and item codes are data: dictionaries keep their keys both ways.
    @Test func dictionaryKeysAreLeftAlone() throws {
        let completeness = Completeness(
            trustID: "t", term: "2025-26-autumn", censusDay: "2025-10-02", deadline: "2025-11-13",
            totals: ["SpLD": 1, "missing": 2, "late_ones": 3], schools: [])
        let text = String(decoding: try JSONEncoder.api.encode(completeness), as: UTF8.self)
        #expect(text.contains(#""SpLD":1"#) && text.contains(#""late_ones":3"#) && text.contains(#""census_day":"2025-10-02""#))
        #expect(try JSONDecoder.api.decode(Completeness.self, from: Data(text.utf8)) == completeness)
    }

    /// Every key a body writes is the snake_case the OpenAPI document names, and decoding gives the value back.
    @Test func bodiesRoundTrip() throws {
        let date = Date(timeIntervalSince1970: 1_764_000_000)
        let interval = Interval(lower: 0.1, upper: 0.2)
        let comparator = Comparator(
            level: "national", area: "England", phase: "state_funded_primary", phaseReason: "primary", setting: "mainstream",
            censusYear: 2025, requestedCensusYear: 2026, rate: 0.139, rateBasis: "published_percent", publishedPercent: 13.9,
            rateRange: interval, note: nil, source: "DfE")
        let ratio = RatioBody(observed: 10, expected: 9.5, ratio: 1.05, limits95: interval, limits998: interval, flag: "within")
        let row = ComparisonRow(
            urn: 100001, name: "A", phase: "primary", setting: "mainstream", pupilsOnRoll: 420, count: 61, rate: 0.145,
            wilson95: interval, comparator: comparator, differencePP: 0.6, z: 0.3, limits95: interval, limits998: interval,
            limits998Phi: interval, limits998Tau2: interval, limitsMethod: "exact_binomial", flag: "within", flagAtRate: nil,
            flagLimits: "unadjusted", flags: ["phi": "within"], ratio: ratio,
            change: ChangeBody(fromTerm: "2024-25-autumn", fromRate: 0.1, differencePP: 4.5, interval95PP: interval, significant: true))
        let text = String(decoding: try JSONEncoder.api.encode(row), as: UTF8.self)
        for key in ["pupils_on_roll", "wilson_95", "difference_pp", "limits_99_8_phi", "limits_99_8_tau2", "interval_95_pp", "rate_basis", "from_term"] {
            #expect(text.contains("\"\(key)\""), "\(key)")
        }
        #expect(try JSONDecoder.api.decode(ComparisonRow.self, from: Data(text.utf8)) == row)

        let body = ReturnBody(
            urn: 100001, term: "2025-26-autumn", trustID: "t", version: 2, status: "submitted", late: false, firstSubmittedAt: date,
            updatedAt: date, approvedAt: nil, value: .object(["pupils_on_roll": .integer(420)]), warnings: [])
        let returnText = String(decoding: try JSONEncoder.api.encode(body), as: UTF8.self)
        #expect(returnText.contains(#""return":{"pupils_on_roll":420}"#) && returnText.contains(#""first_submitted_at":"2025-"#))
        #expect(try JSONDecoder.api.decode(ReturnBody.self, from: Data(returnText.utf8)) == body)

        let problem = ProblemDetails(type: "t", title: "Bad", status: 422, requestID: "r1", errors: [.init(row: 3, column: "urn", code: "c", message: "m")])
        let problemText = String(decoding: try JSONEncoder.api.encode(problem), as: UTF8.self)
        #expect(problemText.contains(#""request_id":"r1""#))
        #expect(try JSONDecoder.api.decode(ProblemDetails.self, from: Data(problemText.utf8)) == problem)
    }
}
