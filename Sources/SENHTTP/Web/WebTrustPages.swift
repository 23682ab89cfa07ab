import Foundation
import Hummingbird
import Mustache
import SENAPI
import SENCore
import SENStore

/// A trust executive's pages: this term at a glance, and the comparison of every school against its comparator.
extension WebController {
    /// Figures as the pages show them.
    enum Show {
        static func percent(_ rate: Double) -> String { fixed(rate * 100, 1) + "%" }
        static func pp(_ value: Double) -> String { (value > 0 ? "+" : value < 0 ? "−" : "") + fixed(abs(value), 1) + " pp" }
        /// `value` with `digits` decimals, exactly as `String(format: "%.1f")` writes it (the C library's printf,
        /// in the C locale, which a Swift program keeps), at a fraction of Foundation's cost: a page of 100 schools
        /// formats over a thousand figures.
        static func fixed(_ value: Double, _ digits: Int) -> String {
            precondition((0...6).contains(digits))
            // Rounding the scaled value gives printf's digits unless the scaled value lies within a hair of a half
            // (where the product's rounding error could decide it: 0.15 is 0.1499… in binary); those, and huge
            // values, go to the C library.
            let scale = [1.0, 10, 100, 1000, 10_000, 100_000, 1_000_000][digits]
            let scaled = value * scale
            if scaled.isFinite, scaled.magnitude < 1e15, abs(scaled.magnitude - scaled.magnitude.rounded(.down) - 0.5) > 1e-6 {
                let rounded = scaled.rounded()
                let whole = UInt64(rounded.magnitude)
                let unit = UInt64(scale)
                var text = rounded.sign == .minus ? "-" : ""
                text += String(whole / unit)
                if digits > 0 {
                    let fraction = String(whole % unit)
                    text += "." + String(repeating: "0", count: digits - fraction.utf8.count) + fraction
                }
                return text
            }
            return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 400) { buffer in
                let format: StaticString = ["%.0f", "%.1f", "%.2f", "%.3f", "%.4f", "%.5f", "%.6f"][digits]
                let written = format.withUTF8Buffer { format in
                    withVaList([value]) { vsnprintf(buffer.baseAddress!, buffer.count, UnsafeRawPointer(format.baseAddress!).assumingMemoryBound(to: CChar.self), $0) }
                }
                guard written >= 0, Int(written) < buffer.count else { return String(format: "%.\(digits)f", value) }
                return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress!, count: Int(written)), as: UTF8.self)
            }
        }
        static func interval(_ i: Interval) -> String { "\(percent(i.lower)) to \(percent(i.upper))" }
        static func date(_ date: Date?) -> String {
            guard let date else { return "" }
            return date.formatted(.iso8601.year().month().day())
        }
        static func measure(_ measure: String) -> String { measure == "ehc_plan" ? "EHC plans" : "SEN support" }
        static func term(_ text: String) -> String {
            guard let term = AcademicTerm(text) else { return text }
            let end = (term.startYear + 1) % 100
            return "\(term.season.rawValue.capitalized) \(term.startYear)/\(end < 10 ? "0" : "")\(end)"
        }
        /// `2025-26-autumn` → `Aut 25/26`, for a chart's axis.
        static func shortTerm(_ text: String) -> String {
            guard let term = AcademicTerm(text) else { return text }
            let (a, b) = (term.startYear % 100, (term.startYear + 1) % 100)
            return "\(term.season.rawValue.prefix(3).capitalized) \(a < 10 ? "0" : "")\(a)/\(b < 10 ? "0" : "")\(b)"
        }
        /// A code as words: `camhs_in_school` → `CAMHS in school`, `sen_support` → `SEN support`.
        static func words(_ code: String) -> String {
            let acronyms: Set<String> = ["camhs", "sen", "ehc", "senco", "slt", "cpd", "la", "ta"]
            let parts = code.split(separator: "_").map { acronyms.contains(String($0)) ? $0.uppercased() : String($0) }
            let text = parts.joined(separator: " ")
            return text.prefix(1).uppercased() + text.dropFirst()
        }
        /// A date and time as people read it: `1 December 2026, 20:02 UTC`.
        static func dateTime(_ date: Date) -> String { dateTime(date, short: false) }
        /// A date and time for a table row: `6 Dec 2026, 10:34`, UTC (the table's heading says so).
        static func shortDateTime(_ date: Date) -> String { dateTime(date, short: true) }
        static func dateTime(_ date: Date, short: Bool) -> String {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
            let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
            let month = short ? String(months[c.month! - 1].prefix(3)) : months[c.month! - 1]
            return "\(c.day!) \(month) \(c.year!), \(c.hour! < 10 ? "0" : "")\(c.hour!):\(c.minute! < 10 ? "0" : "")\(c.minute!)\(short ? "" : " UTC")"
        }
        /// `state_funded_primary` → `state-funded primary`.
        static func phase(_ raw: String) -> String {
            let words = raw.split(separator: "_", omittingEmptySubsequences: false)
            var out = ""
            for (index, word) in words.enumerated() {
                if index > 0 { out += word == "funded" && words[index - 1] == "state" ? "-" : " " }
                out += word
            }
            return out
        }

        /// A flag as text and symbol as well as colour: above (▲) or below (▼) the 99.8% or 95% limit.
        final class Flag: Sendable {
            let text: String
            let symbol: String
            let tag: String
            let outlier: Bool

            init(text: String, symbol: String, tag: String, outlier: Bool) {
                self.text = text; self.symbol = symbol; self.tag = tag; self.outlier = outlier
            }
        }
        static func flag(_ raw: String) -> Flag {
            switch raw {
            case "high_99_8": Flag(text: "Above 99.8% limit", symbol: "▲▲", tag: "red", outlier: true)
            case "high_95": Flag(text: "Above 95% limit", symbol: "▲", tag: "orange", outlier: true)
            case "low_95": Flag(text: "Below 95% limit", symbol: "▼", tag: "blue", outlier: true)
            case "low_99_8": Flag(text: "Below 99.8% limit", symbol: "▼▼", tag: "purple", outlier: true)
            default: Flag(text: "Within limits", symbol: "", tag: "grey", outlier: false)
            }
        }

        static func status(_ raw: String) -> (text: String, tag: String) {
            switch raw {
            case "approved": ("Approved", "green")
            case "submitted": ("Sent", "blue")
            case "late": ("Sent late", "orange")
            case "missing": ("Not sent", "red")
            default: (raw, "grey")
            }
        }
    }

    func termOptions(selected: AcademicTerm) -> [Choice] {
        let latest = max(AcademicTerm.current(on: todayUTC()) ?? selected, selected)
        return latest.lastTerms(9).reversed().map { Choice(value: $0.description, label: Show.term($0.description), selected: $0 == selected) }
    }

    /// The term a page shows: `?term=`, or else the latest of the last nine terms in which any school of the
    /// trust sent a return (the current term when none has).
    func chosenTerm(_ request: Request, trust: TrustID, context: some AuthenticatedRequestContext) async throws -> AcademicTerm {
        if let text = request.uri.queryParameters.get("term"), !text.isEmpty { return try parseTerm(text) }
        let current = AcademicTerm.current(on: todayUTC())!
        let terms = current.lastTerms(9)
        let history = try await benchmarks.history(trust: trust, terms: terms, logger: context.logger)
        let sent = Set(history.values.flatMap { $0.keys })
        return terms.last { sent.contains($0) } ?? current
    }

    // MARK: This term

    struct TrustHomeView {
        struct SchoolRow { let urn: Int; let name: String; let phase: String; let status: String; let tag: String; let updated: String; let term: String }
        struct Flagged { let urn: Int; let name: String; let sentence: String; let flag: Show.Flag }
        struct Total { let label: String; let count: Int; let tag: String }
        let chrome: Chrome
        let trustID: String
        let term: String
        let termLabel: String
        let terms: [Choice]
        let deadline: String
        let totals: [Total]
        let schools: [SchoolRow]
        let flagged: [Flagged]
        let noFlags: Bool
        let noFlagsText: String
        let pooled: [String]
        let changes: [String]
        let noReturns: Bool
    }

    @Sendable func trustHome(_ request: Request, context: TrustContext) async throws -> Response {
        let term = try await chosenTerm(request, trust: context.trust, context: context)
        let rows = try await returns.completeness(trust: context.trust, term: term, logger: context.logger)
        let completeness = Completeness(trust: context.trust, term: term, rows: rows)
        var flagged: [TrustHomeView.Flagged] = []
        var pooled: [String] = []
        var changes: [String] = []
        var compared = 0
        let anySent = completeness.schools.contains { $0.status != "missing" }
        if anySent {
            for measure in [Provision.senSupport, .ehcPlan] {
                let comparison = try await benchmark.compare(term: term, level: .national, measure: measure, context: context)
                compared = max(compared, comparison.schools.count + comparison.specialistSchools.count)
                for row in comparison.schools + comparison.specialistSchools where Show.flag(row.flag).outlier {
                    flagged.append(.init(urn: row.urn, name: row.name, sentence: Self.explain(row, measure: comparison.measure), flag: Show.flag(row.flag)))
                }
                pooled.append(Self.explainPooled(comparison))
                if let change = comparison.pooledChange {
                    changes.append(
                        "\(Show.measure(comparison.measure)) across the trust: \(Show.pp(change.differencePP)) since \(Show.term(change.fromTerm)) (\(Show.percent(change.fromRate)) then); "
                            + (change.significant ? "a real change (the 95% interval, \(Show.pp(change.interval95PP.lower)) to \(Show.pp(change.interval95PP.upper)), excludes no change)." : "within what chance alone would give."))
                }
                for row in comparison.schools + comparison.specialistSchools {
                    if let change = row.change, change.significant {
                        changes.append("\(row.name): \(Show.measure(comparison.measure)) \(Show.pp(change.differencePP)) since \(Show.term(change.fromTerm)), a real change.")
                    }
                }
            }
        }
        let labels = [("submitted", "Sent", "blue"), ("late", "Sent late", "orange"), ("approved", "Approved", "green"), ("missing", "Not sent", "red")]
        let view = TrustHomeView(
            chrome: Chrome("This term", context, section: "This term"),
            trustID: context.trust.uuidString, term: term.description, termLabel: Show.term(term.description), terms: termOptions(selected: term),
            deadline: term.deadline.description,
            totals: labels.map { .init(label: $0.1, count: completeness.totals[$0.0] ?? 0, tag: $0.2) },
            schools: completeness.schools.map {
                let status = Show.status($0.status)
                return .init(urn: $0.urn, name: $0.name, phase: Show.phase($0.phase), status: status.text, tag: status.tag, updated: Show.date($0.updatedAt), term: term.description)
            },
            flagged: flagged, noFlags: anySent && flagged.isEmpty,
            noFlagsText: compared == 1
                ? "The one school compared is within the 95% limits of its national comparator for SEN support and EHC plans."
                : "All \(compared) schools compared are within the 95% limits of their national comparator for SEN support and EHC plans.",
            pooled: pooled, changes: changes, noReturns: !anySent)
        return renderer.page("trust-home", view)
    }

    /// One line a trust executive can read: the school's rate, what its comparator predicts, and which limit it is
    /// outside.
    static func explain(_ row: ComparisonRow, measure: String) -> String {
        let what = measure == "ehc_plan" ? "with an EHC plan" : "on SEN support"
        let direction = row.rate > row.comparator.rate ? "higher" : "lower"
        let strength =
            row.flag.hasSuffix("99_8")
            ? "outside the 99.8% limits: a difference this large would arise by chance about once in 500 schools"
            : "outside the 95% limits (but inside 99.8%): worth a look, as one school in 20 would be by chance"
        return "\(Show.percent(row.rate)) of pupils \(what) (\(row.count) of \(row.pupilsOnRoll)), \(direction) than the \(Show.percent(row.comparator.rate)) of \(Show.phase(row.comparator.phase)) schools \(row.comparator.level == "national" ? "nationally" : "in \(row.comparator.area)"); \(strength)."
    }

    static func explainPooled(_ c: Comparison) -> String {
        let rate = c.pooled["rate"] ?? 0
        let what = Show.measure(c.measure)
        guard let s = c.standardised else {
            return "\(what): \(Show.percent(rate)) across the trust's schools that sent a return."
        }
        let verdict =
            switch s.verdict {
            case "above": "more than the national rates predict for schools like the trust's"
            case "below": "fewer than the national rates predict for schools like the trust's"
            default: "in line with what the national rates predict for schools like the trust's"
            }
        return "\(what): \(Show.percent(rate)) across the trust; \(s.observed) pupils against \(String(format: "%.0f", s.expected)) expected from each school's comparator (ratio \(String(format: "%.2f", s.ratio)), 95% interval \(String(format: "%.2f", s.interval95.lower)) to \(String(format: "%.2f", s.interval95.upper))): \(verdict)."
    }

    // MARK: Comparison

    struct ComparisonView {
        /// One school's row of the table, its figures as the page shows them (written by `tableRows`).
        struct Row {
            let urn: Int; let name: String; let phase: String; let pupils: Int; let count: Int; let rate: String; let interval: String
            let comparator: String; let difference: String; let ratio: String; let flag: Show.Flag
            /// z and the limits the flag comes from, and the flag allowing for over-dispersion.
            let detail: String
            let change: String
        }
        struct Column { let key: String; let label: String; let href: String; let sort: String; let numeric: Bool }
        let chrome: Chrome
        let trustID: String
        let termLabel: String
        let measureLabel: String
        let terms: [Choice]
        let measures: [Choice]
        let comparators: [Choice]
        let columns: [Column]
        /// The table's body (`tableRows`).
        let tableRows: String
        let hasRows: Bool
        let funnel: String
        let svgHref: String
        let csvHref: String
        let notCompared: [NotCompared]
        let missing: [MissingSchool]
        let hasNotCompared: Bool
        let hasMissing: Bool
        let pooled: String
    }

    func comparisonQuery(_ request: Request, _ context: TrustContext) async throws -> (AcademicTerm, ComparatorLevel, Provision) {
        let term = try await chosenTerm(request, trust: context.trust, context: context)
        let query = request.uri.queryParameters
        guard let level = ComparatorLevel(rawValue: query.get("comparator") ?? "national") else {
            throw APIError(.badRequest, "comparator must be national, regional or la")
        }
        guard let measure = Provision(rawValue: query.get("measure") ?? "sen_support") else {
            throw APIError(.badRequest, "measure must be sen_support or ehc_plan")
        }
        return (term, level, measure)
    }

    @Sendable func comparisonPage(_ request: Request, context: TrustContext) async throws -> Response {
        let (term, level, measure) = try await comparisonQuery(request, context)
        let compared = try await benchmark.compared(term: term, level: level, measure: measure, context: context)
        let c = compared.comparison
        let sort = request.uri.queryParameters.get("sort") ?? "name"
        let descending = sort.hasPrefix("-")
        let key = descending ? String(sort.dropFirst()) : sort
        var rows = c.schools + c.specialistSchools
        let orders: [String: (ComparisonRow, ComparisonRow) -> Bool] = [
            "name": { $0.name.localizedCaseInsensitiveCompare($1.name) == .orderedAscending },
            "pupils": { $0.pupilsOnRoll < $1.pupilsOnRoll },
            "rate": { $0.rate < $1.rate },
            "difference": { $0.differencePP < $1.differencePP },
            "ratio": { $0.ratio.ratio < $1.ratio.ratio },
            "z": { $0.z < $1.z },
            "change": { ($0.change?.differencePP ?? -.infinity) < ($1.change?.differencePP ?? -.infinity) },
        ]
        if let order = orders[key] { rows.sort { descending ? order($1, $0) : order($0, $1) } }
        let base = "/trusts/\(context.trust)/comparison?term=\(term)&measure=\(measure.rawValue)&comparator=\(level.rawValue)"
        let columns = [("name", "School", false), ("pupils", "Pupils on roll", true), ("rate", "Rate", true), ("difference", "Difference from comparator", true), ("ratio", "Observed ÷ expected", true), ("z", "Flag", true), ("change", "In a year", true)].map { column in
            let current = key == column.0
            return ComparisonView.Column(
                key: column.0, label: column.1, href: base + "&sort=" + (current && !descending ? "-" : "") + column.0,
                sort: current ? (descending ? "descending" : "ascending") : "none", numeric: column.2)
        }
        let query = "term=\(term)&measure=\(measure.rawValue)&comparator=\(level.rawValue)"
        let view = ComparisonView(
            chrome: Chrome("Comparison", context, section: "Comparison"), trustID: context.trust.uuidString,
            termLabel: Show.term(term.description), measureLabel: Show.measure(measure.rawValue), terms: termOptions(selected: term),
            measures: Provision.allCases.map { .init(value: $0.rawValue, label: Show.measure($0.rawValue), selected: $0 == measure) },
            comparators: [(ComparatorLevel.national, "National"), (.regional, "Region"), (.la, "Local authority")].map {
                .init(value: $0.0.rawValue, label: $0.1, selected: $0.0 == level)
            },
            columns: columns,
            tableRows: ComparisonView.tableRows(rows.map {
                .init(
                    urn: $0.urn, name: $0.name, phase: Show.phase($0.phase), pupils: $0.pupilsOnRoll, count: $0.count, rate: Show.percent($0.rate),
                    interval: Show.interval($0.wilson95), comparator: "\(Show.percent($0.comparator.rate)) (\(Show.phase($0.comparator.phase)), \($0.comparator.area))",
                    difference: Show.pp($0.differencePP), ratio: Show.fixed($0.ratio.ratio, 2), flag: Show.flag($0.flag),
                    detail: "z \(Show.fixed($0.z, 2)); 95% limits \(Show.interval($0.limits95)); 99.8% limits \(Show.interval($0.limits998)); allowing for over-dispersion (φ): \(Show.flag($0.flags["phi"] ?? $0.flag).text.lowercased())",
                    change: $0.change.map { "\(Show.pp($0.differencePP)) since \(Show.term($0.fromTerm))\($0.significant ? ", a real change" : "")" } ?? "no return a year earlier")
            }),
            hasRows: !rows.isEmpty,
            funnel: rows.isEmpty ? "" : Self.inline(benchmark.funnel(compared, view: .ratio, linked: true)),
            svgHref: "/trusts/\(context.trust)/funnel.svg?" + query, csvHref: "/trusts/\(context.trust)/comparison.csv?" + query,
            notCompared: c.notCompared, missing: c.missing, hasNotCompared: !c.notCompared.isEmpty, hasMissing: !c.missing.isEmpty,
            pooled: Self.explainPooled(c))
        return renderer.page("comparison", view)
    }

    /// The funnel plot for a page: the API's SVG without its XML prolog, which HTML does not take.
    static func inline(_ svg: String) -> String {
        var text = svg
        if text.hasPrefix("<?xml"), let end = text.range(of: "?>") { text = String(text[end.upperBound...]) }
        return text
    }

    @Sendable func comparisonCSV(_ request: Request, context: TrustContext) async throws -> Response {
        let (term, level, measure) = try await comparisonQuery(request, context)
        let c = try await benchmark.compare(term: term, level: level, measure: measure, context: context)
        return csvResponse(benchmark.comparisonCSV(c), name: "comparison-\(c.term)-\(c.measure).csv")
    }
}

// MARK: Import of many schools' returns

extension WebController {
    struct ImportView {
        struct Problem { let row: String; let column: String; let message: String }
        struct Warning { let urn: Int; let row: Int; let message: String }
        let chrome: Chrome
        let trustID: String
        let terms: [Choice]
        let key: String
        let error: String?
        let problems: [Problem]
        /// The first problems again in the error summary, each linking to the table.
        let summaryProblems: [Problem]
        let hasProblems: Bool
        let done: Bool
        let summary: String
        let warnings: [Warning]
        let hasWarnings: Bool
        let columns: String
    }

    func importView(
        _ context: TrustContext, term: AcademicTerm?, error: String? = nil, problems: [ImportView.Problem] = [], receipt: ImportResult? = nil
    ) -> ImportView {
        let current = AcademicTerm.current(on: todayUTC())!
        let selected = term ?? current
        let summary = receipt.map {
            "\($0.rows) row\($0.rows == 1 ? "" : "s") for \(Show.term($0.term)): \($0.created) new, \($0.amended) amended, \($0.unchanged) unchanged\($0.late ? " (after the deadline, so marked late)" : "")."
        }
        return ImportView(
            chrome: Chrome("Import returns", context, section: "Import"), trustID: context.trust.uuidString,
            terms: current.lastTerms(3).reversed().map { Choice(value: $0.description, label: Show.term($0.description), selected: $0 == selected) },
            key: WebSessions.randomToken(), error: error, problems: problems, summaryProblems: Array(problems.prefix(10)), hasProblems: !problems.isEmpty, done: receipt != nil,
            summary: summary ?? "", warnings: receipt?.warnings.map { .init(urn: $0.urn, row: $0.row, message: $0.message) } ?? [],
            hasWarnings: !(receipt?.warnings.isEmpty ?? true),
            columns: (["urn"] + ReturnField.all.prefix(3).map(\.key)).joined(separator: ","))
    }

    @Sendable func importPage(_ request: Request, context: TrustContext) async throws -> Response {
        renderer.page("import", importView(context, term: nil))
    }

    /// The CSV upload: the API's import, keyed by a one-off key the page carried, so sending the form twice imports
    /// once.
    @Sendable func importReturns(_ request: Request, context: TrustContext) async throws -> Response {
        var request = request
        let form = try await WebForm.read(&request)
        let term = try parseTerm(form["term"])
        guard let file = form.files["file"], !file.bytes.isEmpty else {
            return renderer.page("import", importView(context, term: term, error: "Choose a CSV file of returns"), status: .unprocessableContent)
        }
        guard let key = form["key"], !key.isEmpty, key.count <= 200 else { throw APIError(.badRequest, "the form has no import key; reload the page") }
        do {
            let result = try await returnImport.importCSV(file.bytes, term: term, key: key, context: context)
            return renderer.page("import", importView(context, term: term, receipt: result.responseGenerator))
        } catch let error as APIError where error.status == .unprocessableContent {
            let problems = error.errors.map {
                ImportView.Problem(row: $0.row.map(String.init) ?? "", column: $0.column ?? "", message: ReturnFormView.capitalised($0.message))
            }
            return renderer.page(
                "import", importView(context, term: term, error: ReturnFormView.capitalised(error.detail), problems: problems), status: .unprocessableContent)
        }
    }
}

// A flag answers Mustache by name directly (the trust home lists the schools outside the limits with theirs).
extension WebController.Show.Flag: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "text": text
        case "symbol": symbol
        case "tag": tag
        case "outlier": outlier
        default: nil
        }
    }
}
