import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SENCore
import SENHTTP

/// `senstat-server generate`: the national benchmark dataset as files (Docs/performance.md).
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a deterministic national dataset for benchmarks: a GIAS register file and every term's returns.",
        discussion: """
            Writes DIR/gias.csv (GIAS's export columns, trusts included: load it with `import-gias --create-trusts`)
            and DIR/returns/TERM.csv for every term, in senstat's import format with a first column trust_code (a
            trust's rows, without that column, are its import file). The same options give the same bytes.
            """)

    @Option(help: "Schools in England's mix of phases and sizes.") var schools = 25_000
    @Option(help: "Trusts; the first has exactly 100 schools.") var trusts = 2_500
    @Option(help: "Academic years of three terms, ending with --last-year.") var years = 10
    @Option(name: .customLong("last-year"), help: "Start year of the last academic year (2025 is 2025-26).") var lastYear = 2025
    @Option(help: "Seed of the generator.") var seed: UInt64 = 1
    @Option(help: "DfE's rates to draw around (the file the schema ships).")
    var reference = "SQL/reference/sen_rates_england_2016_2025.csv"
    @Option(help: "Folder to write to (created).") var out = "bench-data"

    func validate() throws {
        guard schools >= trusts + 99 else { throw ValidationError("--schools must be at least --trusts + 99 (the first trust has 100)") }
        guard trusts >= 1, years >= 1, (2010...2039).contains(lastYear) else { throw ValidationError("--trusts and --years must be positive, --last-year 2010...2039") }
        guard schools <= 899_999 else { throw ValidationError("--schools is at most 899,999 (six-digit URNs)") }
    }

    func run() throws {
        let started = Date()
        guard let bytes = FileManager.default.contents(atPath: reference) else {
            throw ValidationError("cannot read \(reference) (run from the repository's root, or pass --reference)")
        }
        let dataset = NationalDataset(
            .init(schools: schools, trusts: trusts, years: years, lastStartYear: lastYear, seed: seed),
            reference: try NationalDataset.ReferenceRates(csv: Array(bytes)))
        let folder = URL(fileURLWithPath: out)
        let returns = folder.appendingPathComponent("returns")
        try FileManager.default.createDirectory(at: returns, withIntermediateDirectories: true)
        try Data(dataset.giasCSV().utf8).write(to: folder.appendingPathComponent("gias.csv"))
        var rows = 0
        for term in dataset.terms {
            let spring = term.season == .spring
            var text = CSVWriter.line(["trust_code"] + NationalDataset.csvHeader(spring: spring))
            for (school, figures) in zip(dataset.schools, dataset.figures(term)) {
                text += CSVWriter.line([dataset.trusts[school.trust].code] + NationalDataset.csvFields(figures, spring: spring))
                rows += 1
            }
            try Data(text.utf8).write(to: returns.appendingPathComponent("\(term).csv"))
        }
        print("wrote \(schools) schools in \(trusts) trusts and \(rows) returns over \(dataset.terms.count) terms to \(folder.path) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
}

/// `senstat-server bench-funnel`: times the national funnel (every school's limits, z, φ and τ², and the SVG) for
/// one term of the generated dataset, in process. Used by Deploy/bench/run; prints one JSON line.
struct BenchFunnel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-funnel", abstract: "Time the national funnel of a generated term (benchmarks).", shouldDisplay: false)

    @Option var schools = 25_000
    @Option var trusts = 2_500
    @Option var years = 10
    @Option var seed: UInt64 = 1
    @Option var term = "2025-26-summer"
    @Option var runs = 7
    @Option var reference = "SQL/reference/sen_rates_england_2016_2025.csv"

    func run() throws {
        guard let term = AcademicTerm(term), let bytes = FileManager.default.contents(atPath: reference) else {
            throw ValidationError("need a term like 2025-26-summer and a readable --reference")
        }
        let dataset = NationalDataset(
            .init(schools: schools, trusts: trusts, years: years, lastStartYear: term.startYear, seed: seed),
            reference: try NationalDataset.ReferenceRates(csv: Array(bytes)))
        let figures = dataset.figures(term)
        // The inputs as the server has them after its query: each school's roll, count and comparator rate.
        let targets = dataset.schools.map { dataset.nationalRate(for: $0, provision: .senSupport, term: term) }
        var timings: [(total: Double, statistics: Double, svg: Double)] = []
        var svgBytes = 0
        func milliseconds(_ elapsed: Duration) -> Double {
            Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        }
        for _ in 0..<runs {
            let started = ContinuousClock.now
            let inputs = figures.indices.map { i in
                TrustComparison.Input(urn: figures[i].urn, count: figures[i].senSupport, n: figures[i].pupilsOnRoll, target: targets[i])
            }
            let result = TrustComparison.compute(inputs)
            let computed = ContinuousClock.now
            var series: [FunnelPlot.Series] = []
            let points = result.rows.map { row -> FunnelPlot.Point in
                let target = row.input.target
                let index = series.firstIndex { $0.target == target } ?? series.count
                if index == series.count { series.append(.init(label: "England \(target)", target: target)) }
                return .init(label: String(row.input.urn.value), n: row.unadjusted.n, rate: row.unadjusted.rate, flag: row.unadjusted.flag, series: index)
            }
            svgBytes = FunnelPlot.svgBytes(title: "SEN support, \(term)", subtitle: "England", measureLabel: "SEN support", series: series, points: points).count
            let finished = ContinuousClock.now
            timings.append((milliseconds(finished - started), milliseconds(computed - started), milliseconds(finished - computed)))
        }
        let median = timings.sorted { $0.total < $1.total }[timings.count / 2]
        print(
            #"{"schools": \#(figures.count), "median_ms": \#(median.total), "statistics_ms": \#(median.statistics), "svg_ms": \#(median.svg), "svg_bytes": \#(svgBytes)}"#)
    }
}

/// The bare Hummingbird peer of `/health/live` for `Deploy/bench/run`: the same HTTP settings and handler, only the
/// middleware named (none by default; `all` for the server's stack), no database.
struct BenchHTTP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-http", abstract: "Serve /health/live with chosen middleware only (benchmarks).", shouldDisplay: false)

    @Option var host = "127.0.0.1"
    @Option var port = 8090
    @Option(help: "Comma-separated: access-log, headers, metrics, problem, browser-404, or all.") var middleware = ""

    func run() async throws {
        let names = middleware == "all" ? BenchmarkHTTP.middlewareNames : middleware.split(separator: ",").map(String.init)
        var logger = Logger(label: "senstat-bench-http")
        logger.logLevel = .warning
        let app = try BenchmarkHTTP.application(middleware: names, host: host, port: port, logger: logger)
        try await app.runService()
    }
}
