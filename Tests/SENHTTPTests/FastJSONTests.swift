import Foundation
import SENAPI
import SENCore
import Testing

@testable import SENHTTP

/// The comparison's hand-written JSON is byte for byte what JSONEncoder.api writes.
@Suite struct FastJSONTests {
    func interval(_ a: Double, _ b: Double) -> Interval {
        Interval(try! JSONDecoder().decode(Statistics.Interval.self, from: Data(#"{"lower":\#(a),"upper":\#(b)}"#.utf8)))
    }

    func row(_ urn: Int, name: String, note: String?, counts: Bool = false) -> ComparisonRow {
        let range: ClosedRange<Double>? = counts ? nil : 0.1385...0.1395
        let comparator = Comparator(
            level: "la", area: "Bradford", phase: "state_funded_primary", phaseReason: "primary phase", setting: "mainstream",
            censusYear: 2025, requestedCensusYear: 2026, rate: 0.139, rateBasis: counts ? "dfe_counts" : "published_percent",
            publishedPercent: 13.9, rateRange: range.map { Interval(lower: $0.lowerBound, upper: $0.upperBound) }, note: note,
            source: "DfE, OGL v3.0")
        let target = RateTarget(comparator: comparator, exactRate: 0.13904, range: range)
        return ComparisonRow(
            urn: urn, name: name, phase: "primary", setting: "mainstream", pupilsOnRoll: 420, count: 61, rate: 0.14524,
            wilson95: interval(0.1146, 0.18265), comparator: comparator,
            differencePP: 0.62, z: 0.366, limits95: interval(0.1066, 0.1714), limits998: interval(0.0904, 0.1876),
            limits998Phi: interval(0.08, 2e-05), limits998Tau2: interval(0, 1), limitsMethod: "exact_binomial", flag: "within",
            flagAtRate: counts ? nil : "high_95", flagLimits: "unadjusted",
            flags: ["unadjusted": "within", "phi": "within", "tau2": "high_95"],
            ratio: RatioBody(count: 61, n: 420, target: target),
            change: urn % 2 == 0 ? nil : ChangeBody(count: 61, n: 420, earlier: (term: "2024-25-autumn", count: 40, n: 410)))
    }

    /// Without over-dispersion, with it estimated (12 schools), and with too few schools to estimate it.
    @Test(arguments: [0, 1, 2])
    func sameBytesAsJSONEncoder(_ variant: Int) throws {
        let overdispersion: [Overdispersion?] = [
            nil,
            Overdispersion(
                schools: 12, phi: 1.25, tau2: 0.0003, chiSquare: 15, degreesOfFreedom: 11, pValue: 0.18233, overdispersed: false,
                method: "phi: …", note: "no over-dispersion beyond chance (p = 0.182): the limits are not widened"),
            Overdispersion(
                schools: 2, phi: nil, tau2: nil, chiSquare: nil, degreesOfFreedom: 1, pValue: nil, overdispersed: false, method: "phi: …",
                note: "2 schools: …"),
        ]
        let comparison = Comparison(
            trustID: "0d6f1a7e-3c1b-4c5e-9a57-1b8f0e6a2c01", term: "2025-26-autumn", measure: "sen_support", level: "la",
            pooled: ["count": 122, "pupils_on_roll": 840, "rate": 0.14524],
            pooledChange: variant == 0 ? nil : ChangeBody(count: 122, n: 840, earlier: (term: "2024-25-autumn", count: 100, n: 830)),
            pooledTrendTest: variant == 2 ? nil : TrendTestBody(ChangeOverTime.trend([(10, 100), (12, 100), nil, (20, 110)])),
            standardised: variant == 1 ? nil : StandardisedBody([.init(observed: 61, expected: 58.4), .init(observed: 70, expected: 61.2)]),
            overdispersion: overdispersion[variant],
            schools: [
                row(990101, name: "St Th\u{E9}r\u{E8}se's \"Quoted\" \\ back\\slash/ tab\tand newline\nend", note: nil),
                row(990102, name: "Ysgol \u{1}control", note: "no local authority figure for LA 999; national used", counts: true),
            ],
            specialistSchools: variant == 0 ? [] : [row(990104, name: "Moorside Special", note: nil, counts: variant == 2)],
            specialistOverdispersion: variant == 0 ? nil : overdispersion[2],
            notCompared: variant == 2 ? [] : [NotCompared(urn: 990105, name: "Valley PRU", phase: "not_applicable", setting: "alternative_provision", pupilsOnRoll: 40, count: 9, rate: 0.225, reason: "no national rate…")],
            missing: [MissingSchool(urn: 990103, name: "Pennine High")], source: "senstat")
        let expected = try JSONEncoder.api.encode(comparison)
        let written = comparison.json.bytes
        #expect(String(decoding: written, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
    }

    /// The import's answer and stored receipt, with and without warnings, with awkward text.
    @Test(arguments: [0, 1, 2])
    func importReceiptSameBytesAsJSONEncoder(_ variant: Int) throws {
        let warnings = (0..<variant * 2).map { i in
            ImportReceipt.Warning(urn: 990_100 + i, row: i + 2, code: i % 2 == 0 ? "roll_moved" : "sen_support_rate_moved",
                                  message: "pupils on roll moved from 1/2 \"quoted\" \\ to \u{1}\t\(i) — more than 20%")
        }
        let receipt = ImportReceipt(
            term: "2025-26-autumn", rows: 40 + variant, created: variant, amended: 7, unchanged: 33 - variant, late: variant == 1, warnings: warnings)
        let expected = String(decoding: try JSONEncoder.api.encode(receipt), as: UTF8.self)
        #expect(receipt.jsonText == expected)
        // The stored copy is read back with a plain decoder.
        #expect(try JSONDecoder().decode(ImportReceipt.self, from: Data(receipt.jsonText.utf8)) == receipt)
    }
}

/// A research answer's hand-written JSON is byte for byte what JSONEncoder.api writes, for both kinds of privacy.
@Suite struct FastResearchJSONTests {
    @Test(arguments: [false, true])
    func sameBytesAsJSONEncoder(_ dp: Bool) throws {
        func cell(_ key: String, parent: String?, suppressed: String?) -> ResearchCell {
            ResearchCell(
                key: key, parent: parent, units: suppressed == nil ? .value(1234) : .suppressed,
                values: ["sen_support": .value(150), "ehc_plan": suppressed == nil ? .value(45) : .suppressed, "needSEMH": .value(0.5), "Zeta": .value(-3)],
                percent: ["sen_support": .value(12.2), "ehc_plan": .value(3.6499999999999999), "needSEMH": .suppressed, "Zeta": .value(1e-7)],
                suppressed: suppressed)
        }
        let answer = ResearchAnswer(
            term: "2025-26-summer", query: "sen", groupBy: dp ? "la" : "region", units: "pupils", privacy: dp ? "dp" : "sdc",
            epsilon: dp ? 0.5 : nil, sensitivity: dp ? 2 : nil, epsilonPerCount: dp ? 0.25 : nil,
            rules: "cells need 10 pupils, \"quoted\" \\ and\nnewline; c = suppressed",
            cells: [
                cell("North East", parent: nil, suppressed: nil), cell("Ynys Môn <x> & 'y'", parent: "Wales\t(tab)", suppressed: "primary"),
                cell("\u{1}control", parent: "", suppressed: "complementary"),
            ],
            total: cell("total", parent: nil, suppressed: nil))
        let expected = String(decoding: try JSONEncoder.api.encode(answer), as: UTF8.self)
        #expect(answer.jsonText == expected)
        let empty = ResearchAnswer(
            term: "t", query: "q", groupBy: "phase", units: "respondents", privacy: "sdc", rules: "r", cells: [],
            total: ResearchCell(key: "total", units: .suppressed, values: [:], percent: [:]))
        #expect(empty.jsonText == String(decoding: try JSONEncoder.api.encode(empty), as: UTF8.self))
    }
}
