/// A school's rates over the terms as a small line chart (SVG, no script): one line per measure, each with its
/// comparator as a dashed line, every point marked and every line labelled at its end, so that neither colour nor
/// the chart alone carries the figures (the page shows them as a table too). Terms without a return are gaps.
public enum TrendChart {
    public struct Line: Sendable {
        public let label: String
        /// One value (a rate, 0...1) per term; nil where there is none.
        public let values: [Double?]
        /// The comparator's rate, drawn dashed across the chart.
        public let comparator: Double?
        public let comparatorLabel: String

        public init(label: String, values: [Double?], comparator: Double?, comparatorLabel: String) {
            self.label = label
            self.values = values
            self.comparator = comparator
            self.comparatorLabel = comparatorLabel
        }
    }

    static let width = 720.0
    static let height = 300.0
    static let (left, right, top, bottom) = (56.0, 190.0, 34.0, 46.0)
    static let colours = ["#1d70b8", "#d4351c"]

    /// 1, 2 or 5 times a power of ten, the smallest at least `raw` (for fractions too).
    public static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        var magnitude = 1.0
        while magnitude > raw { magnitude /= 10 }
        while magnitude * 10 <= raw { magnitude *= 10 }
        for factor in [1.0, 2.0, 5.0, 10.0] where magnitude * factor >= raw { return magnitude * factor }
        return magnitude * 10
    }

    public static func svg(title: String, terms: [String], lines: [Line]) -> String {
        func f(_ v: Double) -> String { String((v * 10).rounded() / 10) }
        let escape = FunnelPlot.escape
        let values = lines.flatMap { $0.values.compactMap { $0 } + ($0.comparator.map { [$0] } ?? []) }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" role="img" aria-labelledby="trend-title">
            <title id="trend-title">\(escape(title))</title>
            <rect width="100%" height="100%" fill="white"/>

            """
        guard !terms.isEmpty, let highest = values.max(), highest.isFinite else {
            return out + "<text x=\"\(Int(left))\" y=\"60\" font-size=\"15\">No return in these terms, so there is no trend to draw.</text>\n</svg>\n"
        }
        let plotW = width - left - right
        let plotH = height - top - bottom
        // The y axis from 0 to a round step above the highest value.
        let step = Self.niceStep(max(highest, 0.01) / 4)
        var yMax = (highest / step).rounded(.up) * step
        if yMax <= highest { yMax += step }
        func x(_ index: Int) -> Double { left + (terms.count == 1 ? plotW / 2 : plotW * Double(index) / Double(terms.count - 1)) }
        func y(_ value: Double) -> Double { top + plotH * (1 - value / yMax) }
        var tick = 0.0
        while tick <= yMax + step / 2 {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y(tick)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y(tick)))\" stroke=\"#e5e6e7\"/>"
            out += "<text x=\"\(f(left - 8))\" y=\"\(f(y(tick) + 4))\" font-size=\"11\" text-anchor=\"end\">\((tick * 1000).rounded() / 10)%</text>\n"
            tick += step
        }
        for (index, term) in terms.enumerated() where terms.count <= 9 || index % 2 == 0 {
            out += "<text x=\"\(f(x(index)))\" y=\"\(f(top + plotH + 18))\" font-size=\"10\" text-anchor=\"middle\">\(escape(term))</text>\n"
        }
        var labelYs: [Double] = []
        func freeLabelY(_ wanted: Double) -> Double {
            var candidate = wanted
            while labelYs.contains(where: { abs($0 - candidate) < 14 }) { candidate += 14 }
            labelYs.append(candidate)
            return candidate
        }
        for (number, line) in lines.enumerated() {
            let colour = colours[number % colours.count]
            if let comparator = line.comparator {
                out += "<line x1=\"\(f(left))\" y1=\"\(f(y(comparator)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y(comparator)))\" stroke=\"\(colour)\" stroke-dasharray=\"6 4\"/>"
                out += "<text x=\"\(f(left + plotW + 8))\" y=\"\(f(freeLabelY(y(comparator)) + 4))\" font-size=\"11\" fill=\"#0b0c0c\">\(escape(line.comparatorLabel)) \((comparator * 1000).rounded() / 10)%</text>\n"
            }
            // Runs of consecutive values as polylines; a missing term breaks the line.
            var run: [String] = []
            func flush() {
                if run.count > 1 { out += "<polyline points=\"\(run.joined(separator: " "))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2.5\"/>" }
                run = []
            }
            for (index, value) in line.values.enumerated() {
                guard let value else { flush(); continue }
                run.append("\(f(x(index))),\(f(y(value)))")
            }
            flush()
            for (index, value) in line.values.enumerated() {
                guard let value else { continue }
                let (cx, cy) = (x(index), y(value))
                // A circle for the first line, a square for the second: told apart without colour.
                out += number == 0
                    ? "<circle cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"4\" fill=\"\(colour)\"/>"
                    : "<rect x=\"\(f(cx - 4))\" y=\"\(f(cy - 4))\" width=\"8\" height=\"8\" fill=\"\(colour)\"/>"
            }
            if let last = line.values.lastIndex(where: { $0 != nil }), let value = line.values[last] {
                out += "<text x=\"\(f(left + plotW + 8))\" y=\"\(f(freeLabelY(y(value)) + 4))\" font-size=\"12\" font-weight=\"bold\" fill=\"\(colour)\">\(escape(line.label)) \((value * 1000).rounded() / 10)%</text>\n"
            }
        }
        return out + "</svg>\n"
    }
}
