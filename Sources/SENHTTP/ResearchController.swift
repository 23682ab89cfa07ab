import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SENAPI
import NIOCore
import SENCore
import SENStore

/// Releases (admin) and researchers' aggregate queries, answered only from frozen releases and only through
/// disclosure control, or with differential privacy against a budget (Docs/privacy.md).
struct ResearchController {
    let research: ResearchStore
    let surveys: SurveyStore
    /// ε a researcher may spend on one release.
    let budget: Epsilon
    let database: Database

    var routes: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.post("admin/releases", use: release)
        routes.get("admin/releases", use: adminReleases)
        let reports = routes.group("research").add(middleware: ReplicaReadMiddleware<AuthenticatedContext>(database: database))
        reports.get("releases", use: releases)
        reports.get("sen", use: sen)
        reports.get("surveys/:instrument", use: survey)
        return routes
    }

    @Sendable func release(_ request: Request, context: AuthenticatedContext) async throws -> EditedResponse<ReleaseBody> {
        _ = try context.require(.admin)
        struct Body: Decodable { let term: String }
        var request = request
        let body = try await request.decodeJSON(Body.self)
        return EditedResponse(status: .created, response: try await release(term: try parseTerm(body.term), context: context))
    }

    /// Freezes `term` for research, once, after its deadline.
    func release(term: AcademicTerm, context: AuthenticatedContext) async throws -> ReleaseBody {
        _ = try context.require(.admin)
        guard todayUTC() > term.deadline else {
            throw APIError(.unprocessableContent, "\(term) can be released after its deadline, \(term.deadline)")
        }
        do {
            _ = try await research.release(term: term, actor: context.principal.tokenID, logger: context.logger)
        } catch ResearchStore.ReleaseError.alreadyReleased {
            throw APIError(.conflict, "\(term) is already released; a release is frozen and made once")
        }
        guard let release = try await research.releases(logger: context.logger).first(where: { $0.term == term }) else {
            throw APIError.notFound("the release")
        }
        return ReleaseBody(term: release.term.description, releasedAt: release.releasedAt, schools: release.schools)
    }

    @Sendable func adminReleases(_ request: Request, context: AuthenticatedContext) async throws -> ReleaseList {
        _ = try context.require(.admin)
        return try await releaseList(context)
    }

    @Sendable func releases(_ request: Request, context: AuthenticatedContext) async throws -> ReleaseList {
        _ = try context.require(.admin, .researcher)
        return try await releaseList(context)
    }

    func releaseList(_ context: AuthenticatedContext) async throws -> ReleaseList {
        ReleaseList(releases: try await research.releases(logger: context.logger).map {
            ReleaseBody(term: $0.term.description, releasedAt: $0.releasedAt, schools: $0.schools)
        })
    }

    @Sendable func sen(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try respond(request, try await senAnswer(ResearchQuery(request), context: context))
    }

    @Sendable func survey(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let code = context.parameters.get("instrument") ?? ""
        return try respond(request, try await surveyAnswer(ResearchQuery(request), instrument: code, context: context))
    }

    /// What a research query asks, from the API's query string or the web app's form.
    struct ResearchQuery: Sendable {
        var term: String?
        var groupBy: String?
        var privacy: String?
        var epsilon: String?
        var item: String?

        init(term: String?, groupBy: String?, privacy: String?, epsilon: String?, item: String?) {
            (self.term, self.groupBy, self.privacy, self.epsilon, self.item) = (term, groupBy, privacy, epsilon, item)
        }

        init(_ request: Request) {
            let query = request.uri.queryParameters
            self.init(
                term: query.get("term"), groupBy: query.get("group_by"), privacy: query.get("privacy"), epsilon: query.get("epsilon"),
                item: query.get("item"))
        }
    }

    /// An answer as stored (JSON text), with the budget headers of a differentially private one.
    typealias Answered = (text: String, headers: HTTPFields)

    func respond(_ request: Request, _ answered: Answered) throws -> Response {
        if wantsCSV(request) {
            let answer = try Self.decode(answered.text)
            return csvResponse(Self.csv(answer), name: "research-\(answer.term).csv")
        }
        var response = jsonResponse(answered.text, status: .ok)
        for field in answered.headers { response.headers[field.name] = field.value }
        return response
    }

    static func decode(_ text: String) throws -> ResearchAnswer {
        do {
            return try JSONDecoder.api.decode(ResearchAnswer.self, from: Data(text.utf8))
        } catch {
            throw CorruptRow(table: "release_answers or dp_answers", detail: "a stored research answer cannot be read: \(error)")
        }
    }

    /// Pupils on SEN support and with EHC plans by a dimension of a released term.
    func senAnswer(_ query: ResearchQuery, context: AuthenticatedContext) async throws -> Answered {
        let principal = try context.require(.researcher)
        let (term, dimension, dp) = try parameters(query, allowNeed: true)
        return try await answer(
            context, principal: principal, term: term, query: "sen", dimension: dimension, dp: dp,
            units: dimension == .need ? "pupils_with_need" : "pupils", sensitivity: PrivacyLoss.sensitivity(valuesPerUnit: 1)
        ) { dimensions in
            try await research.senCells(term: term, by: dimensions, logger: context.logger)
        }
    }

    /// One item of a survey instrument by a dimension of a released term.
    func surveyAnswer(_ query: ResearchQuery, instrument code: String, context: AuthenticatedContext) async throws -> Answered {
        let principal = try context.require(.researcher)
        let (term, dimension, dp) = try parameters(query, allowNeed: false)
        guard let instrument = try await surveys.instrument(code, logger: context.logger) else {
            throw APIError.notFound("the instrument")
        }
        guard let item = query.item else {
            throw APIError.validation([.init(pointer: "/item", code: "required", message: "give ?item=, one of \(instrument.items.map(\.code).joined(separator: ", "))")])
        }
        guard let definition = instrument.items.first(where: { $0.code == item }) else {
            throw APIError.validation([.init(pointer: "/item", code: "unknown", message: "\(item) is not an item of \(code)")])
        }
        // A respondent ticks one option of a single-choice item, up to every option of a multiple-choice one.
        let sensitivity = PrivacyLoss.sensitivity(valuesPerUnit: definition.isMultiple ? definition.options.count : 1)
        return try await answer(
            context, principal: principal, term: term, query: "surveys/\(code)/\(item)", dimension: dimension, dp: dp,
            units: "respondents", sensitivity: sensitivity
        ) { dimensions in
            try await research.surveyCells(term: term, instrument: code, item: item, by: dimensions, logger: context.logger)
        }
    }

    func parameters(_ query: ResearchQuery, allowNeed: Bool) throws -> (AcademicTerm, ResearchStore.Dimension, Epsilon?) {
        let term = try parseTerm(query.term)
        let groupText = query.groupBy ?? "region"
        guard let dimension = ResearchStore.Dimension(rawValue: groupText), allowNeed || dimension != .need else {
            throw APIError(.badRequest, "group_by must be one of region, la, phase, trust_size\(allowNeed ? ", need" : "")")
        }
        var epsilon: Epsilon?
        switch query.privacy {
        case nil, "sdc": epsilon = nil
        case "dp":
            let maximum = min(budget, Epsilon.queryMaximum)
            guard let text = query.epsilon, let value = Epsilon(parsing: text, decimals: Epsilon.queryDecimals),
                value >= Epsilon.queryMinimum, value <= maximum
            else {
                throw APIError(
                    .badRequest,
                    "privacy=dp needs epsilon, a plain decimal with at most \(Epsilon.queryDecimals) places from \(Epsilon.queryMinimum) to \(maximum) (the budget per release)")
            }
            epsilon = value
        default: throw APIError(.badRequest, "privacy is sdc (the default) or dp")
        }
        return (term, dimension, epsilon)
    }

    /// The tables whose suppression is decided together: the one-way tables of a release and the LAs nested in
    /// regions, which all add up to one total; primary need, which counts pupils with a need, on its own.
    static func family(of dimension: ResearchStore.Dimension) -> [ResearchStore.Dimension] {
        dimension == .need ? [.need] : [.region, .la, .phase, .trustSize]
    }

    typealias Table = (cells: [DisclosureControl.Cell], total: DisclosureControl.Cell)

    func answer(
        _ context: AuthenticatedContext, principal: Principal, term: AcademicTerm, query: String,
        dimension: ResearchStore.Dimension, dp epsilon: Epsilon?, units: String, sensitivity: Int,
        cells: @escaping @Sendable ([ResearchStore.Dimension]) async throws -> [Table]?
    ) async throws -> Answered {
        func render(_ by: ResearchStore.Dimension, _ body: (cells: [ResearchCell], total: ResearchCell), epsilon: Epsilon?, perCount: Double?) throws -> String {
            let answer = ResearchAnswer(
                term: term.description, query: query, groupBy: by.rawValue, units: units, privacy: epsilon == nil ? "sdc" : "dp",
                epsilon: epsilon?.value, sensitivity: epsilon == nil ? nil : sensitivity, epsilonPerCount: perCount,
                rules: epsilon.map {
                    "discrete Laplace noise on every count at epsilon \($0) / sensitivity \(sensitivity) each, so the answer costs epsilon \($0); cells need 3 schools and 2 trusts; c = suppressed"
                } ?? "cells need 10 \(units), 3 schools, 2 trusts and every value 0 or at least 10; suppression decided jointly across the release's linked tables and frozen with it; counts rounded to 5; c = suppressed",
                cells: body.cells, total: body.total)
            return answer.jsonText
        }
        let notReleased = APIError.notFound("a release of \(term); only released terms can be queried")
        let compute: () async throws -> String = {
            guard let epsilon else { throw notReleased }
            guard let table = try await cells([dimension])?.first else { throw notReleased }
            let perCount = PrivacyLoss.epsilonPerCount(epsilon, sensitivity: sensitivity)
            return try render(dimension, Self.noisy(table, epsilon: perCount), epsilon: epsilon, perCount: perCount)
        }
        /// Disclosure control: the frozen answer, or the whole family computed, frozen and then answered.
        let controlled: () async throws -> String = {
            if let frozen = try await research.frozenAnswer(term: term, query: query, groupBy: dimension.rawValue, logger: context.logger) {
                return frozen
            }
            // The family's tables in one transaction (one release check, one read of a survey's rows).
            let family = Self.family(of: dimension)
            guard let read = try await cells(family), read.count == family.count else { throw notReleased }
            let tables = Array(zip(family, read))
            let result = LinkedSuppression.control(
                tables: tables.map { by, table in
                    LinkedSuppression.Table(name: by.rawValue, parentTable: by == .la ? ResearchStore.Dimension.region.rawValue : nil, cells: table.cells)
                },
                total: tables[0].1.total)
            var answers: [String: String] = [:]
            for (by, table) in tables {
                let names = Set(table.cells.flatMap { $0.values.keys } + table.total.values.keys).sorted()
                let body = (cells: (result.tables[by.rawValue] ?? []).map { Self.body($0, names: names) }, total: Self.body(result.total, names: names))
                answers[by.rawValue] = try render(by, body, epsilon: nil, perCount: nil)
            }
            try await research.freeze(term: term, query: query, answers: answers, logger: context.logger)
            guard let answer = answers[dimension.rawValue] else { throw notReleased }
            return answer
        }
        var text: String
        var headers: HTTPFields = [:]
        if let epsilon {
            // Released terms only: check before charging anything.
            guard try await research.releases(logger: context.logger).contains(where: { $0.term == term }) else {
                throw APIError.notFound("a release of \(term); only released terms can be queried")
            }
            let key = "\(query)|\(dimension.rawValue)|\(epsilon)"
            do {
                if let stored = try await research.storedAnswer(token: principal.tokenID, term: term, queryKey: key, logger: context.logger) {
                    text = stored.answer
                    headers[.privacyBudgetRemaining] = stored.remaining.description
                    headers[.privacyReplayed] = "true"
                } else {
                    // Computed before the ledger's transaction, which then only locks, checks and writes.
                    let result = try await research.answerWithBudget(
                        token: principal.tokenID, term: term, queryKey: key, epsilon: epsilon, budget: budget,
                        answer: try await compute(), logger: context.logger)
                    text = result.answer
                    headers[.privacyBudgetRemaining] = result.remaining.description
                    if result.replayed { headers[.privacyReplayed] = "true" }
                }
            } catch let over as ResearchStore.OverBudget {
                throw APIError(
                    .forbidden, "this query needs epsilon \(epsilon) but \(over.remaining) of the release's budget remains",
                    headers: [.privacyBudgetRemaining: over.remaining.description])
            } catch is ResearchStore.BudgetBusy {
                throw APIError(
                    .tooManyRequests, "another of your differentially private queries on \(term) is being charged; retry shortly",
                    headers: [.retryAfter: "1"])
            }
        } else {
            text = try await controlled()
        }
        return (text, headers)
    }

    static func body(_ c: DisclosureControl.Controlled, names: [String]) -> ResearchCell {
        ResearchCell(
            key: c.key, parent: c.parent, units: c.units.map { .value(Double($0)) } ?? .suppressed,
            values: Dictionary(uniqueKeysWithValues: names.map { name in
                (name, c.values.map { .value(Double($0[name] ?? 0)) } ?? .suppressed)
            }),
            percent: Dictionary(uniqueKeysWithValues: names.map { name in (name, c.percent(name).map { .value($0) } ?? .suppressed) }),
            suppressed: c.suppression?.rawValue)
    }

    static func noisy(_ table: (cells: [DisclosureControl.Cell], total: DisclosureControl.Cell), epsilon: Double) -> (cells: [ResearchCell], total: ResearchCell) {
        var generator = SystemRandomNumberGenerator()
        var rules = DisclosureControl.Rules()
        rules.minimumUnits = 0
        let names = Set(table.cells.flatMap { $0.values.keys } + table.total.values.keys).sorted()
        func body(_ cell: DisclosureControl.Cell) -> ResearchCell {
            guard DisclosureControl.passes(cell, rules) else {
                return ResearchCell(
                    key: cell.key, parent: cell.parent, units: .suppressed,
                    values: Dictionary(uniqueKeysWithValues: names.map { ($0, .suppressed) }),
                    percent: Dictionary(uniqueKeysWithValues: names.map { ($0, .suppressed) }), suppressed: "primary")
            }
            let units = max(0, cell.units + DiscreteLaplace.sample(epsilon: epsilon, using: &generator))
            var values: [String: ShownValue] = [:]
            var percent: [String: ShownValue] = [:]
            for name in names {
                let value = max(0, (cell.values[name] ?? 0) + DiscreteLaplace.sample(epsilon: epsilon, using: &generator))
                values[name] = .value(Double(value))
                percent[name] = units > 0 ? .value((Double(value) / Double(units) * 1000).rounded() / 10) : .suppressed
            }
            return ResearchCell(key: cell.key, parent: cell.parent, units: .value(Double(units)), values: values, percent: percent, suppressed: nil)
        }
        return (table.cells.map(body), body(table.total))
    }

    static func csv(_ answer: ResearchAnswer) -> String {
        let names = Set(answer.cells.flatMap { $0.values.keys }).sorted()
        var out = CSVWriter.line(["key", "parent", answer.units] + names + names.map { "\($0)_percent" } + ["suppressed"])
        for cell in answer.cells + [answer.total] {
            out += CSVWriter.line(
                [cell.key, cell.parent ?? "", cell.units.text] + names.map { cell.values[$0]?.text ?? "" }
                    + names.map { cell.percent[$0]?.text ?? "" } + [cell.suppressed ?? ""])
        }
        return out
    }
}

extension HTTPField.Name {
    static let privacyBudgetRemaining = HTTPField.Name("Privacy-Budget-Remaining")!
    static let privacyReplayed = HTTPField.Name("Privacy-Replayed")!
}
