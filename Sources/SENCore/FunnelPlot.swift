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
        String(decoding: svgBytes(title: title, subtitle: subtitle, measureLabel: measureLabel, series: series, points: points, kind: kind, emptyText: emptyText), as: UTF8.self)
    }

    /// The SVG as UTF-8 bytes (what a response sends), written without interpolation: a national funnel of 25,000
    /// schools is 5 MB.
    public static func svgBytes(title: String, subtitle: String, measureLabel: String, series: [Series], points: [Point], kind: Kind = .rates, emptyText: String? = nil) -> [UInt8] {
        svgBytes(
            title: title, subtitle: subtitle, measureLabel: measureLabel, series: series, points: points, kind: kind, emptyText: emptyText,
            splitFrom: Parallel.splitFrom)
    }

    /// `splitFrom`: the number of points from which they are written on two threads (tests compare both ways).
    static func svgBytes(
        title: String, subtitle: String, measureLabel: String, series: [Series], points: [Point], kind: Kind, emptyText: String?, splitFrom: Int
    ) -> [UInt8] {
        // No school to plot: an empty state, not axes scaled by nothing (which drew NaN coordinates).
        guard !points.isEmpty, !series.isEmpty else {
            var out = MarkupOutput(capacity: 1024)
            header(&out, title: title, subtitle: subtitle, height: 200)
            out.raw("<text x=\"")
            out.int(Int(left))
            out.raw("\" y=\"110\" font-size=\"15\">")
            out.text(emptyText ?? "No school has a return for this term, so there is nothing to plot yet.")
            out.raw("</text>\n</svg>\n")
            return out.bytes
        }
        let ratios = kind == .ratios
        let xs = points.map { ratios ? ($0.expected ?? 0) : Double($0.n) }
        let maxN = max(xs.max() ?? 100, ratios ? 5 : 50) * 1.08
        let minN = ratios ? 1.0 : 10.0
        func limits(_ s: Series, _ at: Double, _ z: Double) -> Statistics.Interval {
            ratios
                ? IndirectStandardisation.ratioLimits(expected: at, z: z)
                : Statistics.exactLimits(target: s.target, n: Int(at.rounded()), z: z)
        }
        // The scale shows the limits where the schools are, not one extreme school (a special school at 90% would
        // flatten everyone else): points above it sit on the top edge, labelled with their rate.
        let smallest = max(minN, xs.min() ?? minN)
        var scaleTop =
            ratios
            ? IndirectStandardisation.ratioLimits(expected: smallest, z: Statistics.z998).upper
            : series.map { Statistics.funnelLimits(target: $0.target, n: Int(smallest.rounded()), z: Statistics.z998).upper }.max() ?? 0
        scaleTop = max(scaleTop, (series.map(\.target).max() ?? 0) * 2)
        var inRangeMax = 0.0
        for point in points where point.rate <= scaleTop * 1.6 { inRangeMax = max(inRangeMax, point.rate) }
        let yMax =
            ratios
            ? min(5, (max(scaleTop, inRangeMax) * 1.05 * 2).rounded(.up) / 2)
            : min(1, (max(scaleTop, inRangeMax) * 1.1 * 20).rounded(.up) / 20)
        let plotW = width - left - right
        let plotH = height - top - bottom
        func x(_ n: Double) -> Double { left + n / maxN * plotW }
        func y(_ rate: Double) -> Double { top + plotH - min(rate, yMax) / yMax * plotH }

        var out = MarkupOutput(capacity: 8192 + points.count * (points.count > numberedLimit ? 240 : 420))
        header(&out, title: title, subtitle: subtitle, height: height)
        // Axes, ticks and grid.
        out.raw("<g stroke=\"#999\" stroke-width=\"1\">\n")
        line(&out, left, top + plotH, left + plotW, top + plotH, "/>\n")
        line(&out, left, top, left, top + plotH, "/>\n</g>\n")
        let yStep = ratios ? (yMax > 2.5 ? 0.5 : 0.25) : yMax > 0.5 ? 0.1 : yMax > 0.2 ? 0.05 : 0.02
        var tick = 0.0
        while tick <= yMax + 1e-9 {
            line(&out, left, y(tick), left + plotW, y(tick), " stroke=\"#eee\"/>")
            textStart(&out, left - 8, y(tick) + 4, " font-size=\"11\" text-anchor=\"end\">")
            if ratios {
                out.decimal((tick * 100).rounded(), places: 2)
            } else {
                out.int(Int((tick * 100).rounded()))
                out.raw("%")
            }
            out.raw("</text>\n")
            tick += yStep
        }
        let xStep = niceStep(maxN / 6)
        var nTick = 0.0
        while nTick <= maxN {
            textStart(&out, x(nTick), top + plotH + 18, " font-size=\"11\" text-anchor=\"middle\">")
            out.int(Int(nTick))
            out.raw("</text>\n")
            nTick += xStep
        }
        textStart(&out, left + plotW / 2, height - 22, " font-size=\"13\" text-anchor=\"middle\">")
        out.raw(ratios ? "Expected count (pupils on roll × comparator rate)" : "Pupils on roll")
        out.raw("</text>\n<text transform=\"translate(22 ")
        out.f(top + plotH / 2)
        out.raw(") rotate(-90)\" font-size=\"13\" text-anchor=\"middle\">")
        out.text(measureLabel)
        out.raw(ratios ? " (observed ÷ expected)</text>\n" : " (% of pupils)</text>\n")

        // Comparator lines and control limits.
        for (index, s) in series.enumerated() {
            let colour = seriesColour(index, of: series.count)
            out.raw("<g class=\"comparator\" fill=\"none\" stroke=\"")
            out.rawString(colour)
            out.raw("\">\n")
            line(&out, left, y(s.target), left + plotW, y(s.target), " stroke-width=\"2\"/>\n")
            for (z, dash) in [(Statistics.z95, "6 4" as StaticString), (Statistics.z998, "2 3")] {
                for upper in [true, false] {
                    out.raw("<path class=\"limit\" d=\"")
                    for step in 0...80 {
                        let n = minN + (maxN - minN) * pow2(Double(step) / 80)
                        let limits = limits(s, n, z)
                        out.raw(step == 0 ? "M" : " L")
                        out.f(x(n))
                        out.raw(" ")
                        out.f(y(upper ? limits.upper : limits.lower))
                    }
                    out.raw("\" stroke-dasharray=\"")
                    out.raw(dash)
                    out.raw("\" stroke-width=\"1.2\"/>\n")
                }
            }
            out.raw("</g>\n")
        }
        // Schools: each circle numbered, the number placed where it overlaps no other number or circle (the
        // first free spot on two rings around the point), and every school listed by number beside the chart.
        // Ordered by roll (or expected count), then rate, then label. Numbers first: rolls are whole numbers, so a
        // national funnel's 25,000 schools are bucketed by roll (counting sort) and only each roll's few schools
        // sorted by rate; labels are compared only within a run of equal roll and rate. Comparing labels inside one
        // general sort reached into `points` for every tie, a cache miss each time: a fifth of the SVG's time.
        var order: [Int]
        let rates = points.map(\.rate)
        let rolls = points.map(\.n)
        let largestRoll = ratios ? -1 : rolls.max() ?? -1
        if points.count >= 1000, largestRoll >= 0, largestRoll <= 4 * points.count, rolls.allSatisfy({ $0 >= 0 }) {
            var starts = [Int](repeating: 0, count: largestRoll + 2)
            for n in rolls { starts[n + 1] += 1 }
            for n in 0...largestRoll { starts[n + 1] += starts[n] }
            var next = starts
            order = [Int](repeating: 0, count: points.count)
            for (index, n) in rolls.enumerated() {
                order[next[n]] = index
                next[n] += 1
            }
            for n in 0...largestRoll where starts[n + 1] - starts[n] > 1 {
                order[starts[n]..<starts[n + 1]].sort { a, b in
                    rates[a] != rates[b] ? rates[a] < rates[b] : a < b
                }
            }
        } else {
            var keys = points.indices.map { (x: xs[$0], rate: rates[$0], index: $0) }
            keys.sort { a, b in
                if a.x != b.x { return a.x < b.x }
                if a.rate != b.rate { return a.rate < b.rate }
                return a.index < b.index
            }
            order = keys.map(\.index)
        }
        var runStart = 0
        for i in 1...order.count {
            guard i == order.count || xs[order[i]] != xs[order[runStart]] || rates[order[i]] != rates[order[runStart]] else { continue }
            if i - runStart > 1 {
                // Stable: equal labels keep the points' order.
                order[runStart..<i].sort { a, b in
                    points[a].label != points[b].label ? points[a].label < points[b].label : a < b
                }
            }
            runStart = i
        }
        let centres = points.indices.map { (x: x(xs[$0]), y: y(points[$0].rate)) }
        func value(_ out: inout MarkupOutput, _ point: Point) {
            if ratios {
                out.decimal((point.rate * 100).rounded(), places: 2)
            } else {
                out.decimal((point.rate * 1000).rounded(), places: 1)
                out.raw("%")
            }
        }
        let numbered = points.count <= numberedLimit
        var placed: [Box] = numbered ? centres.map { Box(x: $0.x - 7, y: $0.y - 7, width: 14, height: 14) } : []
        let colours = series.indices.map { Array(seriesColour($0, of: series.count).utf8) }
        /// The schools ranked `ranks`, in order.
        func writePoints(_ out: inout MarkupOutput, _ ranks: Range<Int>, _ placed: inout [Box]) {
            // A school's accessible name, written once and copied where it is used twice (the link's and the title).
            var name = MarkupOutput(capacity: 256)
            for rank in ranks {
                let index = order[rank]
                let point = points[index]
                let flagged = point.flag.isOutlier
                let fill: StaticString =
                    switch point.flag {
                    case .high998, .low998: "#c0392b"
                    case .high95, .low95: "#e67e22"
                    case .within: "#ffffff"
                    }
                let (cx, cy) = centres[index]
                name.removeAll()
                name.int(rank + 1)
                name.raw(". ")
                name.text(point.label)
                name.raw(ratios ? ": observed ÷ expected " : ": ")
                value(&name, point)
                name.raw(" of ")
                name.int(point.n)
                name.raw(" pupils (")
                name.raw(flagText(point.flag))
                name.raw(")")
                // A linked point's name is the link's title: its accessible name (SVG-AAM) and, pointed at, its tooltip;
                // written once, not again as an aria-label (a 100-school page's funnel was a tenth smaller).
                if let link = point.link {
                    out.raw("<a href=\"")
                    out.text(link)
                    out.raw("\"><title>")
                    out.append(name)
                    out.raw("</title>")
                }
                out.raw("<g class=\"school ")
                out.raw(flagClass(point.flag))
                out.raw("\">")
                markerOpen(&out, point.flag, cx: cx, cy: cy, fill: fill, school: true)
                if flagged { out.raw("#000") } else { out.append(colours[point.series]) }
                markerAttributesEnd(&out, point.flag)
                if point.link == nil {
                    out.raw("<title>")
                    out.append(name)
                    out.raw("</title>")
                }
                markerClose(&out, point.flag)
                guard numbered else {
                    out.raw(point.link == nil ? "</g>\n" : "</g></a>\n")
                    continue
                }
                let digits = String(rank + 1).utf8.count
                let width = Double(digits) * 7 + 2
                let spot = Self.freeSpot(around: (cx, cy), width: width, height: 12, avoiding: placed, within: Box(x: left, y: top - 12, width: plotW, height: plotH + 12))
                placed.append(spot)
                // A number set further off is tied to its point by a thin line.
                let (sx, sy) = (spot.x + spot.width / 2, spot.y + spot.height / 2)
                if ((sx - cx) * (sx - cx) + (sy - cy) * (sy - cy)).squareRoot() > 22 {
                    line(&out, cx, cy, sx, sy, " stroke=\"#777\" stroke-width=\"0.6\"/>")
                }
                out.raw("<text class=\"number\" x=\"")
                out.f(spot.x + 1)
                out.raw("\" y=\"")
                out.f(spot.y + 10)
                out.raw(flagged ? "\" font-size=\"11\" font-weight=\"bold\">" : "\" font-size=\"11\">")
                out.int(rank + 1)
                out.raw("</text></g>")
                out.raw(point.link == nil ? "\n" : "</a>\n")
            }
        }
        if !numbered, order.count >= splitFrom {
            // A national funnel (no numbers to place, so no point depends on another): each half of the points
            // written on its own thread, the second half into output of its own, then appended.
            let middle = order.count / 2
            var rest = MarkupOutput(capacity: 256 * (order.count - middle))
            Parallel.halves { half in
                var unused: [Box] = []
                if half == 0 {
                    writePoints(&out, 0..<middle, &unused)
                } else {
                    writePoints(&rest, middle..<order.count, &unused)
                }
            }
            out.append(rest)
        } else {
            writePoints(&out, 0..<order.count, &placed)
        }
        // Legend.
        var ly = top + 10
        let lx = left + plotW + 24
        for (index, s) in series.enumerated() {
            line(&out, lx, ly, lx + 24, ly, " stroke=\"")
            out.append(colours[index])
            out.raw("\" stroke-width=\"2\"/>")
            textStart(&out, lx + 30, ly + 4, " font-size=\"12\">")
            out.text(s.label)
            if !ratios {
                out.raw(" ")
                out.decimal((s.target * 1000).rounded(), places: 1)
                out.raw("%")
            }
            out.raw("</text>\n")
            ly += 20
        }
        for (label, dash) in [("95% limits" as StaticString, "6 4" as StaticString), ("99.8% limits", "2 3")] {
            line(&out, lx, ly, lx + 24, ly, " stroke=\"#333\" stroke-dasharray=\"")
            out.raw(dash)
            out.raw("\"/>")
            textStart(&out, lx + 30, ly + 4, " font-size=\"12\">")
            out.raw(label)
            out.raw("</text>\n")
            ly += 20
        }
        // Flags by shape as well as colour: a triangle pointing up above the limits, down below, a circle within.
        let legend: [(StaticString, Statistics.Flag, StaticString)] = [
            ("above 99.8%", .high998, "#c0392b"), ("above 95%", .high95, "#e67e22"), ("within limits", .within, "#ffffff"),
            ("below 95%", .low95, "#e67e22"), ("below 99.8%", .low998, "#c0392b"),
        ]
        for (label, flag, fill) in legend {
            markerOpen(&out, flag, cx: lx + 12, cy: ly, fill: fill, school: false)
            out.raw("#000")
            markerAttributesEnd(&out, flag)
            markerClose(&out, flag)
            textStart(&out, lx + 30, ly + 4, " font-size=\"12\">")
            out.raw(label)
            out.raw("</text>\n")
            ly += 20
        }
        // The schools by number, in two columns where many.
        ly += 6
        let perColumn = max(1, Int((height - bottom - ly) / 15))
        let columns = (order.count + perColumn - 1) / perColumn
        let columnWidth = (right - 30) / Double(max(1, columns))
        out.raw("<g class=\"key\" font-size=\"11\">\n")
        if !numbered {
            textStart(&out, lx, ly + 4, ">")
            out.int(points.count)
            out.raw(" schools: too many to number.</text>\n")
            textStart(&out, lx, ly + 19, ">Each point is named when pointed at.</text>\n")
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
            var shown = MarkupOutput(capacity: 64)
            value(&shown, point)
            var text = "\(rank + 1). \(point.label) \(String(decoding: shown.bytes, as: UTF8.self))\(offScale)\(flag)"
            if text.count > maxCharacters { text = String(text.prefix(maxCharacters - 1)) + "\u{2026}" }
            let column = rank / perColumn
            let row = rank % perColumn
            textStart(&out, lx + Double(column) * columnWidth, ly + Double(row) * 15 + 4, point.flag.isOutlier ? " font-weight=\"bold\"><title>" : "><title>")
            out.text(point.label)
            out.raw("</title>")
            out.text(text)
            out.raw("</text>\n")
        }
        out.raw("</g>\n</svg>\n")
        return out.bytes
    }

    /// `<line x1= y1= x2= y2=` then `rest` (the line's other attributes and its end).
    static func line(_ out: inout MarkupOutput, _ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ rest: StaticString) {
        out.raw("<line x1=\"")
        out.f(x1)
        out.raw("\" y1=\"")
        out.f(y1)
        out.raw("\" x2=\"")
        out.f(x2)
        out.raw("\" y2=\"")
        out.f(y2)
        out.raw("\"")
        out.raw(rest)
    }

    /// `<text x= y=` then `rest` (its other attributes, the tag's end and perhaps its text).
    static func textStart(_ out: inout MarkupOutput, _ x: Double, _ y: Double, _ rest: StaticString) {
        out.raw("<text x=\"")
        out.f(x)
        out.raw("\" y=\"")
        out.f(y)
        out.raw("\"")
        out.raw(rest)
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
    /// Written in three parts around the caller's stroke colour and title: the opening up to `stroke="`, then
    /// (`markerAttributesEnd`) the end of the opening tag, then (`markerClose`) the closing tag. `school` false:
    /// the legend's sample.
    static func markerOpen(_ out: inout MarkupOutput, _ flag: Statistics.Flag, cx: Double, cy: Double, fill: StaticString, school: Bool) {
        switch flag {
        case .within:
            out.raw(school ? "<circle class=\"school\" cx=\"" : "<circle class=\"sample\" cx=\"")
            out.f(cx)
            out.raw("\" cy=\"")
            out.f(cy)
            out.raw("\" r=\"5\" fill=\"")
        case .high95, .high998, .low95, .low998:
            let up = flag == .high95 || flag == .high998
            let (tip, base) = up ? (cy - 8, cy + 6) : (cy + 8, cy - 6)
            out.raw(school ? "<path class=\"school\" d=\"M" : "<path class=\"sample\" d=\"M")
            out.f(cx)
            out.raw(" ")
            out.f(tip)
            out.raw(" L")
            out.f(cx + 8)
            out.raw(" ")
            out.f(base)
            out.raw(" L")
            out.f(cx - 8)
            out.raw(" ")
            out.f(base)
            out.raw(" Z\" fill=\"")
        }
        out.raw(fill)
        out.raw("\" stroke=\"")
    }

    static func markerAttributesEnd(_ out: inout MarkupOutput, _ flag: Statistics.Flag) {
        out.raw(flag == .within ? "\" stroke-width=\"1.5\">" : "\" stroke-width=\"2\">")
    }

    static func markerClose(_ out: inout MarkupOutput, _ flag: Statistics.Flag) {
        out.raw(flag == .within ? "</circle>" : "</path>")
    }

    /// The flag's code (`Statistics.Flag.rawValue`), as the school's class.
    static func flagClass(_ flag: Statistics.Flag) -> StaticString {
        switch flag {
        case .high998: "high_99_8"
        case .high95: "high_95"
        case .within: "within"
        case .low95: "low_95"
        case .low998: "low_99_8"
        }
    }

    static func flagText(_ flag: Statistics.Flag) -> StaticString {
        switch flag {
        case .high998: "above the 99.8% limit"
        case .high95: "above the 95% limit"
        case .within: "within the limits"
        case .low95: "below the 95% limit"
        case .low998: "below the 99.8% limit"
        }
    }

    /// The opening of every funnel SVG: the document, its title and the two heading lines.
    static func header(_ out: inout MarkupOutput, title: String, subtitle: String, height: Double) {
        out.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"")
        out.int(Int(width))
        out.raw("\" height=\"")
        out.int(Int(height))
        out.raw("\" viewBox=\"0 0 ")
        out.int(Int(width))
        out.raw(" ")
        out.int(Int(height))
        out.raw("\" font-family=\"Helvetica, Arial, sans-serif\">\n<title>")
        out.text(title)
        out.raw("</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"")
        out.int(Int(left))
        out.raw("\" y=\"30\" font-size=\"18\" font-weight=\"bold\">")
        out.text(title)
        out.raw("</text>\n<text x=\"")
        out.int(Int(left))
        out.raw("\" y=\"52\" font-size=\"13\" fill=\"#444\">")
        out.text(subtitle)
        out.raw("</text>\n")
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
