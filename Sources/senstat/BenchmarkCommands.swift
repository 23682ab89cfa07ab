import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1

struct Benchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One school against DfE's national SEN rates.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Argument(help: "The school's URN.") var urn: Int
    @Option(help: "The term.") var term: String
    @Option(help: "national, regional or la.") var comparator: String = "national"

    func run() async throws {
        let reply = try await connection.client().request(.GET, "/v1/schools/\(urn)/benchmark", query: [("term", term), ("comparator", comparator)])
        try emit(reply, format: output.format) {
            let body = object(try reply.json())
            var table = Table(headers: ["measure", "count", "roll", "rate", "95% interval", "comparator", "difference", "z", "flag"])
            for measure in ["sen_support", "ehc_plan"] {
                let m = object(body[measure])
                let c = object(m["comparator"])
                let w = object(m["wilson_95"])
                let flag = cell(m["flag"])
                table.add(
                    [measure, cell(m["count"]), cell(m["pupils_on_roll"]), percent(m["rate"]), "\(percent(w["lower"]))-\(percent(w["upper"]))",
                     "\(percent(c["rate"])) (\(cell(c["area"])) \(cell(c["phase"])) \(cell(c["census_year"])))", "\(cell(m["difference_pp"])) pp", cell(m["z"]), flag],
                    colour: Compare.colour(flag))
            }
            if let note = object(object(body["sen_support"])["comparator"])["note"] { table.footer = "note: \(cell(note))" }
            return table
        }
    }
}

struct Compare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The trust's schools against DfE's rates; flagged schools stand out.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Option(help: "The term.") var term: String
    @Option(help: "sen_support or ehc_plan.") var measure: String = "sen_support"
    @Option(help: "national, regional or la.") var comparator: String = "national"
    @Option(help: "The trust (default: yours).") var trust: String?

    static func colour(_ flag: String) -> Colour? {
        flag.hasSuffix("99_8") ? .red : flag.hasSuffix("95") ? .yellow : nil
    }

    func run() async throws {
        let api = try connection.client()
        let path = "/v1/trusts/\(try await resolveTrust(trust, api: api))/comparison"
        let query = [("term", term), ("measure", measure), ("comparator", comparator)]
        if output.format == .csv {
            print(try await api.request(.GET, path, query: query, accept: "text/csv").text, terminator: "")
            return
        }
        let reply = try await api.request(.GET, path, query: query)
        try emit(reply, format: output.format) {
            let body = object(try reply.json())
            var table = Table(headers: ["urn", "name", "roll", "rate", "95% interval", "comparator", "z", "O/E", "flag"])
            // Mainstream schools, then special schools and AP (each against its own kind), then those not compared.
            for s in objects(body["schools"]) + objects(body["specialist_schools"]) {
                let c = object(s["comparator"])
                let w = object(s["wilson_95"])
                let flag = cell(s["flag"])
                table.add(
                    [cell(s["urn"]), cell(s["name"]), cell(s["pupils_on_roll"]), percent(s["rate"]), "\(percent(w["lower"]))-\(percent(w["upper"]))",
                     "\(percent(c["rate"])) \(cell(c["phase"])) \(cell(c["census_year"]))", cell(s["z"]), cell(object(s["ratio"])["ratio"]), flag],
                    colour: Compare.colour(flag))
            }
            for s in objects(body["not_compared"]) {
                table.add([cell(s["urn"]), cell(s["name"]), cell(s["pupils_on_roll"]), percent(s["rate"]), "", "no \(cell(s["setting"])) rate loaded", "", "", "not compared"])
            }
            for s in objects(body["missing"]) { table.add([cell(s["urn"]), cell(s["name"]), "", "", "", "", "", "", "no return"]) }
            let pooled = object(body["pooled"])
            let od = object(body["overdispersion"])
            let spread = od["phi"] == nil ? cell(od["note"]) : "overdispersion phi \(cell(od["phi"])), p \(cell(od["p_value"])), tau2 \(cell(od["tau2"]))"
            let standardised = object(body["standardised"])
            let ratio = standardised.isEmpty ? "" : "; observed/expected \(cell(standardised["ratio"])) (\(cell(standardised["verdict"])))"
            table.footer = "trust: \(percent(pooled["rate"])) of \(cell(pooled["pupils_on_roll"])) pupils\(ratio); \(spread); flags use exact 95% and 99.8% limits"
            return table
        }
    }
}

struct Funnel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the trust's funnel plot as an SVG that opens in a browser.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The term.") var term: String
    @Option(help: "Where to write the SVG.") var out: String = "funnel.svg"
    @Option(help: "sen_support or ehc_plan.") var measure: String = "sen_support"
    @Option(help: "national, regional or la.") var comparator: String = "national"
    @Option(help: "The trust (default: yours).") var trust: String?
    @Option(help: "ratio (one funnel of observed / expected) or phase (a panel per comparator phase).") var view: String = "ratio"

    func run() async throws {
        let api = try connection.client()
        let reply = try await api.request(
            .GET, "/v1/trusts/\(try await resolveTrust(trust, api: api))/funnel.svg",
            query: [("term", term), ("measure", measure), ("comparator", comparator), ("view", view)], accept: "image/svg+xml")
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
        @Option(help: "The term.") var term: String

        func run() async throws {
            let reply = try await putVersioned(
                try connection.client(), path: "/v1/schools/\(urn)/surveys/\(instrument)/\(term)", body: try readFile(file))
            print("\(reply.status == 201 ? "submitted" : "amended") \(instrument) for \(urn) \(term): version \(cell(object(try reply.json())["version"]))")
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @Option(help: "The instrument.") var instrument: String
        @Option(help: "The term.") var term: String
        @Option(help: "The item to show (default: the first).") var item: String?
        @Option(help: "The trust (default: yours).") var trust: String?

        func run() async throws {
            let api = try connection.client()
            let reply = try await api.request(.GET, "/v1/trusts/\(try await resolveTrust(trust, api: api))/surveys/\(instrument)", query: [("term", term)])
            try emit(reply, format: output.format) {
                let body = object(try reply.json())
                let rows = objects(body["schools"]) + [object(body["pooled"])]
                let chosen = item ?? object(rows.first?["items"]).keys.sorted().first ?? ""
                let options = object(object(rows.first?["items"])[chosen]).keys.sorted()
                var table = Table(headers: ["school", "respondents"] + options.map { "\(chosen).\($0) %" })
                for row in rows {
                    let answers = object(object(row["items"])[chosen])
                    table.add([cell(row["name"]), cell(row["respondents"])] + options.map { cell(object(answers[$0])["percent"]) })
                }
                table.footer = "c: fewer than \(cell(body["minimum_respondents"])) respondents, or hidden so that a small school cannot be worked out"
                return table
            }
        }
    }
}

struct Research: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Aggregates across trusts for released terms (researchers).", subcommands: [SEN.self, SurveysQuery.self])

    static func table(_ body: [String: Any]) -> Table {
        let cells = objects(body["cells"]) + [object(body["total"])]
        let names = object(cells.first?["values"]).keys.sorted()
        var table = Table(headers: ["group", "parent", cell(body["units"])] + names + names.map { "\($0) %" } + ["suppressed"])
        for c in cells {
            table.add([cell(c["key"]), cell(c["parent"]), cell(c["units"])] + names.map { cell(object(c["values"])[$0]) }
                + names.map { cell(object(c["percent"])[$0]) } + [cell(c["suppressed"])])
        }
        table.footer = cell(body["rules"])
        return table
    }

    struct Options: ParsableArguments {
        @Option(help: "A released term.") var term: String
        @Option(name: .customLong("group-by"), help: "region, la, phase, trust_size (or need for sen).") var groupBy: String = "region"
        @Option(help: "sdc (default) or dp.") var privacy: String = "sdc"
        @Option(help: "With --privacy dp: the epsilon to spend.") var epsilon: Double?

        var query: [(String, String?)] {
            [("term", term), ("group_by", groupBy), ("privacy", privacy), ("epsilon", epsilon.map { String($0) })]
        }
    }

    struct SEN: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sen")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @OptionGroup var options: Options

        func run() async throws {
            let reply = try await connection.client().request(.GET, "/v1/research/sen", query: options.query)
            try emit(reply, format: output.format) { Research.table(object(try reply.json())) }
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
            try emit(reply, format: output.format) { Research.table(object(try reply.json())) }
        }
    }
}
