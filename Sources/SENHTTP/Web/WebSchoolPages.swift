import Foundation
import HTTPTypes
import Hummingbird
import SENAPI
import SENCore
import SENStore

/// One school's pages, for its trust's executives and its leaders: the school (benchmark, trend, returns by
/// term), one term's return (values, versions, approval), and the form that sends or amends it.
extension WebController {
    // MARK: The school

    struct SchoolView {
        struct TermRow { let term: String; let label: String; let deadline: String; let status: String; let tag: String; let version: String; let updated: String; let open: Bool; let sent: Bool }
        struct MeasureRow { let label: String; let rate: String; let interval: String; let comparator: String; let difference: String; let flag: Show.Flag; let change: String }
        struct TrendRow { let label: String; let pupils: String; let senSupport: String; let ehcPlan: String }
        struct NeedRow { let label: String; let school: String; let trust: String; let national: String }
        struct SurveyRow { let href: String; let title: String; let term: String; let status: String; let tag: String }
        let chrome: Chrome
        let urn: Int
        let name: String
        let termLabel: String
        let terms: [Choice]
        let returns: [TermRow]
        let measures: [MeasureRow]
        let hasBenchmark: Bool
        let noBenchmark: String?
        let trend: [TrendRow]
        let needs: [NeedRow]
        let hasNeeds: Bool
        let needsHidden: Bool
        let needNote: String
        let surveys: [SurveyRow]
        let hasSurveys: Bool
        /// The trend as a chart (inline SVG); the table beside it gives the same figures.
        let trendChart: String
        /// `…&download=` + a table's name (or `trend.svg`).
        let downloadBase: String
    }

    @Sendable func schoolPage(_ request: Request, context: SchoolContext) async throws -> Response {
        let school = context.school
        let current = AcademicTerm.current(on: todayUTC())!
        var termRows: [SchoolView.TermRow] = []
        var latestSent: AcademicTerm?
        for term in current.lastTerms(6).reversed() {
            let stored = try await returns.current(trust: school.trust, urn: school.urn, term: term, logger: context.logger)
            if stored != nil, latestSent == nil { latestSent = term }
            let status = stored.map { $0.status == .approved ? "approved" : $0.late ? "late" : "submitted" } ?? "missing"
            let shown = Show.status(status)
            termRows.append(
                .init(
                    term: term.description, label: Show.term(term.description), deadline: term.deadline.description, status: shown.text, tag: shown.tag,
                    version: stored.map { String($0.version) } ?? "", updated: Show.date(stored?.updatedAt), open: term.isOpen(on: todayUTC()),
                    sent: stored != nil))
        }
        let term: AcademicTerm
        if let text = request.uri.queryParameters.get("term"), !text.isEmpty { term = try parseTerm(text) } else { term = latestSent ?? current }
        var measures: [SchoolView.MeasureRow] = []
        var trend: [SchoolView.TrendRow] = []
        var needs: [SchoolView.NeedRow] = []
        var needNote = ""
        var noBenchmark: String?
        var chart = ""
        // What each table shows, as numbers, for its CSV download.
        var downloads: [String: [[String]]] = [
            "returns": [["term", "deadline", "status", "version", "updated_at"]] + termRows.map { [$0.term, $0.deadline, $0.status, $0.version, $0.updated] }
        ]
        do {
            let b = try await benchmark.schoolBenchmark(term: term, level: .national, context: context)
            var benchmarkRows: [[String]] = [[
                "measure", "count", "pupils_on_roll", "rate", "wilson95_lower", "wilson95_upper", "comparator_rate", "comparator_phase",
                "comparator_area", "difference_pp", "flag", "change_pp", "change_from_term", "change_significant",
            ]]
            for (name, m) in [("sen_support", b.senSupport), ("ehc_plan", b.ehcPlan)] {
                var row: [String] = [name, String(m.count), String(m.pupilsOnRoll), String(m.rate), String(m.wilson95.lower), String(m.wilson95.upper)]
                row += [String(m.comparator.rate), m.comparator.phase, m.comparator.area, String(m.differencePP), m.flag]
                row += [m.change.map { String($0.differencePP) } ?? "", m.change?.fromTerm ?? "", m.change.map { $0.significant ? "true" : "false" } ?? ""]
                benchmarkRows.append(row)
            }
            downloads["benchmark"] = benchmarkRows
            downloads["trend"] = [["term", "pupils_on_roll", "sen_support_rate", "ehc_plan_rate"]]
                + b.trend.map { [$0.term, $0.pupilsOnRoll.map(String.init) ?? "", $0.senSupportRate.map { String($0) } ?? "", $0.ehcPlanRate.map { String($0) } ?? ""] }
            if let profile = b.needProfile {
                downloads["needs"] = [["need", "school_count", "school_share", "trust_share", "national_share"]]
                    + profile.senSupport.map { [$0.need, String($0.count), String($0.share), $0.trustSuppressed ? "c" : $0.trustShare.map { String($0) } ?? "", $0.nationalShare.map { String($0) } ?? ""] }
            }
            for (label, m) in [("SEN support", b.senSupport), ("EHC plans", b.ehcPlan)] {
                measures.append(
                    .init(
                        label: label, rate: "\(Show.percent(m.rate)) (\(m.count) of \(m.pupilsOnRoll))", interval: Show.interval(m.wilson95),
                        comparator: "\(Show.percent(m.comparator.rate)) (\(Show.phase(m.comparator.phase)), \(m.comparator.area))",
                        difference: Show.pp(m.differencePP), flag: Show.flag(m.flag),
                        change: m.change.map { "\(Show.pp($0.differencePP)) since \(Show.term($0.fromTerm))\($0.significant ? ", a real change" : ", within chance")" } ?? "No return a year earlier"))
            }
            chart = TrendChart.svg(
                title: "\(school.name): SEN support and EHC plans, nine terms to \(Show.term(term.description)), against the national comparator",
                terms: b.trend.map { Show.shortTerm($0.term) },
                lines: [
                    .init(label: "SEN support", values: b.trend.map(\.senSupportRate), comparator: b.senSupport.comparator.rate, comparatorLabel: "national"),
                    .init(label: "EHC plans", values: b.trend.map(\.ehcPlanRate), comparator: b.ehcPlan.comparator.rate, comparatorLabel: "national"),
                ])
            trend = b.trend.reversed().map {
                .init(
                    label: Show.term($0.term), pupils: $0.pupilsOnRoll.map(String.init) ?? "No return",
                    senSupport: $0.senSupportRate.map(Show.percent) ?? "", ehcPlan: $0.ehcPlanRate.map(Show.percent) ?? "")
            }
            if let profile = b.needProfile {
                needNote = profile.nationalNote
                needs = profile.senSupport.map {
                    .init(
                        label: NeedCode(rawValue: $0.need)?.label ?? $0.need, school: "\(Show.percent($0.share)) (\($0.count))",
                        trust: $0.trustSuppressed ? "c" : $0.trustShare.map(Show.percent) ?? "",
                        national: $0.nationalShare.map(Show.percent) ?? "")
                }
            }
        } catch let error as APIError where error.status == .notFound {
            noBenchmark = "No benchmark for \(Show.term(term.description)): \(error.detail)."
        }
        // A school leader's survey returns for the terms open now (the trust reads results on its survey pages).
        var surveyRows: [SchoolView.SurveyRow] = []
        if context.principal.role == .schoolLeader {
            for instrument in try await surveys.instruments(logger: context.logger) {
                for term in current.lastTerms(2).reversed() {
                    let stored = try await surveys.current(trust: school.trust, urn: school.urn, instrument: instrument.code, term: term, logger: context.logger)
                    surveyRows.append(
                        .init(
                            href: "/schools/\(school.urn)/surveys/\(instrument.code)/\(term)", title: instrument.title, term: Show.term(term.description),
                            status: stored == nil ? "Not sent" : "Sent", tag: stored == nil ? "red" : "blue"))
                }
            }
        }
        switch request.uri.queryParameters.get("download") {
        case "trend.svg"? where !chart.isEmpty:
            return svgDownload(chart, name: "trend-\(school.urn)-\(term).svg")
        case let table? :
            guard let rows = downloads[table] else { throw APIError.notFound("a table named \(table) on this page") }
            return csvResponse(rows.map { CSVWriter.line($0) }.joined(), name: "\(table)-\(school.urn)-\(term).csv")
        case nil: break
        }
        let view = SchoolView(
            chrome: Chrome(school.name, context, section: context.principal.role == .schoolLeader ? "Your schools" : ""),
            urn: school.urn.value, name: school.name, termLabel: Show.term(term.description), terms: termOptions(selected: term),
            returns: termRows, measures: measures, hasBenchmark: !measures.isEmpty, noBenchmark: noBenchmark, trend: trend, needs: needs,
            hasNeeds: !needs.isEmpty, needsHidden: needs.contains { $0.trust == "c" }, needNote: needNote, surveys: surveyRows, hasSurveys: !surveyRows.isEmpty, trendChart: chart,
            downloadBase: "/schools/\(school.urn)?term=\(term)&download=")
        return renderer.page("school", view)
    }

    // MARK: One term's return

    struct ReturnView {
        struct Value { let label: String; let value: String }
        struct Section { let heading: String; let values: [Value] }
        struct Version { let version: Int; let at: String; let by: String; let source: String; let late: Bool; let changes: [String]; let warnings: [String] }
        let chrome: Chrome
        let urn: Int
        let name: String
        let term: String
        let termLabel: String
        let notice: String?
        /// A notice of something done (green), or information (blue).
        let noticeDone: Bool
        let exists: Bool
        let status: String
        let tag: String
        let version: Int
        let late: Bool
        let updated: String
        let approved: String
        let warnings: [String]
        let hasWarnings: Bool
        let sections: [Section]
        let versions: [Version]
        let canEdit: Bool
        let canApprove: Bool
        let canUnapprove: Bool
        let locked: Bool
        let open: Bool
        let reasonError: String?
    }

    @Sendable func returnPage(_ request: Request, context: SchoolContext) async throws -> Response {
        if request.uri.queryParameters.get("download") == "values" {
            let school = context.school
            let term = try context.term()
            guard let stored = try await returns.current(trust: school.trust, urn: school.urn, term: term, logger: context.logger) else {
                throw APIError.notFound("the return")
            }
            // The return as the CSV import reads it: one row, `urn` and a column per field.
            return csvResponse(ReturnsCSV.write([(stored.urn, stored.value)]), name: "sen-return-\(school.urn)-\(term).csv")
        }
        let notice: String? =
            switch request.uri.queryParameters.get("done") {
            case "saved": "Your return has been saved."
            case "approved": "The return is approved and locked."
            case "unapproved": "The approval has been withdrawn; the school can amend the return again."
            default: nil
            }
        return try await returnView(context: context, notice: notice, reasonError: nil, status: .ok)
    }

    func returnView(
        context: SchoolContext, notice: String?, reasonError: String?, status: HTTPResponse.Status, noticeDone: Bool = true
    ) async throws -> Response {
        let school = context.school
        let term = try context.term()
        let stored = try await returns.current(trust: school.trust, urn: school.urn, term: term, logger: context.logger)
        let history = try await returnsAPI.versionHistory(context: context)
        let approved = stored?.status == .approved
        let shown = Show.status(stored.map { $0.status == .approved ? "approved" : $0.late ? "late" : "submitted" } ?? "missing")
        let executive = context.principal.role == .trustExecutive
        // Who sent each version: a trust executive sees the trust's tokens by label and role (as GET /v1/tokens
        // lists them); a school leader, who cannot list tokens, sees whether it was them.
        var senders: [String: String] = [:]
        if executive {
            for token in try await accounts.list(context: context).tokens {
                senders[token.id] = "\(token.label.isEmpty ? "a token" : token.label) (\(Role(rawValue: token.role)?.label.lowercased() ?? token.role))"
            }
        }
        senders[context.principal.tokenID.uuidString] = "you"
        let view = ReturnView(
            chrome: Chrome("\(school.name): \(Show.term(term.description))", context, section: ""),
            urn: school.urn.value, name: school.name, term: term.description, termLabel: Show.term(term.description), notice: notice, noticeDone: noticeDone,
            exists: stored != nil, status: shown.text, tag: shown.tag, version: stored?.version ?? 0, late: stored?.late ?? false,
            updated: Show.date(stored?.updatedAt), approved: Show.date(stored?.approvedAt),
            warnings: stored?.warnings.map(\.message) ?? [], hasWarnings: !(stored?.warnings.isEmpty ?? true),
            sections: stored.map { Self.sections($0.value) } ?? [],
            versions: history.versions.reversed().map { v in
                .init(
                    version: v.version, at: Show.dateTime(v.submittedAt), by: v.submittedBy.map { senders[$0] ?? "another token" } ?? "senstat (the demo or an import without a token)",
                    source: Self.sourceText(v.source), late: v.late,
                    changes: v.changes.map { "\(ReturnFormView.label($0.field)): \($0.from.map(Self.text) ?? "blank") → \($0.to.map(Self.text) ?? "blank")" },
                    warnings: v.warnings.map(\.message))
            },
            canEdit: !approved && term.isOpen(on: todayUTC()), canApprove: executive && stored != nil && !approved,
            canUnapprove: executive && approved, locked: approved, open: term.isOpen(on: todayUTC()), reasonError: reasonError)
        return renderer.page("return", view, status: status)
    }

    /// How a version arrived.
    static func sourceText(_ source: String) -> String {
        switch source {
        case "api": "sent through the form or the API"
        case "csv", "import": "in a CSV import"
        case "demo": "loaded with the demo"
        default: source
        }
    }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): s
        case .integer(let n): String(n)
        case .number(let d): d == d.rounded() ? String(Int(d)) : String(d)
        case .bool(let b): b ? "Yes" : "No"
        case .null: "blank"
        default: "\(value)"
        }
    }

    static func sections(_ value: SENReturn) -> [ReturnView.Section] {
        ReturnFormView.groups.map { group in
            ReturnView.Section(
                heading: group.legend,
                values: group.keys.compactMap { key in
                    value.fields[key].map { ReturnView.Value(label: ReturnFormView.label(key), value: Self.text($0.json)) }
                })
        }.filter { !$0.values.isEmpty }
    }

    @Sendable func approve(_ request: Request, context: SchoolContext) async throws -> Response {
        do {
            _ = try await returnsAPI.approve(context: context)
        } catch let error as APIError where error.status == .conflict {
            return try await returnView(context: context, notice: nil, reasonError: error.detail, status: .conflict)
        }
        return Response(status: .seeOther, headers: [.location: "\(Self.returnPath(context))?done=approved"])
    }

    @Sendable func unapprove(_ request: Request, context: SchoolContext) async throws -> Response {
        var request = request
        let form = try await WebForm.read(&request)
        do {
            _ = try await returnsAPI.withdrawApproval(reason: form["reason"] ?? "", context: context)
        } catch let error as APIError where error.status == .unprocessableContent || error.status == .conflict {
            let message = error.errors.first?.message ?? error.detail
            return try await returnView(context: context, notice: nil, reasonError: message.prefix(1).uppercased() + message.dropFirst(), status: error.status)
        }
        return Response(status: .seeOther, headers: [.location: "\(Self.returnPath(context))?done=unapproved"])
    }

    static func returnPath(_ context: SchoolContext) -> String {
        "/schools/\(context.school.urn)/returns/\((try? context.term().description) ?? "")"
    }

    // MARK: The form

    @Sendable func editReturnPage(_ request: Request, context: SchoolContext) async throws -> Response {
        let school = context.school
        let term = try context.term()
        let stored = try await returns.current(trust: school.trust, urn: school.urn, term: term, logger: context.logger)
        if stored?.status == .approved {
            return try await returnView(
                context: context, notice: "This return is approved and locked, so it cannot be amended. The trust can withdraw the approval if it needs to change.",
                reasonError: nil, status: .conflict, noticeDone: false)
        }
        var values: [String: String] = [:]
        for (key, value) in stored?.value.fields ?? [:] { values[key] = value.description }
        return renderer.page("return-form", ReturnFormView(context: context, term: term, values: values, version: stored?.version, errors: [], conflict: []))
    }

    @Sendable func saveReturn(_ request: Request, context: SchoolContext) async throws -> Response {
        var request = request
        let form = try await WebForm.read(&request)
        let term = try context.term()
        var raw: [String: RawField] = [:]
        var typed: [String: String] = [:]
        for spec in ReturnField.all {
            guard let text = form[spec.key]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { continue }
            raw[spec.key] = .text(text)
            typed[spec.key] = text
        }
        let version = form["version"].flatMap { Int($0) }
        do {
            _ = try await returnsAPI.submit(raw, earlierIssues: [], ifMatch: version.map { .some($0) }, context: context)
            return Response(status: .seeOther, headers: [.location: "\(Self.returnPath(context))?done=saved"])
        } catch let error as APIError where error.status == .unprocessableContent && !error.errors.isEmpty {
            let errors = error.errors.map { (key: String(($0.pointer ?? "").dropFirst()).replacingOccurrences(of: "/", with: "."), message: $0.message) }
            return renderer.page(
                "return-form", ReturnFormView(context: context, term: term, values: typed, version: version, errors: errors, conflict: []),
                status: .unprocessableContent)
        } catch let error as APIError where [.preconditionFailed, .preconditionRequired].contains(error.status) {
            // Someone saved a version since this form was opened: show what they changed, keep what was typed, and
            // let the person send it again over the new version.
            let history = try await returnsAPI.versionHistory(context: context)
            let newer = history.versions.filter { $0.version > (version ?? 0) }
            let changes = newer.flatMap { v in
                v.changes.map { "Version \(v.version): \(ReturnFormView.label($0.field)) \($0.from.map(Self.text) ?? "blank") → \($0.to.map(Self.text) ?? "blank")" }
            }
            return renderer.page(
                "return-form",
                ReturnFormView(
                    context: context, term: term, values: typed, version: history.versions.last?.version, errors: [],
                    conflict: changes.isEmpty ? ["Another version was saved while you were editing."] : changes),
                status: .conflict)
        } catch let error as APIError where error.status == .conflict || error.status == .unprocessableContent {
            return renderer.page(
                "return-form",
                ReturnFormView(context: context, term: term, values: typed, version: version, errors: [("", error.detail)], conflict: []),
                status: error.status)
        }
    }
}

/// The termly return as a form, grouped as the census groups it: every field of the JSON return.
struct ReturnFormView {
    struct Field {
        let key: String
        let id: String
        let label: String
        let value: String
        let error: String?
        let numeric: Bool
        let decimal: Bool
        let isBool: Bool
        let isDate: Bool
        let isChoice: Bool
        let yes: Bool
        let no: Bool
        let options: [Choice]
        let hint: String?
    }
    struct Fieldset { let legend: String; let fields: [Field]; let hasError: Bool }
    struct Group {
        let legend: String; let id: String; let fieldsets: [Fieldset]; let hasError: Bool; let collapsible: Bool
        /// One fieldset (pupils, SENCO): its fields side by side; several (needs, years): the fieldsets side by side.
        let single: Bool
    }
    let chrome: Chrome
    let urn: Int
    let name: String
    let term: String
    let termLabel: String
    let version: String
    let amending: Bool
    let groups: [Group]
    let errors: [ErrorLink]
    let hasErrors: Bool
    let conflict: [String]
    let hasConflict: Bool

    init(context: SchoolContext, term: AcademicTerm, values: [String: String], version: Int?, errors: [(key: String, message: String)], conflict: [String]) {
        let school = context.school
        var byKey: [String: String] = [:]
        for error in errors where !error.key.isEmpty && byKey[error.key] == nil { byKey[error.key] = Self.sentence(error.message) }
        func field(_ key: String) -> Field {
            let spec = ReturnField.byKey[key]!
            let value = values[key] ?? ""
            var options: [Choice] = []
            var hint: String?
            switch spec.kind {
            case .choice(let choices):
                options = [Choice(value: "", label: "Not answered", selected: value.isEmpty)]
                    + choices.map { Choice(value: $0, label: WebController.Show.words($0), selected: $0 == value) }
            case .count(let limit): hint = limit < 1000 ? "A whole number from 0 to \(limit)" : nil
            case .decimal(let limit): hint = "A number from 0 to \(Int(limit)), such as 2.5"
            case .date: hint = "For example 2024-09-01"
            case .bool: break
            }
            return Field(
                key: key, id: Self.id(key), label: Self.shortLabel(key), value: value, error: byKey[key],
                numeric: { if case .count = spec.kind { return true } else { return false } }(),
                decimal: { if case .decimal = spec.kind { return true } else { return false } }(),
                isBool: spec.kind == .bool, isDate: spec.kind == .date,
                isChoice: { if case .choice = spec.kind { return true } else { return false } }(),
                yes: value == "true", no: value == "false", options: options, hint: hint)
        }
        self.chrome = Chrome("Return for \(school.name)", context, section: "")
        self.urn = school.urn.value
        self.name = school.name
        self.term = term.description
        self.termLabel = WebController.Show.term(term.description)
        self.version = version.map(String.init) ?? ""
        self.amending = version != nil
        self.groups = Self.groups.map { group in
            let fieldsets = group.fieldsets.map { set in
                let fields = set.keys.map(field)
                return Fieldset(legend: set.legend, fields: fields, hasError: fields.contains { $0.error != nil })
            }
            return Group(legend: group.legend, id: group.id, fieldsets: fieldsets, hasError: fieldsets.contains(where: \.hasError), collapsible: group.collapsible,
                single: fieldsets.count == 1)
        }
        // In the order of the form, then any not tied to a field.
        var links: [ErrorLink] = []
        for spec in ReturnField.all {
            guard let message = byKey[spec.key] else { continue }
            // The summary names the field when the message does not.
            let name = Self.label(spec.key)
            let named = message.lowercased().contains(name.lowercased()) ? message : "\(name): \(message.prefix(1).lowercased() + message.dropFirst())"
            links.append(ErrorLink(href: "#" + Self.id(spec.key), message: named))
        }
        for error in errors where error.key.isEmpty || ReturnField.byKey[error.key] == nil {
            links.append(ErrorLink(href: "#form", message: Self.sentence(error.message)))
        }
        self.errors = links
        self.hasErrors = !links.isEmpty
        self.conflict = conflict
        self.hasConflict = !conflict.isEmpty
    }

    /// A message of the API's as a sentence for the form: field keys read as the form labels them.
    static func sentence(_ message: String) -> String {
        var text = message
        for key in keysLongestFirst where text.contains(key) {
            let name = label(key)
            text = text.replacingOccurrences(of: key, with: name.prefix(1).lowercased() + name.dropFirst())
        }
        return capitalised(text)
    }

    static func capitalised(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }

    static let keysLongestFirst = ReturnField.all.map(\.key).sorted { $0.count > $1.count }

    static func id(_ key: String) -> String { "f-" + key.replacingOccurrences(of: ".", with: "-") }

    struct GroupSpec { let legend: String; let id: String; let collapsible: Bool; let fieldsets: [(legend: String, keys: [String])]; var keys: [String] { fieldsets.flatMap(\.keys) } }

    static let groups: [GroupSpec] = {
        let keys = ReturnField.all.map(\.key)
        func with(_ prefix: String) -> [String] { keys.filter { $0.hasPrefix(prefix) } }
        let needs = NeedCode.allCases.map { need in
            (legend: "\(need.label) (\(need.rawValue))", keys: with("primary_need.\(need.rawValue)."))
        }.filter { !$0.keys.isEmpty }
        let years = ReturnField.yearGroups.map { group in
            (legend: group == "R" ? "Reception" : "Year \(group.dropFirst())", keys: with("year_groups.\(group)."))
        }
        let progress = Provision.allCases.reversed().flatMap { provision in
            ["reading", "writing", "maths"].map { subject in
                (legend: "\(provision == .senSupport ? "SEN support" : "EHC plans"): \(subject)", keys: with("progress.\(provision.rawValue).\(subject)."))
            }
        }
        return [
            GroupSpec(legend: "Pupils", id: "roll", collapsible: false, fieldsets: [(legend: "Roll and SEN", keys: ["pupils_on_roll", "sen_support", "ehc_plan"])]),
            GroupSpec(legend: "Primary type of need", id: "needs", collapsible: false, fieldsets: needs),
            GroupSpec(legend: "SENCO", id: "senco", collapsible: false, fieldsets: [(legend: "The SENCO's role", keys: with("senco."))]),
            GroupSpec(legend: "Year groups", id: "years", collapsible: true, fieldsets: years),
            GroupSpec(legend: "Progress", id: "progress", collapsible: true, fieldsets: progress),
        ]
    }()

    /// A field's label inside its fieldset, whose legend says which need, year group or subject it is.
    static func shortLabel(_ key: String) -> String {
        let parts = key.split(separator: ".")
        guard ["primary_need", "year_groups", "progress"].contains(parts.first ?? ""), let last = parts.last else { return label(key) }
        let full = label(key)
        guard let colon = full.lastIndex(of: ":") else { return full }
        let tail = full[full.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        _ = last
        return tail.prefix(1).uppercased() + tail.dropFirst()
    }

    /// How the form and the return's page name a field.
    static func label(_ key: String) -> String {
        let parts = key.split(separator: ".").map(String.init)
        let names: [String: String] = [
            "pupils_on_roll": "Pupils on roll", "sen_support": "SEN support", "ehc_plan": "EHC plan",
            "on_slt": "The SENCO is on the senior leadership team", "national_award": "National SENCO award (NPQ for SENCOs)",
            "award_since": "Award held since", "start_date": "SENCO started in the role", "hours_per_week": "SENCO hours a week",
            "ta_fte": "Teaching assistants (full-time equivalent)", "governor_meetings": "Meetings with the SEN governor this term",
            "cpd_sessions": "SEN training sessions for staff this term", "learning_walks": "SEN learning walks this term",
            "parent_forum": "A forum for parents of pupils with SEN", "assessed": "Pupils assessed", "expected": "At the expected standard",
        ]
        switch parts.first {
        case "pupils_on_roll": return "Pupils on roll"
        case "sen_support": return "Pupils on SEN support"
        case "ehc_plan": return "Pupils with an EHC plan"
        case "primary_need" where parts.count == 3:
            return "\(NeedCode(rawValue: parts[1])?.label ?? parts[1]): \(names[parts[2]] ?? parts[2])"
        case "year_groups" where parts.count == 3:
            return "\(parts[1] == "R" ? "Reception" : "Year \(parts[1].dropFirst())"): \(names[parts[2]]?.lowercased() ?? parts[2])"
        case "senco" where parts.count == 2: return names[parts[1]] ?? parts[1]
        case "progress" where parts.count == 4:
            return "\(parts[1] == "ehc_plan" ? "EHC plans" : "SEN support"), \(parts[2]): \(names[parts[3]]?.lowercased() ?? parts[3])"
        default: return key
        }
    }
}
