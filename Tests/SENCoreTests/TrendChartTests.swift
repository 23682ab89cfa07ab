import Foundation
import SENCore
import Testing

@Suite struct TrendChartTests {
    @Test func stepsAreRoundForFractionsAndWholeNumbers() {
        #expect(TrendChart.niceStep(0.039) == 0.05)
        #expect(TrendChart.niceStep(0.011) == 0.02)
        #expect(TrendChart.niceStep(3) == 5)
        #expect(abs(TrendChart.niceStep(0.0004) - 0.0005) < 1e-12)
    }

    @Test func everyPointIsMarkedGapsBreakTheLineAndNothingIsNaN() {
        let svg = TrendChart.svg(
            title: "A school", terms: ["Aut 24/25", "Spr 24/25", "Sum 24/25", "Aut 25/26"],
            lines: [
                .init(label: "SEN support", values: [0.14, nil, 0.15, 0.16], comparator: 0.148, comparatorLabel: "national"),
                .init(label: "EHC plans", values: [0.03, 0.035, nil, 0.04], comparator: 0.035, comparatorLabel: "national"),
            ])
        #expect(svg.components(separatedBy: "<circle").count - 1 == 3, "three SEN support points")
        #expect(svg.components(separatedBy: "<rect x=").count - 1 == 3, "three EHC plan points, as squares")
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2, "each line broken where a term has no return: runs of 2 or more")
        #expect(svg.contains("SEN support 16.0%") && svg.contains("EHC plans 4.0%"), "each line labelled at its end")
        #expect(!svg.contains("NaN") && !svg.contains("inf"))
        #expect(svg.contains("role=\"img\"") && svg.contains("<title id=\"trend-title\">A school</title>"))
        // The axis reaches above the highest value, in round steps.
        #expect(svg.contains(">20.0%</text>") || svg.contains(">20%</text>"))
    }

    @Test func noDataIsAnEmptyState() {
        let svg = TrendChart.svg(title: "None", terms: ["Aut 24/25"], lines: [.init(label: "SEN support", values: [nil], comparator: nil, comparatorLabel: "")])
        #expect(svg.contains("no trend to draw") && !svg.contains("NaN"))
    }
}
