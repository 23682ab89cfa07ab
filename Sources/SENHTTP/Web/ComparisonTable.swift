import SENCore

extension WebController.ComparisonView {
    /// The comparison table's body, one row per school, written here rather than by the template: swift-mustache
    /// finds each of a row's fifteen names by casting the row, and then the value, to its protocols at run time,
    /// which for a 100-school trust was 40% of the page's CPU time (Docs/performance.md). The rest of the page —
    /// its head, filters, funnel, the table's caption and headings — stays in `comparison.mustache`. Every value is
    /// escaped as the templates escape (`MarkupText.escape`, the five characters of swift-mustache's HTML escape).
    static func tableRows(_ rows: [Row]) -> String {
        var out = MarkupOutput(capacity: rows.count * 900, apostrophe: "&#39;")
        for row in rows {
            out.raw("<tr>\n<th scope=\"row\"><a href=\"/schools/")
            out.int(row.urn)
            out.raw("\">")
            out.text(row.name)
            out.raw("</a><span class=\"hint block\">")
            out.text(row.phase)
            out.raw("</span></th>\n<td class=\"numeric\">")
            out.int(row.pupils)
            out.raw("</td>\n<td class=\"numeric\">")
            out.text(row.rate)
            out.raw(" <span class=\"hint block\">")
            out.int(row.count)
            out.raw(" pupils; 95% interval ")
            out.text(row.interval)
            out.raw("</span></td>\n<td class=\"numeric\">")
            out.text(row.difference)
            out.raw(" <span class=\"hint block\">against ")
            out.text(row.comparator)
            out.raw("</span></td>\n<td class=\"numeric\">")
            out.text(row.ratio)
            out.raw("</td>\n<td class=\"numeric\"><span class=\"tag tag-")
            out.text(row.flag.tag)
            out.raw("\">")
            // The symbol, hidden from screen readers (the text says it), only where there is one.
            if !row.flag.symbol.isEmpty {
                out.raw("<span aria-hidden=\"true\">")
                out.text(row.flag.symbol)
                out.raw(" </span>")
            }
            out.text(row.flag.text)
            out.raw("</span><span class=\"hint block\">")
            out.text(row.detail)
            out.raw("</span></td>\n<td class=\"numeric\">")
            out.text(row.change)
            out.raw("</td>\n</tr>")
        }
        return out.string
    }
}
