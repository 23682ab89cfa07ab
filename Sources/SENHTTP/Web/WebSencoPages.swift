import Foundation
import Hummingbird
import SENAPI
import SENCore
import SENStore

/// How each school's SENCO works strategically, and its pupils' progress, across the trust for a term: the
/// returns the API lists for the trust (`GET /v1/trusts/{trust}/sen-returns/{term}`), read field by field.
extension WebController {
    struct SencoView {
        struct Row { let urn: Int; let name: String; let cells: [String] }
        let chrome: Chrome
        let trustID: String
        let term: String
        let termLabel: String
        let terms: [Choice]
        let sencoColumns: [String]
        let senco: [Row]
        let progressColumns: [String]
        let progress: [Row]
        let hasReturns: Bool
        let summary: [String]
    }

    static let sencoKeys = [
        "senco.on_slt", "senco.national_award", "senco.hours_per_week", "senco.ta_fte", "senco.governor_meetings", "senco.cpd_sessions",
        "senco.learning_walks", "senco.parent_forum",
    ]

    @Sendable func sencoPage(_ request: Request, context: TrustContext) async throws -> Response {
        let term = try await chosenTerm(request, trust: context.trust, context: context)
        let stored = try await returns.list(trust: context.trust, term: term, logger: context.logger)
        let names = Dictionary(
            uniqueKeysWithValues: try await register.schools(of: context.trust, only: nil, scope: context.principal.scope, logger: context.logger)
                .map { ($0.urn, $0.name) })
        func text(_ value: FieldValue?) -> String {
            switch value {
            case .bool(let b)?: b ? "Yes" : "No"
            case .choice(let c)?: Show.words(c).lowercased()
            case let other?: other.description
            case nil: "not given"
            }
        }
        let rows = stored.sorted { (names[$0.urn] ?? "") < (names[$1.urn] ?? "") }
        let senco = rows.map { r in
            SencoView.Row(urn: r.urn.value, name: names[r.urn] ?? r.urn.description, cells: Self.sencoKeys.map { text(r.value.fields[$0]) })
        }
        // Progress: the share at the expected standard of those assessed, by group and subject.
        let groups = Provision.allCases.reversed().flatMap { p in ["reading", "writing", "maths"].map { (p, $0) } }
        let progress = rows.map { r in
            SencoView.Row(
                urn: r.urn.value, name: names[r.urn] ?? r.urn.description,
                cells: groups.map { provision, subject in
                    let base = "progress.\(provision.rawValue).\(subject)"
                    guard case .count(let assessed)? = r.value.fields[base + ".assessed"], case .count(let expected)? = r.value.fields[base + ".expected"] else {
                        return "not given"
                    }
                    return assessed == 0 ? "none assessed" : "\(Show.percent(Double(expected) / Double(assessed))) of \(assessed)"
                })
        }
        switch request.uri.queryParameters.get("download") {
        case "senco"?:
            let table = [["urn", "name"] + Self.sencoKeys] + senco.map { [String($0.urn), $0.name] + $0.cells }
            return csvResponse(table.map { CSVWriter.line($0) }.joined(), name: "senco-\(term).csv")
        case "progress"?:
            let keys = groups.flatMap { p, subject in ["assessed", "expected"].map { "progress.\(p.rawValue).\(subject).\($0)" } }
            let table = [["urn", "name"] + keys] + rows.map { r in
                [r.urn.description, names[r.urn] ?? ""] + keys.map { r.value.fields[$0]?.description ?? "" }
            }
            return csvResponse(table.map { CSVWriter.line($0) }.joined(), name: "progress-\(term).csv")
        case let other?: throw APIError.notFound("a table named \(other) on this page")
        case nil: break
        }
        let onSLT = rows.filter { $0.value.fields["senco.on_slt"] == .bool(true) }.count
        let award = rows.filter { $0.value.fields["senco.national_award"] == .choice("held") }.count
        let sent = rows.count == 1 ? "the one school that sent a return" : "the \(rows.count) schools that sent a return"
        let summary = rows.isEmpty ? [] : [
            "The SENCO is on the senior leadership team in \(onSLT) of \(sent).",
            "The SENCO holds the national award in \(award) of \(sent).",
        ]
        let view = SencoView(
            chrome: Chrome("SENCO and progress", context, section: "SENCO and progress"), trustID: context.trust.uuidString,
            term: term.description, termLabel: Show.term(term.description), terms: termOptions(selected: term),
            sencoColumns: Self.sencoKeys.map { ReturnFormView.label($0) }, senco: senco,
            progressColumns: groups.map { "\($0.0 == .senSupport ? "SEN support" : "EHC plans"): \($0.1)" }, progress: progress,
            hasReturns: !rows.isEmpty, summary: summary)
        return renderer.page("senco", view)
    }
}
