/// A funnel plot as a standalone SVG: roll on the x axis, rate on the y axis, each comparator as a line with its
/// 95% and 99.8% limits as curves, one labelled circle per school, flagged schools drawn differently. No script.
public enum FunnelPlot {
    public struct Point: Sendable {
        public let label: String
        public let n: Int
        public let rate: Double
        public let flag: Statistics.Flag
        public let series: Int
        /// For a funnel of ratios: the school's expected count (its x); `rate` is then its ratio O/E.
        public let expected: Double?
        /// Where the school's point leads (its page in the web app): the point is then a link with an accessible
        /// name, reached by the keyboard.
        public let link: String?

        public init(label: String, n: Int, rate: Double, flag: Statistics.Flag, series: Int, expected: Double? = nil, link: String? = nil) {
            self.label = label
            self.n = n
            self.rate = rate
            self.flag = flag
            self.series = series
            self.expected = expected
            self.link = link
        }
    }

    /// Rates against comparator rates (x: pupils on roll), or indirectly standardised ratios O/E around 1 (x: the
    /// expected count), as PHE draws them.
    public enum Kind: Sendable {
        case rates
        case ratios
    }

    public struct Series: Sendable {
        public let label: String
        public let target: Double

        public init(label: String, target: Double) {
            self.label = label
            self.target = target
        }
    }

    static let width = 1080.0
    static let height = 600.0
    static let left = 80.0, right = 370.0, top = 70.0, bottom = 70.0
    /// Up to this many schools (a trust's, or a region's few), each point is numbered and listed in a key beside the
    /// chart. A national funnel of thousands is a picture of the spread: each point keeps its accessible name and
    /// link, but numbers could not be placed clear of each other or read, and placing them costs time that grows
    /// with the square of the schools.
    public static let numberedLimit = 250
    static let seriesColours = ["#1d4e89", "#7a5195", "#2a9d8f", "#8c510a", "#c51b7d", "#4d4d4d", "#0b7285", "#5c7a00"]

    public static func svg(title: String, subtitle: String, measureLabel: String, series: [Series], points: [Point], kind: Kind = .rates, emptyText: String? = nil) -> String {
        // No school to plot: an empty state, not axes scaled by nothing (which drew NaN coordinates).
        guard !points.isEmpty, !series.isEmpty else {
            let text = emptyText ?? "No school has a return for this term, so there is nothing to plot yet."
            return header(title: title, subtitle: subtitle, height: 200)
                + "<text x=\"\(Int(left))\" y=\"110\" font-size=\"15\">\(escape(text))</text>\n</svg>\n"
        }
        let ratios = kind == .ratios
        func xValue(_ point: Point) -> Double { ratios ? (point.expected ?? 0) : Double(point.n) }
        let maxN = max(points.map(xValue).max() ?? 100, ratios ? 5 : 50) * 1.08
        let minN = ratios ? 1.0 : 10.0
        func limits(_ s: Series, _ at: Double, _ z: Double) -> Statistics.Interval {
            ratios
                ? IndirectStandardisation.ratioLimits(expected: at, z: z)
                : Statistics.exactLimits(target: s.target, n: Int(at.rounded()), z: z)
        }
        // The scale shows the limits where the schools are, not one extreme school (a special school at 90% would
        // flatten everyone else): points above it sit on the top edge, labelled with their rate.
        let smallest = max(minN, points.map(xValue).min() ?? minN)
        var scaleTop =
            ratios
            ? IndirectStandardisation.ratioLimits(expected: smallest, z: Statistics.z998).upper
            : series.map { Statistics.funnelLimits(target: $0.target, n: Int(smallest.rounded()), z: Statistics.z998).upper }.max() ?? 0
        scaleTop = max(scaleTop, (series.map(\.target).max() ?? 0) * 2)
        let inRange = points.map(\.rate).filter { $0 <= scaleTop * 1.6 }
        let yMax =
            ratios
            ? min(5, (max(scaleTop, inRange.max() ?? 0) * 1.05 * 2).rounded(.up) / 2)
            : min(1, (max(scaleTop, inRange.max() ?? 0) * 1.1 * 20).rounded(.up) / 20)
        let plotW = width - left - right
        let plotH = height - top - bottom
        func x(_ n: Double) -> Double { left + n / maxN * plotW }
        func y(_ rate: Double) -> Double { top + plotH - min(rate, yMax) / yMax * plotH }
        func f(_ v: Double) -> String { String((v * 10).rounded() / 10) }

        var out = header(title: title, subtitle: subtitle, height: height)
        // Axes, ticks and grid.
        out += "<g stroke=\"#999\" stroke-width=\"1\">\n"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\"/>\n"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\"/>\n</g>\n"
        let yStep = ratios ? (yMax > 2.5 ? 0.5 : 0.25) : yMax > 0.5 ? 0.1 : yMax > 0.2 ? 0.05 : 0.02
        var tick = 0.0
        while tick <= yMax + 1e-9 {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y(tick)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y(tick)))\" stroke=\"#eee\"/>"
            out += "<text x=\"\(f(left - 8))\" y=\"\(f(y(tick) + 4))\" font-size=\"11\" text-anchor=\"end\">\(ratios ? String((tick * 100).rounded() / 100) : "\(Int((tick * 100).rounded()))%")</text>\n"
            tick += yStep
        }
        let xStep = niceStep(maxN / 6)
        var nTick = 0.0
        while nTick <= maxN {
            out += "<text x=\"\(f(x(nTick)))\" y=\"\(f(top + plotH + 18))\" font-size=\"11\" text-anchor=\"middle\">\(Int(nTick))</text>\n"
            nTick += xStep
        }
        out += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 22))\" font-size=\"13\" text-anchor=\"middle\">\(ratios ? "Expected count (pupils on roll × comparator rate)" : "Pupils on roll")</text>\n"
        out += "<text transform=\"translate(22 \(f(top + plotH / 2))) rotate(-90)\" font-size=\"13\" text-anchor=\"middle\">\(escape(measureLabel)) \(ratios ? "(observed ÷ expected)" : "(% of pupils)")</text>\n"

        // Comparator lines and control limits.
        for (index, s) in series.enumerated() {
            let colour = seriesColour(index, of: series.count)
            out += "<g class=\"comparator\" fill=\"none\" stroke=\"\(colour)\">\n"
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y(s.target)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y(s.target)))\" stroke-width=\"2\"/>\n"
            for (z, dash) in [(Statistics.z95, "6 4"), (Statistics.z998, "2 3")] {
                for upper in [true, false] {
                    var path = ""
                    for step in 0...80 {
                        let n = minN + (maxN - minN) * pow2(Double(step) / 80)
                        let limits = limits(s, n, z)
                        path += (step == 0 ? "M" : " L") + "\(f(x(n))) \(f(y(upper ? limits.upper : limits.lower)))"
                    }
                    out += "<path class=\"limit\" d=\"\(path)\" stroke-dasharray=\"\(dash)\" stroke-width=\"1.2\"/>\n"
                }
            }
            out += "</g>\n"
        }
        // Schools: each circle numbered, the number placed where it overlaps no other number or circle (the
        // first free spot on two rings around the point), and every school listed by number beside the chart.
        let order = points.indices.sorted { (xValue(points[$0]), points[$0].rate, points[$0].label) < (xValue(points[$1]), points[$1].rate, points[$1].label) }
        let centres = points.map { (x: x(xValue($0)), y: y($0.rate)) }
        func value(_ point: Point) -> String {
            ratios ? "\((point.rate * 100).rounded() / 100)" : "\((point.rate * 1000).rounded() / 10)%"
        }
        let numbered = points.count <= numberedLimit
        var placed: [Box] = numbered ? centres.map { Box(x: $0.x - 7, y: $0.y - 7, width: 14, height: 14) } : []
        for (rank, index) in order.enumerated() {
            let point = points[index]
            let number = String(rank + 1)
            let flagged = point.flag.isOutlier
            let fill: String =
                switch point.flag {
                case .high998, .low998: "#c0392b"
                case .high95, .low95: "#e67e22"
                case .within: "#ffffff"
                }
            let colour = seriesColour(point.series, of: series.count)
            let (cx, cy) = centres[index]
            let name = "\(number). \(point.label): \(ratios ? "observed ÷ expected " : "")\(value(point)) of \(point.n) pupils (\(Self.flagText(point.flag)))"
            if let link = point.link { out += "<a href=\"\(escape(link))\" aria-label=\"\(escape(name))\">" }
            out += "<g class=\"school \(point.flag.rawValue)\">"
            out += Self.marker(point.flag, cx: cx, cy: cy, fill: fill, stroke: flagged ? "#000" : colour, title: name)
            guard numbered else {
                out += point.link == nil ? "</g>\n" : "</g></a>\n"
                continue
            }
            let width = Double(number.count) * 7 + 2
            let spot = Self.freeSpot(around: (cx, cy), width: width, height: 12, avoiding: placed, within: Box(x: left, y: top - 12, width: plotW, height: plotH + 12))
            placed.append(spot)
            // A number set further off is tied to its point by a thin line.
            let (sx, sy) = (spot.x + spot.width / 2, spot.y + spot.height / 2)
            if ((sx - cx) * (sx - cx) + (sy - cy) * (sy - cy)).squareRoot() > 22 {
                out += "<line x1=\"\(f(cx))\" y1=\"\(f(cy))\" x2=\"\(f(sx))\" y2=\"\(f(sy))\" stroke=\"#777\" stroke-width=\"0.6\"/>"
            }
            out += "<text class=\"number\" x=\"\(f(spot.x + 1))\" y=\"\(f(spot.y + 10))\" font-size=\"11\"\(flagged ? " font-weight=\"bold\"" : "")>\(number)</text></g>"
            out += point.link == nil ? "\n" : "</a>\n"
        }
        // Legend.
        var ly = top + 10
        let lx = left + plotW + 24
        for (index, s) in series.enumerated() {
            let colour = seriesColour(index, of: series.count)
            out += "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly))\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
            out += "<text x=\"\(f(lx + 30))\" y=\"\(f(ly + 4))\" font-size=\"12\">\(escape(s.label))\(ratios ? "" : " \((s.target * 1000).rounded() / 10)%")</text>\n"
            ly += 20
        }
        for (label, dash) in [("95% limits", "6 4"), ("99.8% limits", "2 3")] {
            out += "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly))\" stroke=\"#333\" stroke-dasharray=\"\(dash)\"/>"
            out += "<text x=\"\(f(lx + 30))\" y=\"\(f(ly + 4))\" font-size=\"12\">\(label)</text>\n"
            ly += 20
        }
        // Flags by shape as well as colour: a triangle pointing up above the limits, down below, a circle within.
        let legend: [(String, Statistics.Flag, String)] = [
            ("above 99.8%", .high998, "#c0392b"), ("above 95%", .high95, "#e67e22"), ("within limits", .within, "#ffffff"),
            ("below 95%", .low95, "#e67e22"), ("below 99.8%", .low998, "#c0392b"),
        ]
        for (label, flag, fill) in legend {
            out += Self.marker(flag, cx: lx + 12, cy: ly, fill: fill, stroke: "#000", title: nil)
            out += "<text x=\"\(f(lx + 30))\" y=\"\(f(ly + 4))\" font-size=\"12\">\(label)</text>\n"
            ly += 20
        }
        // The schools by number, in two columns where many.
        ly += 6
        let perColumn = max(1, Int((height - bottom - ly) / 15))
        let columns = (order.count + perColumn - 1) / perColumn
        let columnWidth = (right - 30) / Double(max(1, columns))
        out += "<g class=\"key\" font-size=\"11\">\n"
        if !numbered {
            out += "<text x=\"\(f(lx))\" y=\"\(f(ly + 4))\">\(points.count) schools: too many to number.</text>\n"
            out += "<text x=\"\(f(lx))\" y=\"\(f(ly + 19))\">Each point is named when pointed at.</text>\n"
        }
        for (rank, index) in (numbered ? Array(order.enumerated()) : []) {
            let point = points[index]
            let flag: String =
                switch point.flag {
                case .high998: " \u{2014} high (99.8%)"
                case .high95: " \u{2014} high (95%)"
                case .low95: " \u{2014} low (95%)"
                case .low998: " \u{2014} low (99.8%)"
                case .within: ""
                }
            let maxCharacters = max(8, Int(columnWidth / (point.flag.isOutlier ? 7.6 : 6.6)))
            let offScale = point.rate > yMax ? " (above the scale)" : ""
            var text = "\(rank + 1). \(point.label) \(value(point))\(offScale)\(flag)"
            if text.count > maxCharacters { text = String(text.prefix(maxCharacters - 1)) + "\u{2026}" }
            let column = rank / perColumn
            let row = rank % perColumn
            out += "<text x=\"\(f(lx + Double(column) * columnWidth))\" y=\"\(f(ly + Double(row) * 15 + 4))\"\(point.flag.isOutlier ? " font-weight=\"bold\"" : "")><title>\(escape(point.label))</title>\(escape(text))</text>\n"
        }
        out += "</g>\n</svg>\n"
        return out
    }

    /// Several funnels (each a whole SVG from `svg`) one above the other in one document.
    public static func stack(title: String, panels: [String]) -> String {
        var offset = 0
        var body = ""
        for panel in panels {
            var text = Substring(panel)
            if text.hasPrefix("<?xml"), let end = text.firstIndex(of: "\n") { text = text[text.index(after: end)...] }
            guard let open = text.firstRange(of: "<svg ") else { continue }
            body += String(text[..<open.lowerBound]) + "<svg x=\"0\" y=\"\(offset)\" " + String(text[open.upperBound...])
            // Each panel's own height attribute (the first after its opening).
            let opening = text[open.upperBound...].prefix { $0 != ">" }
            if let h = opening.firstRange(of: "height=\"") {
                offset += Int(opening[h.upperBound...].prefix { $0 != "\"" }) ?? Int(height)
            } else {
                offset += Int(height)
            }
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(offset)" viewBox="0 0 \(Int(width)) \(offset)" font-family="Helvetica, Arial, sans-serif">
            <title>\(escape(title))</title>

            """ + body + "</svg>\n"
    }

    /// A rectangle on the chart (labels and circles), for placing numbers where nothing else is.
    struct Box {
        let x: Double, y: Double, width: Double, height: Double

        func overlaps(_ other: Box) -> Bool {
            x < other.x + other.width && other.x < x + width && y < other.y + other.height && other.y < y + height
        }
    }

    /// The first spot for a label of `width` × `height` near `centre` — right, left, above, below and the corners,
    /// at two distances — that overlaps nothing in `avoiding` and stays in the plot; else the nearest right.
    static func freeSpot(around centre: (Double, Double), width: Double, height: Double, avoiding: [Box], within area: Box) -> Box {
        let (cx, cy) = centre
        for distance in [9.0, 16.0, 26.0, 38.0, 52.0, 70.0, 92.0] {
            let candidates = [
                (cx + distance, cy - height / 2), (cx - distance - width, cy - height / 2), (cx - width / 2, cy - distance - height),
                (cx - width / 2, cy + distance), (cx + distance * 0.7, cy - distance * 0.7 - height), (cx - distance * 0.7 - width, cy - distance * 0.7 - height),
                (cx + distance * 0.7, cy + distance * 0.7), (cx - distance * 0.7 - width, cy + distance * 0.7),
            ]
            for (x, y) in candidates {
                let box = Box(x: x, y: y, width: width, height: height)
                guard box.x >= area.x, box.y >= area.y, box.x + width <= area.x + area.width, box.y + height <= area.y + area.height else { continue }
                if !avoiding.contains(where: { $0.overlaps(box) }) { return box }
            }
        }
        return Box(x: cx + 9, y: cy - height / 2, width: width, height: height)
    }

    /// Comparator colours: eight that stay apart for colour-blind readers, then, for more series, evenly spaced
    /// hues, so no colour repeats within a chart.
    static func seriesColour(_ index: Int, of count: Int) -> String {
        if count <= seriesColours.count { return seriesColours[index] }
        let hue = Double(index) * 360 / Double(count)
        return "hsl(\(Int(hue)), 65%, 35%)"
    }

    /// A school's mark: a circle within the limits; outside them a larger triangle, pointing up above and down below.
    /// `title` nil: the legend's sample, not a school.
    static func marker(_ flag: Statistics.Flag, cx: Double, cy: Double, fill: String, stroke: String, title: String?) -> String {
        let kind = title == nil ? "sample" : "school"
        func f(_ v: Double) -> String { String((v * 10).rounded() / 10) }
        let titled = title.map { "<title>\(escape($0))</title>" } ?? ""
        switch flag {
        case .within:
            return "<circle class=\"\(kind)\" cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"5\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"1.5\">\(titled)</circle>"
        case .high95, .high998, .low95, .low998:
            let up = flag == .high95 || flag == .high998
            let (tip, base) = up ? (cy - 8, cy + 6) : (cy + 8, cy - 6)
            return "<path class=\"\(kind)\" d=\"M\(f(cx)) \(f(tip)) L\(f(cx + 8)) \(f(base)) L\(f(cx - 8)) \(f(base)) Z\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"2\">\(titled)</path>"
        }
    }

    static func flagText(_ flag: Statistics.Flag) -> String {
        switch flag {
        case .high998: "above the 99.8% limit"
        case .high95: "above the 95% limit"
        case .within: "within the limits"
        case .low95: "below the 95% limit"
        case .low998: "below the 99.8% limit"
        }
    }

    /// The opening of every funnel SVG: the document, its title and the two heading lines.
    static func header(title: String, subtitle: String, height: Double) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif">
        <title>\(escape(title))</title>
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Int(left))" y="30" font-size="18" font-weight="bold">\(escape(title))</text>
        <text x="\(Int(left))" y="52" font-size="13" fill="#444">\(escape(subtitle))</text>

        """
    }

    static func pow2(_ t: Double) -> Double { t * t }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        for factor in [1.0, 2.0, 5.0, 10.0] where magnitude * factor >= raw { return magnitude * factor }
        return magnitude * 10
    }

    static func escape(_ text: String) -> String {
        MarkupText.escape(text, apostrophe: "&apos;")
    }
}
