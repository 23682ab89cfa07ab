import ArgumentParser
import Foundation
import SENAPI
import SENCore
import NIOCore
import NIOHTTP1

/// `--term`, shared by the commands that read one term.
struct TermOption: ParsableArguments {
    @Option(help: "The term, like 2025-26-autumn.") var term: String
}

/// What a trust's schools are compared on and with: the commands that read the comparison share these.
struct ComparisonOptions: ParsableArguments {
    @OptionGroup var term: TermOption
    @Option(help: "sen_support or ehc_plan.") var measure: Provision = .senSupport
    @Option(help: "national, regional or la.") var comparator: ComparatorLevel = .national
    @Option(help: "The trust (default: yours).") var trust: String?

    var query: [(String, String?)] { [("term", term.term), ("measure", measure.rawValue), ("comparator", comparator.rawValue)] }
}

struct Benchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One school against DfE's national SEN rates.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Argument(help: "The school's URN.") var urn: Int
    @OptionGroup var term: TermOption
    @Option(help: "national, regional or la.") var comparator: ComparatorLevel = .national

    func run() async throws {
        let reply = try await connection.client().request(
            .GET, "/v1/schools/\(urn)/benchmark", query: [("term", term.term), ("comparator", comparator.rawValue)])
        try emit(reply, format: output.format) {
            let body = try reply.decode(SchoolBenchmark.self)
            var table = Table(headers: ["measure", "count", "roll", "rate", "95% interval", "comparator", "difference", "z", "flag"])
            for (name, m) in [("sen_support", body.senSupport), ("ehc_plan", body.ehcPlan)] {
                let c = m.comparator
                table.add(
                    [name, cell(m.count), cell(m.pupilsOnRoll), percent(m.rate), "\(percent(m.wilson95.lower))-\(percent(m.wilson95.upper))",
                     "\(percent(c.rate)) (\(c.area) \(c.phase) \(c.censusYear))", "\(cell(m.differencePP)) pp", cell(m.z), m.flag],
                    colour: Compare.colour(m.flag))
            }
            if let note = body.senSupport.comparator.note { table.footer = "note: \(note)" }
            return table
        }
    }
}

struct Compare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The trust's schools against DfE's rates; flagged schools stand out.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var options: ComparisonOptions

    static func colour(_ flag: String) -> Colour? {
        flag.hasSuffix("99_8") ? .red : flag.hasSuffix("95") ? .yellow : nil
    }

    func run() async throws {
        let api = try connection.client()
        let path = "/v1/trusts/\(try await resolveTrust(options.trust, api: api))/comparison"
        if output.format == .csv {
            print(try await api.request(.GET, path, query: options.query, accept: "text/csv").text, terminator: "")
            return
        }
        let reply = try await api.request(.GET, path, query: options.query)
        try emit(reply, format: output.format) {
            let body = try reply.decode(Comparison.self)
            var table = Table(headers: ["urn", "name", "roll", "rate", "95% interval", "comparator", "z", "O/E", "flag"])
            // Mainstream schools, then special schools and AP (each against its own kind), then those not compared.
            for s in body.schools + body.specialistSchools {
                let c = s.comparator
                table.add(
                    [cell(s.urn), s.name, cell(s.pupilsOnRoll), percent(s.rate), "\(percent(s.wilson95.lower))-\(percent(s.wilson95.upper))",
                     "\(percent(c.rate)) \(c.phase) \(c.censusYear)", cell(s.z), cell(s.ratio.ratio), s.flag],
                    colour: Compare.colour(s.flag))
            }
            for s in body.notCompared {
                table.add([cell(s.urn), s.name, cell(s.pupilsOnRoll), percent(s.rate), "", "no \(s.setting) rate loaded", "", "", "not compared"])
            }
            for s in body.missing { table.add([cell(s.urn), s.name, "", "", "", "", "", "", "no return"]) }
            let spread: String
            if let od = body.overdispersion, od.phi != nil {
                spread = "overdispersion phi \(cell(od.phi)), p \(cell(od.pValue)), tau2 \(cell(od.tau2))"
            } else {
                spread = cell(body.overdispersion?.note)
            }
            let ratio = body.standardised.map { "; observed/expected \(cell($0.ratio)) (\($0.verdict))" } ?? ""
            table.footer = "trust: \(percent(body.pooled["rate"])) of \(cell(body.pooled["pupils_on_roll"])) pupils\(ratio); \(spread); flags use exact 95% and 99.8% limits"
            return table
        }
    }
}

struct Funnel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the trust's funnel plot as an SVG that opens in a browser.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var options: ComparisonOptions
    @Option(help: "Where to write the SVG.") var out: String = "funnel.svg"
    @Option(help: "ratio (one funnel of observed / expected) or phase (a panel per comparator phase).") var view: View = .ratio

    enum View: String, ExpressibleByArgument, CaseIterable {
        case ratio, phase
    }

    func run() async throws {
        let api = try connection.client()
        let reply = try await api.request(
            .GET, "/v1/trusts/\(try await resolveTrust(options.trust, api: api))/funnel.svg",
            query: options.query + [("view", view.rawValue)], accept: "image/svg+xml")
        guard FileManager.default.createFile(atPath: out, contents: reply.body) else {
            throw CLIError(code: .other, message: "senstat: cannot write \(out)")
        }
        print("wrote \(out)")
    }
}

struct Surveys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Wellbeing surveys.", subcommands: [Submit.self, Show.self])

    struct Submit: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "A JSON file: respondents and, per item, the count for each option.") var file: String
        @Option(help: "The school.") var urn: Int
        @Option(help: "The instrument, like pupil_wellbeing.") var instrument: String
        @OptionGroup var term: TermOption

        func run() async throws {
            let reply = try await putVersioned(
                try connection.client(), path: "/v1/schools/\(urn)/surveys/\(instrument)/\(term.term)", body: try readFile(file))
            print("\(reply.status == 201 ? "submitted" : "amended") \(instrument) for \(urn) \(term.term): version \(try reply.decode(SchoolSurveyReturn.self).version)")
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @Option(help: "The instrument.") var instrument: String
        @OptionGroup var term: TermOption
        @Option(help: "The item to show (default: the first).") var item: String?
        @Option(help: "The trust (default: yours).") var trust: String?

        func run() async throws {
            let api = try connection.client()
            let reply = try await api.request(
                .GET, "/v1/trusts/\(try await resolveTrust(trust, api: api))/surveys/\(instrument)", query: [("term", term.term)])
            try emit(reply, format: output.format) {
                let body = try reply.decode(TrustSurveyView.self)
                let rows = body.schools + [body.pooled]
                let chosen = item ?? rows.first?.items.keys.sorted().first ?? ""
                let options = (rows.first?.items[chosen] ?? [:]).keys.sorted()
                var table = Table(headers: ["school", "respondents"] + options.map { "\(chosen).\($0) %" })
                for row in rows {
                    let answers = row.items[chosen] ?? [:]
                    table.add([cell(row.name), cell(row.respondents)] + options.map { cell(answers[$0]?["percent"]) })
                }
                table.footer = "c: fewer than \(body.minimumRespondents) respondents, or hidden so that a small school cannot be worked out"
                return table
            }
        }
    }
}

struct Research: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Aggregates across trusts for released terms (researchers).", subcommands: [SEN.self, SurveysQuery.self])

    static func table(_ reply: API.Reply) throws -> Table {
        let body = try reply.decode(ResearchAnswer.self)
        let cells = body.cells + [body.total]
        let names = (cells.first?.values ?? [:]).keys.sorted()
        var table = Table(headers: ["group", "parent", body.units] + names + names.map { "\($0) %" } + ["suppressed"])
        for c in cells {
            table.add([c.key, cell(c.parent), cell(c.units)] + names.map { cell(c.values[$0]) } + names.map { cell(c.percent[$0]) } + [cell(c.suppressed)])
        }
        table.footer = body.rules
        return table
    }

    struct Options: ParsableArguments {
        @Option(help: "A released term.") var term: String
        @Option(name: .customLong("group-by"), help: "region, la, phase, trust_size (or need for sen).") var groupBy: GroupBy = .region
        @Option(help: "sdc (default) or dp.") var privacy: Privacy = .sdc
        @Option(help: "With --privacy dp: the epsilon to spend.") var epsilon: Double?

        enum GroupBy: String, ExpressibleByArgument, CaseIterable {
            case region, la, phase, need
            case trustSize = "trust_size"
        }

        enum Privacy: String, ExpressibleByArgument, CaseIterable {
            case sdc, dp
        }

        var query: [(String, String?)] {
            [("term", term), ("group_by", groupBy.rawValue), ("privacy", privacy.rawValue), ("epsilon", epsilon.map { String($0) })]
        }
    }

    struct SEN: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sen")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @OptionGroup var options: Options

        func run() async throws {
            let reply = try await connection.client().request(.GET, "/v1/research/sen", query: options.query)
            try emit(reply, format: output.format) { try Research.table(reply) }
        }
    }

    struct SurveysQuery: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "surveys")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @Argument(help: "The instrument.") var instrument: String
        @Option(help: "The item.") var item: String
        @OptionGroup var options: Options

        func run() async throws {
            let reply = try await connection.client().request(.GET, "/v1/research/surveys/\(instrument)", query: options.query + [("item", item)])
            try emit(reply, format: output.format) { try Research.table(reply) }
        }
    }
}
