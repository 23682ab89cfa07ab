import Foundation
import Testing

@testable import SENHTTP
import Mustache

/// The web pages' fast paths write exactly what the slow ones they replaced wrote.
@Suite struct WebRenderingTests {
    @Test func figuresAreWrittenAsPrintfWritesThem() {
        var generator = SystemRandomNumberGenerator()
        // Ties in decimal that are not ties in binary (0.15, 2.675) and exact ties (0.25, 0.125), signs, zero,
        // large and tiny values, and random ones.
        var values: [Double] = [0, -0.0, 0.05, 0.15, 0.25, 0.35, 0.125, 2.675, 1.005, -1.25, 99.95, 1e-9, 123_456_789.987_654, -0.04999]
        values += (0..<2000).map { _ in Double.random(in: -200...200, using: &generator) }
        values += (0..<2000).map { _ in (Double(Int.random(in: -20000...20000, using: &generator)) / 1000) }
        for value in values {
            for digits in 0...3 {
                #expect(WebController.Show.fixed(value, digits) == String(format: "%.\(digits)f", value), "\(value) with \(digits) decimals")
            }
        }
        #expect(WebController.Show.percent(0.1234) == "12.3%")
        #expect(WebController.Show.pp(-1.25) == "−1.2 pp")
    }

    @Test func phasesReadAsWords() {
        #expect(WebController.Show.phase("state_funded_primary") == "state-funded primary")
        #expect(WebController.Show.phase("all_through") == "all through")
        #expect(WebController.Show.phase("special") == "special")
        #expect(WebController.Show.phase("") == "")
    }

    @Test func htmlIsEscapedAsMustacheEscapesIt() {
        let samples = ["plain text", "<b>&\"'</b>", "Café — St Mary's C of E", "a&&b", "", "👩‍👩‍👧 <x>", "e\u{301}<"]
        for text in samples {
            let mustache = text.map { c -> String in
                switch c {
                case "<": "&lt;"
                case ">": "&gt;"
                case "&": "&amp;"
                case "\"": "&quot;"
                case "'": "&#39;"
                default: String(c)
                }
            }.joined()
            #expect(HTMLText.escape(text) == mustache)
        }
    }

    @Test func aViewBecomesTheTreeMustacheReads() throws {
        struct Row { let name: String; let count: Int; let note: String? }
        struct View { let title: String; let rows: [Row]; let shown: Bool; let missing: String?; let id: UUID }
        let id = UUID()
        let tree = try #require(WebRenderer.tree(View(title: "T", rows: [Row(name: "a", count: 1, note: nil), Row(name: "b", count: 2, note: "n")], shown: true, missing: nil, id: id)) as? TemplateObject)
        #expect(tree.child(named: "title") as? String == "T")
        #expect(tree.child(named: "shown") as? Bool == true)
        #expect(tree.child(named: "missing") == nil)
        #expect(tree.child(named: "id") as? UUID == id)
        let rows = try #require(tree.child(named: "rows") as? [Any])
        #expect(rows.count == 2)
        let second = try #require(rows[1] as? TemplateObject)
        #expect(second.child(named: "note") as? String == "n")
        #expect((rows[0] as? TemplateObject)?.child(named: "note") == nil)
        #expect((rows[0] as? TemplateObject)?.child(named: "name") as? String == "a")
    }
}

/// Types that answer Mustache by hand must answer for every stored property, or a column would go blank.
@Suite struct HandWrittenLookupTests {
    @Test func everyPropertyOfAFlagIsFound() {
        let flag = WebController.Show.flag("high_99_8")
        for child in Mirror(reflecting: flag).children {
            #expect(flag.child(named: child.label!).map { String(describing: $0) } == String(describing: child.value), "\(child.label!)")
        }
    }

    /// The comparison table's rows are written in Swift (`tableRows`); they must be what the template's row,
    /// rendered by swift-mustache with its escaping, was — text that needs escaping in every field included.
    @Test func theComparisonRowsAreWhatTheTemplateWrote() throws {
        _ = WebRenderer()  // registers the templates' HTML content type
        let template = try MustacheTemplate(
            string: "{{% CONTENT_TYPE: \(HTMLText.name)}}" + """
                {{#rows}}<tr>
                <th scope="row"><a href="/schools/{{urn}}">{{name}}</a><span class="hint block">{{phase}}</span></th>
                <td class="numeric">{{pupils}}</td>
                <td class="numeric">{{rate}} <span class="hint block">{{count}} pupils; 95% interval {{interval}}</span></td>
                <td class="numeric">{{difference}} <span class="hint block">against {{comparator}}</span></td>
                <td class="numeric">{{ratio}}</td>
                <td class="numeric"><span class="tag tag-{{flag.tag}}">{{#flag.outlier}}<span aria-hidden="true">{{flag.symbol}} </span>{{/flag.outlier}}{{flag.text}}</span><span class="hint block">{{detail}}</span></td>
                <td class="numeric">{{change}}</td>
                </tr>{{/rows}}
                """)
        let awkward = "O'Neil & <Sons> \"Café\" 👩‍👩‍👧"
        let rows = ["high_99_8", "within", "low_95"].enumerated().map { index, flag in
            WebController.ComparisonView.Row(
                urn: 100_000 + index, name: "\(awkward) \(index)", phase: "state-funded <primary>", pupils: 250 * index, count: 3 - index,
                rate: "12.\(index)%", interval: "1% to '9%'", comparator: "14.8% (state-funded primary, \"England\")", difference: "−3.8 pp",
                ratio: "0.7\(index)", flag: WebController.Show.flag(flag), detail: "z -1.75; φ & τ² <within>", change: index == 1 ? "" : "no return a year earlier")
        }
        let expected = template.render(WebRenderer.tree(["rows": rows]) ?? [:])
        #expect(WebController.ComparisonView.tableRows(rows) == expected)
        #expect(WebController.ComparisonView.tableRows([]) == "")
    }
}
