import Foundation
import HTTPTypes
import Hummingbird
import SENAPI
import SENCore
import SENStore

/// The wellbeing surveys: a school leader's return for an instrument and term (a form, like the SEN return's), and
/// the trust's results with small cells hidden, through `SurveysController`'s own functions.
extension WebController {
    struct SurveyFormView {
        struct Field { let name: String; let id: String; let label: String; let value: String; let error: String? }
        struct Item { let legend: String; let hint: String; let id: String; let error: String?; let fields: [Field] }
        let chrome: Chrome
        let urn: Int
        let name: String
        let term: String
        let termLabel: String
        let instrument: String
        let title: String
        let audience: String
        let version: String
        let respondents: Field
        let items: [Item]
        let errors: [ErrorLink]
        let hasErrors: Bool
        let notice: String?
        let conflict: Bool
    }

    static func surveyID(_ key: String) -> String { "s-" + key.replacingOccurrences(of: ".", with: "-") }

    func surveyForm(
        _ context: SchoolContext, instrument: Instrument, term: AcademicTerm, values: [String: String], version: Int?,
        errors: [(key: String, message: String)] = [], notice: String? = nil, conflict: Bool = false
    ) -> SurveyFormView {
        // The validator's messages, made about what the person typed; the summary also names the field.
        func readable(_ key: String, _ message: String) -> String {
            if message.hasPrefix("expected a whole number"), let typed = values[key] { return "'\(typed)' is not a whole number" }
            return ReturnFormView.capitalised(message)
        }
        func name(_ key: String) -> String? {
            if key == "respondents" { return "Respondents" }
            let parts = key.split(separator: ".").map(String.init)
            guard parts.count >= 2, parts[0] == "items", let item = instrument.items.first(where: { $0.code == parts[1] }) else { return nil }
            return parts.count == 3 ? "\(item.text) \(Show.words(parts[2]))" : item.text
        }
        var byKey: [String: String] = [:]
        for error in errors where byKey[error.key] == nil { byKey[error.key] = readable(error.key, error.message) }
        func field(_ key: String, _ label: String) -> SurveyFormView.Field {
            .init(name: key, id: Self.surveyID(key), label: label, value: values[key] ?? "", error: byKey[key])
        }
        let items = instrument.items.map { item in
            SurveyFormView.Item(
                legend: item.text, hint: item.isMultiple ? "Respondents may choose more than one answer." : "Each respondent chooses one answer.",
                id: Self.surveyID("items.\(item.code)"), error: byKey["items.\(item.code)"],
                fields: item.options.map { field("items.\(item.code).\($0)", Show.words($0)) })
        }
        var links: [ErrorLink] = []
        for error in errors {
            let key = error.key
            let target = key.isEmpty ? "#form" : key.split(separator: ".").count == 2 ? "#" + Self.surveyID(key + "." + (instrument.items.first { "items.\($0.code)" == key }?.options.first ?? "")) : "#" + Self.surveyID(key)
            let message = readable(key, error.message)
            links.append(.init(href: target, message: name(key).map { "\($0): \(message.prefix(1).lowercased() + message.dropFirst())" } ?? message))
        }
        return SurveyFormView(
            chrome: Chrome("\(instrument.title): \(context.school.name)", context, section: ""), urn: context.school.urn.value,
            name: context.school.name, term: term.description, termLabel: Show.term(term.description), instrument: instrument.code,
            title: instrument.title, audience: Show.words(instrument.audience).lowercased(), version: version.map(String.init) ?? "",
            respondents: field("respondents", "Respondents"), items: items, errors: links, hasErrors: !links.isEmpty, notice: notice, conflict: conflict)
    }

    func surveyInstrument(_ context: SchoolContext) async throws -> (AcademicTerm, Instrument) {
        try await surveysAPI.termAndInstrument(context)
    }

    @Sendable func surveyPage(_ request: Request, context: SchoolContext) async throws -> Response {
        let (term, instrument) = try await surveyInstrument(context)
        let stored = try await surveys.current(
            trust: context.school.trust, urn: context.school.urn, instrument: instrument.code, term: term, logger: context.logger)
        var values: [String: String] = [:]
        if let stored, let payload = try? JSONDecoder().decode(JSONValue.self, from: Data(stored.payload.utf8)), case .object(let root) = payload {
            if case .integer(let n)? = root["respondents"] { values["respondents"] = String(n) }
            if case .object(let items)? = root["items"] {
                for (item, options) in items {
                    guard case .object(let counts) = options else { continue }
                    for (option, count) in counts { if case .integer(let n) = count { values["items.\(item).\(option)"] = String(n) } }
                }
            }
        }
        let notice = request.uri.queryParameters.get("done") == "saved" ? "The survey return has been saved." : nil
        return renderer.page("survey-form", surveyForm(context, instrument: instrument, term: term, values: values, version: stored?.version, notice: notice))
    }

    @Sendable func saveSurvey(_ request: Request, context: SchoolContext) async throws -> Response {
        var request = request
        let form = try await WebForm.read(&request)
        let (term, instrument) = try await surveyInstrument(context)
        // The form's text as the JSON return: a whole number as a number, anything else as the text, so that the
        // API's validator names what is wrong.
        func json(_ text: String) -> JSONValue { Int64(text).map { .integer($0) } ?? .string(text) }
        var typed: [String: String] = [:]
        var root: [String: JSONValue] = [:]
        if let text = form["respondents"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            root["respondents"] = json(text)
            typed["respondents"] = text
        }
        var items: [String: JSONValue] = [:]
        for item in instrument.items {
            var counts: [String: JSONValue] = [:]
            for option in item.options {
                let key = "items.\(item.code).\(option)"
                guard let text = form[key]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { continue }
                counts[option] = json(text)
                typed[key] = text
            }
            if !counts.isEmpty { items[item.code] = .object(counts) }
        }
        root["items"] = .object(items)
        let version = form["version"].flatMap { Int($0) }
        do {
            _ = try await surveysAPI.submit(.object(root), ifMatch: version.map { .some($0) }, context: context)
            return Response(
                status: .seeOther, headers: [.location: "/schools/\(context.school.urn)/surveys/\(instrument.code)/\(term)?done=saved"])
        } catch let error as APIError where error.status == .unprocessableContent {
            let errors = error.errors.isEmpty
                ? [(key: "", message: error.detail)]
                : error.errors.map { (key: String(($0.pointer ?? "").dropFirst()).replacingOccurrences(of: "/", with: "."), message: $0.message) }
            return renderer.page(
                "survey-form", surveyForm(context, instrument: instrument, term: term, values: typed, version: version, errors: errors),
                status: .unprocessableContent)
        } catch let error as APIError where [.preconditionFailed, .preconditionRequired, .conflict].contains(error.status) {
            let current = try await surveys.current(
                trust: context.school.trust, urn: context.school.urn, instrument: instrument.code, term: term, logger: context.logger)
            return renderer.page(
                "survey-form",
                surveyForm(
                    context, instrument: instrument, term: term, values: typed, version: current?.version,
                    errors: [("", "Someone else saved this survey return while you were editing (now version \(current?.version ?? 0)). Check your figures and send them again to replace it.")],
                    conflict: true),
                status: .conflict)
        }
    }

    // MARK: The trust's results

    struct SurveyResultsView {
        struct Row { let name: String; let respondents: ShownCell; let cells: [ShownCell]; let reason: String; let pooled: Bool }
        struct Table { let heading: String; let columns: [String]; let rows: [Row] }
        let chrome: Chrome
        let trustID: String
        let instrument: String
        let title: String
        let termLabel: String
        let terms: [Choice]
        let instruments: [Choice]
        let minimum: Int
        let tables: [Table]
        let hasReturns: Bool
        let csvHref: String
    }

    @Sendable func surveyResults(_ request: Request, context: TrustContext) async throws -> Response {
        let all = try await surveys.instruments(logger: context.logger)
        let code = context.parameters.get("instrument") ?? ""
        guard let instrument = all.first(where: { $0.code == code }) else { throw APIError.notFound("the instrument") }
        let term: AcademicTerm
        if let text = request.uri.queryParameters.get("term"), !text.isEmpty { term = try parseTerm(text) } else {
            term = try await chosenTerm(request, trust: context.trust, context: context)
        }
        let table = try await surveysAPI.trustTable(trust: context.trust, instrument: instrument, term: term, logger: context.logger)
        let tables = instrument.items.map { item in
            SurveyResultsView.Table(
                heading: item.text, columns: item.options.flatMap { [Show.words($0), "\(Show.words($0)) %"] },
                rows: (table.schools + [table.pooled]).map { school in
                    let options = school.items[item.code] ?? [:]
                    let reason: String =
                        switch school.suppressed {
                        case "primary": "c: fewer than \(table.minimumRespondents) respondents"
                        case "complementary": "c: hidden so that the trust's totals cannot give away a smaller school"
                        default: ""
                        }
                    return .init(
                        name: school.urn == 0 ? "All schools" : school.name ?? String(school.urn), respondents: ShownCell(school.respondents),
                        cells: item.options.flatMap { [ShownCell(options[$0]?["count"]), ShownCell(options[$0]?["percent"])] }, reason: reason, pooled: school.urn == 0)
                })
        }
        if request.uri.queryParameters.get("download") == "results" {
            // Every item in one long table, as shown: hidden figures are c.
            var lines = [CSVWriter.line(["urn", "name", "item", "option", "respondents", "count", "percent", "suppressed"])]
            for school in table.schools + [table.pooled] {
                for item in instrument.items {
                    for option in item.options {
                        let shown = school.items[item.code]?[option]
                        lines.append(CSVWriter.line([
                            school.urn == 0 ? "" : String(school.urn), school.name ?? "", item.code, option, school.respondents.text,
                            shown?["count"]?.text ?? "", shown?["percent"]?.text ?? "", school.suppressed ?? "",
                        ]))
                    }
                }
            }
            return csvResponse(lines.joined(), name: "survey-\(instrument.code)-\(term).csv")
        }
        let view = SurveyResultsView(
            chrome: Chrome(instrument.title, context, section: "Surveys"), trustID: context.trust.uuidString, instrument: instrument.code,
            title: instrument.title, termLabel: Show.term(term.description), terms: termOptions(selected: term),
            instruments: all.map { .init(value: $0.code, label: $0.title, selected: $0.code == code) }, minimum: table.minimumRespondents,
            tables: tables, hasReturns: !table.schools.isEmpty,
            csvHref: "/trusts/\(context.trust)/surveys/\(instrument.code)?term=\(term)&download=results")
        return renderer.page("survey-results", view)
    }

    /// The trust's first instrument's results (the navigation's "Surveys").
    @Sendable func surveysHome(_ request: Request, context: TrustContext) async throws -> Response {
        guard let first = try await surveys.instruments(logger: context.logger).first else { throw APIError.notFound("a survey instrument") }
        return Response(status: .seeOther, headers: [.location: "/trusts/\(context.trust)/surveys/\(first.code)"])
    }
}
