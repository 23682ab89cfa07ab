import SENAPI
import SENCore

/// The comparison as CSV and as funnel plots (SVG).
extension BenchmarkController {
    /// The trust's funnel: one funnel of observed / expected around 1 for the mainstream schools (PHE's chart for
    /// indirectly standardised ratios), or one panel per comparator phase, special schools and AP included.
    enum FunnelView: String {
        case ratio
        case phase
    }

    func comparisonCSV(_ c: Comparison) -> String {
        var out = CSVWriter.line([
            "urn", "name", "phase", "status", "pupils_on_roll", "count", "rate", "wilson95_lower", "wilson95_upper",
            "comparator_level", "comparator_area", "comparator_phase", "comparator_year", "comparator_rate", "difference_pp", "z",
            "limit95_lower", "limit95_upper", "limit998_lower", "limit998_upper", "flag", "flag_phi", "flag_tau2", "limits_method",
            "setting", "comparator_rate_basis", "comparator_published_percent", "expected", "observed_expected_ratio", "ratio_flag",
        ])
        for row in c.schools + c.specialistSchools {
            out += CSVWriter.line([
                String(row.urn), row.name, row.phase, "returned", String(row.pupilsOnRoll), String(row.count), String(row.rate),
                String(row.wilson95.lower), String(row.wilson95.upper), row.comparator.level, row.comparator.area,
                row.comparator.phase, String(row.comparator.censusYear), String(row.comparator.rate), String(row.differencePP),
                String(row.z), String(row.limits95.lower), String(row.limits95.upper), String(row.limits998.lower),
                String(row.limits998.upper), row.flag, row.flags["phi"] ?? "", row.flags["tau2"] ?? "", row.limitsMethod,
                row.setting, row.comparator.rateBasis, String(row.comparator.publishedPercent), String(row.ratio.expected),
                String(row.ratio.ratio), row.ratio.flag,
            ])
        }
        for school in c.notCompared {
            var cells = [String(school.urn), school.name, school.phase, "not_compared", String(school.pupilsOnRoll), String(school.count), String(school.rate)]
            cells += Array(repeating: "", count: 17) + [school.setting] + Array(repeating: "", count: 5)
            out += CSVWriter.line(cells)
        }
        for school in c.missing {
            out += CSVWriter.line([String(school.urn), school.name, "", "missing"] + Array(repeating: "", count: 26))
        }
        return out
    }

    /// `linked`: each point links to the school's page in the web app (the page's inline chart); the API's SVG has
    /// no links.
    /// The funnel of a computed comparison, drawn once for it (`ComparedEntry.drawing`).
    func funnel(_ entry: ComparedEntry, view: FunnelView, linked: Bool = false) -> String {
        entry.drawing("funnel|\(view.rawValue)|\(linked)") { funnel(entry.comparison, view: view, linked: linked) }
    }

    func funnel(_ c: Comparison, view: FunnelView, linked: Bool = false) -> String {
        let measure = c.measure == "ehc_plan" ? "EHC plans" : "SEN support"
        let against = c.level == "la" ? "local authority" : c.level
        let missing =
            c.missing.isEmpty || (c.schools.isEmpty && c.specialistSchools.isEmpty) ? ""
            : c.missing.count <= 3 ? "; no return: \(c.missing.map(\.name).joined(separator: ", "))"
            : "; no return from \(c.missing.count) schools (listed with the comparison)"
        let noneYet = "None of the trust's \(c.missing.count) schools has sent a return for this term yet"
        switch view {
        case .ratio:
            let points = c.schools.map { row in
                FunnelPlot.Point(
                    label: row.name, n: row.pupilsOnRoll, rate: row.ratio.ratio, flag: Statistics.Flag(rawValue: row.ratio.flag) ?? .within,
                    series: 0, expected: row.ratio.expected, link: linked ? "/schools/\(row.urn)" : nil)
            }
            let apart = c.specialistSchools.count + c.notCompared.count
            let apartNote = apart == 0 ? "" : "; \(apart) special/AP school\(apart == 1 ? "" : "s") apart (view=phase)"
            let years = Set(c.schools.map(\.comparator.censusYear)).sorted().map(String.init).joined(separator: ", ")
            let subtitle =
                c.schools.isEmpty && c.specialistSchools.isEmpty && c.notCompared.isEmpty
                ? noneYet
                : "Expected: pupils × own \(against) rate, DfE census \(years) (OGL v3.0); Poisson 95% and 99.8% limits\(apartNote)\(missing)"
            return FunnelPlot.svg(
                title: "\(measure) by school, \(c.term): observed ÷ expected", subtitle: subtitle, measureLabel: measure,
                series: [.init(label: "as expected (ratio 1)", target: 1)], points: points, kind: .ratios)
        case .phase:
            let rows = c.schools + c.specialistSchools
            var panels: [String] = []
            let phases = ComparatorPhase.allCases.filter { phase in rows.contains { $0.comparator.phase == phase.rawValue } }
            for phase in phases {
                let mine = rows.filter { $0.comparator.phase == phase.rawValue }
                var series: [FunnelPlot.Series] = []
                var seriesIndex: [String: Int] = [:]
                var points: [FunnelPlot.Point] = []
                for row in mine {
                    let key = "\(row.comparator.area)|\(row.comparator.rate)"
                    if seriesIndex[key] == nil {
                        seriesIndex[key] = series.count
                        series.append(.init(label: "\(row.comparator.area) \(row.comparator.censusYear)", target: row.comparator.rate))
                    }
                    points.append(
                        .init(
                            label: row.name, n: row.pupilsOnRoll, rate: row.rate, flag: Statistics.Flag(rawValue: row.flag) ?? .within,
                            series: seriesIndex[key]!, link: linked ? "/schools/\(row.urn)" : nil))
                }
                let years = Set(mine.map(\.comparator.censusYear)).sorted().map(String.init).joined(separator: ", ")
                panels.append(
                    FunnelPlot.svg(
                        title: "\(measure), \(phase.label), \(c.term), against the \(against) rate",
                        subtitle: "Comparator: DfE January census \(years) (OGL v3.0). Limits: 95% and 99.8%, exact binomial",
                        measureLabel: measure, series: series, points: points))
            }
            if !c.notCompared.isEmpty {
                let names = c.notCompared.map(\.name).joined(separator: ", ")
                panels.append(
                    FunnelPlot.svg(
                        title: "\(measure), \(c.term): not compared",
                        subtitle: "\(names): no national rate for schools of their kind is loaded", measureLabel: measure, series: [], points: [],
                        emptyText: "An admin imports DfE's sen_phase_type file, which has rates for special schools and AP."))
            }
            if panels.isEmpty {
                return FunnelPlot.svg(title: "\(measure) by school, \(c.term), against the \(against) rate", subtitle: noneYet + missing, measureLabel: measure, series: [], points: [])
            }
            return FunnelPlot.stack(title: "\(measure) by school and comparator phase, \(c.term)", panels: panels)
        }
    }
}
