import Foundation
import HTTPTypes
import Hummingbird
import SENAPI
import SENCore
import SENStore

/// A researcher's query page: released terms, the SEN and survey aggregates by region, LA, phase, trust size or
/// need, under disclosure control or differential privacy, through `ResearchController`'s own functions.
extension WebController {
    struct ResearchView {
        struct Release { let term: String; let label: String; let released: String; let schools: Int }
        struct Row { let key: String; let parent: String?; let units: ShownCell; let cells: [ShownCell]; let reason: String; let isTotal: Bool }
        struct Column { let label: String }
        let chrome: Chrome
        let releases: [Release]
        let hasReleases: Bool
        let terms: [Choice]
        let queries: [Choice]
        let groups: [Choice]
        let sdc: Bool
        let epsilon: String
        let epsilonHint: String
        let error: String?
        let errorField: String
        let hasAnswer: Bool
        let heading: String
        let rules: String
        let columns: [Column]
        let rows: [Row]
        let budget: String?
        let replayed: Bool
    }

    /// The form's choices as the research API names them: `sen`, or `survey:<instrument>:<item>`.
    func researchChoices(_ context: AuthenticatedContext) async throws -> (releases: [ReleaseBody], queries: [(String, String)]) {
        let releases = try await research.releaseList(context).releases
        var queries = [("sen", "SEN: pupils on SEN support and with EHC plans")]
        for instrument in try await surveys.instruments(logger: context.logger) {
            for item in instrument.items {
                queries.append(("survey:\(instrument.code):\(item.code)", "\(instrument.title): \(item.text)"))
            }
        }
        return (releases, queries)
    }

    func researchView(
        _ context: AuthenticatedContext, form: WebForm, answer: ResearchAnswer? = nil, budget: String? = nil, replayed: Bool = false,
        error: (field: String, message: String)? = nil
    ) async throws -> ResearchView {
        let (releases, queries) = try await researchChoices(context)
        let term = form["term"] ?? releases.last?.term ?? ""
        let query = form["query"] ?? "sen"
        let group = form["group_by"] ?? "region"
        let groups = [("region", "Region"), ("la", "Local authority"), ("phase", "Phase"), ("trust_size", "Trust size"), ("need", "Primary need (SEN only)")]
        var columns: [ResearchView.Column] = []
        var rows: [ResearchView.Row] = []
        if let answer {
            let names = Set(answer.cells.flatMap { $0.values.keys }).sorted()
            columns = [.init(label: Show.words(answer.units))]
                + names.flatMap { [ResearchView.Column(label: Show.words($0)), .init(label: "\(Show.words($0)) %")] }
            for (index, c) in (answer.cells + [answer.total]).enumerated() {
                let reason: String =
                    switch c.suppressed {
                    case "primary": "c: too few pupils, schools or trusts to show safely"
                    case "complementary": "c: hidden so that another hidden figure cannot be worked out from the totals"
                    default: ""
                    }
                rows.append(
                    .init(
                        key: index == answer.cells.count ? "Total" : c.key, parent: c.parent.flatMap { $0.isEmpty ? nil : $0 }, units: ShownCell(c.units),
                        cells: names.flatMap { [ShownCell(c.values[$0]), ShownCell(c.percent[$0])] }, reason: reason, isTotal: index == answer.cells.count))
            }
        }
        let maximum = min(researchBudget, Epsilon.queryMaximum)
        return ResearchView(
            chrome: Chrome("Research", context, section: "Research"),
            releases: releases.reversed().map { .init(term: $0.term, label: Show.term($0.term), released: Show.date($0.releasedAt), schools: $0.schools) },
            hasReleases: !releases.isEmpty,
            terms: releases.reversed().map { .init(value: $0.term, label: Show.term($0.term), selected: $0.term == term) },
            queries: queries.map { .init(value: $0.0, label: $0.1, selected: $0.0 == query) },
            groups: groups.map { .init(value: $0.0, label: $0.1, selected: $0.0 == group) },
            sdc: form["privacy"] != "dp", epsilon: form["epsilon"] ?? "",
            epsilonHint: "From \(Epsilon.queryMinimum) to \(maximum). Your budget for each release is ε \(researchBudget); each new differentially private query spends its ε, and asking the same query again costs nothing.",
            error: error?.message, errorField: error?.field ?? "query",
            hasAnswer: answer != nil,
            heading: answer.map { a in
                let measure = queries.first { $0.0 == query }?.1 ?? a.query
                let by = groups.first { $0.0 == a.groupBy }?.1.lowercased() ?? a.groupBy
                return "\(measure), by \(by), \(Show.term(a.term))"
            } ?? "",
            rules: answer?.rules ?? "", columns: columns, rows: rows, budget: budget, replayed: replayed)
    }

    @Sendable func researchPage(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        _ = try context.require(.researcher)
        return renderer.page("research", try await researchView(context, form: WebForm()))
    }

    /// Runs a query (a POST: a differentially private one spends budget); `format=csv` downloads it.
    @Sendable func researchQuery(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        _ = try context.require(.researcher)
        var request = request
        let form = try await WebForm.read(&request)
        let query = ResearchController.ResearchQuery(
            term: form["term"], groupBy: form["group_by"], privacy: form["privacy"] == "dp" ? "dp" : "sdc",
            epsilon: form["privacy"] == "dp" ? form["epsilon"] : nil, item: nil)
        do {
            let answered: ResearchController.Answered
            let chosen = (form["query"] ?? "sen").split(separator: ":").map(String.init)
            if chosen.count == 3, chosen[0] == "survey" {
                var survey = query
                survey.item = chosen[2]
                answered = try await research.surveyAnswer(survey, instrument: chosen[1], context: context)
            } else {
                answered = try await research.senAnswer(query, context: context)
            }
            let answer = try ResearchController.decode(answered.text)
            if form["format"] == "csv" { return csvResponse(ResearchController.csv(answer), name: "research-\(answer.term).csv") }
            return renderer.page(
                "research",
                try await researchView(
                    context, form: form, answer: answer, budget: answered.headers[.privacyBudgetRemaining],
                    replayed: answered.headers[.privacyReplayed] == "true"))
        } catch let error as APIError where [.badRequest, .notFound, .forbidden, .unprocessableContent, .tooManyRequests].contains(error.status) {
            let field = error.detail.contains("epsilon") ? "epsilon" : error.detail.contains("group_by") ? "group_by" : "query"
            // The API's words name its query parameters; the form's name its fields (the limits are the API's own).
            let message =
                field == "epsilon" && error.status == .badRequest
                ? "Enter ε as a number from \(Epsilon.queryMinimum) to \(min(researchBudget, Epsilon.queryMaximum)), with at most \(Epsilon.queryDecimals) decimal places"
                : ReturnFormView.capitalised(error.errors.first?.message ?? error.detail)
            return renderer.page("research", try await researchView(context, form: form, error: (field, message)), status: error.status)
        }
    }
}
