import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import SENAPI
import SENCore

/// Ctrl-C during an upload: the server stores an import all or nothing, so say so and leave.
func onInterrupt(_ message: String) -> any DispatchSourceSignal {
    signal(SIGINT, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .main)
    source.setEventHandler {
        FileHandle.standardError.write(Data("\nsenstat: interrupted. \(message)\n".utf8))
        exit(130)
    }
    source.resume()
    return source
}

/// PUT a JSON document to a versioned resource: fetch the current ETag first, then amend exactly that version
/// (412 if someone else amended it in between).
func putVersioned(_ api: API, path: String, body: Data) async throws -> API.Reply {
    var headers: [(String, String)] = []
    do {
        let current = try await api.request(.GET, path)
        if let etag = current.headers.first(name: "ETag") { headers.append(("If-Match", etag)) }
    } catch let error as CLIError where error.code == .notFound {
        // No version yet: this is the first.
    }
    return try await api.request(.PUT, path, body: body, contentType: "application/json", headers: headers)
}

/// The school (its URN) and the term a command acts on.
struct SchoolTerm: ParsableArguments {
    @Argument(help: "The school's URN.") var urn: Int
    @Option(help: "The term, like 2025-26-autumn.") var term: String

    var path: String { "/v1/schools/\(urn)/sen-returns/\(term)" }
}

struct Returns: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Termly SEN returns.",
        subcommands: [Submit.self, Show.self, History.self, Approve.self, Unapprove.self])

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a JSON return for one school (--urn), or a CSV for many schools of your trust.",
            discussion: """
                A CSV upload carries a fresh Idempotency-Key and is retried with the same key after a network failure; the
                server stores it all or nothing, and running the command again stores nothing twice (rows equal to the
                current version are left alone). Formats: Docs/returns.md.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "A .json return or a .csv of returns.") var file: String
        @Option(help: "The term, like 2025-26-autumn.") var term: String
        @Option(help: "The school (for a JSON return).") var urn: Int?
        @Option(help: "The trust (for a CSV; default: yours).") var trust: String?

        func run() async throws {
            let api = try connection.client()
            let data = try readFile(file)
            if file.lowercased().hasSuffix(".json") {
                guard let urn else { throw CLIError(code: .usage, message: "senstat: a JSON return needs --urn") }
                let reply = try await putVersioned(api, path: "/v1/schools/\(urn)/sen-returns/\(term)", body: data)
                let stored = try reply.decode(ReturnBody.self)
                print("\(reply.status == 201 ? "submitted" : "amended") \(urn) \(term): version \(stored.version)\(stored.late ? " (late)" : "")")
                for warning in stored.warnings { print(Colour.yellow.wrap("  warning: \(warning.message)")) }
                return
            }
            let trust = try await resolveTrust(self.trust, api: api)
            let key = UUID().uuidString
            let interrupt = onInterrupt("The server stores an import all or nothing: nothing of this upload was stored unless it had finished. Run the command again to upload it.")
            defer { interrupt.cancel() }
            var lastError: (any Error)?
            for attempt in 1...3 {
                do {
                    let reply = try await api.request(
                        .POST, "/v1/trusts/\(trust)/sen-returns/\(term)/imports", body: data, contentType: "text/csv",
                        headers: [("Idempotency-Key", key)], progress: true, timeout: .minutes(10))
                    let result = try reply.decode(ImportResult.self)
                    print("imported \(result.rows) rows for \(term): \(result.created) new, \(result.amended) amended, \(result.unchanged) unchanged\(result.late ? " (late)" : "")")
                    for warning in result.warnings {
                        print(Colour.yellow.wrap("  row \(warning.row), \(warning.urn): \(warning.message)"))
                    }
                    return
                } catch let error as CLIError where error.message.contains("cannot reach") && attempt < 3 {
                    lastError = error
                    FileHandle.standardError.write(Data("senstat: network failure; retrying with the same Idempotency-Key\n".utf8))
                    try await Task.sleep(for: .seconds(attempt))
                }
            }
            throw lastError!
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @OptionGroup var school: SchoolTerm

        func run() async throws {
            let reply = try await connection.client().request(.GET, school.path)
            try emit(reply, format: output.format) {
                let r = try reply.decode(ReturnBody.self)
                func field(_ name: String) -> String {
                    guard case .object(let value) = r.value else { return "" }
                    return cell(value[name])
                }
                var table = Table(headers: ["urn", "term", "version", "status", "late", "pupils_on_roll", "sen_support", "ehc_plan", "warnings"])
                table.add([
                    cell(r.urn), r.term, cell(r.version), r.status, cell(r.late), field("pupils_on_roll"), field("sen_support"), field("ehc_plan"),
                    r.warnings.map(\.code).joined(separator: " "),
                ])
                return table
            }
        }
    }

    struct History: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @OptionGroup var school: SchoolTerm

        func run() async throws {
            let reply = try await connection.client().request(.GET, school.path + "/versions")
            try emit(reply, format: output.format) {
                var table = Table(headers: ["version", "submitted_at", "by", "source", "late", "changes"])
                for v in try reply.decode(ReturnVersions.self).versions {
                    let changes = v.changes.map { "\($0.field): \(cell($0.from).isEmpty ? "-" : cell($0.from))→\(cell($0.to).isEmpty ? "-" : cell($0.to))" }
                    table.add([cell(v.version), cell(v.submittedAt), cell(v.submittedBy), v.source, cell(v.late), changes.joined(separator: "; ")])
                }
                return table
            }
        }
    }

    struct Approve: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var school: SchoolTerm

        func run() async throws {
            _ = try await connection.client().request(.POST, school.path + "/approval")
            print("approved \(school.urn) \(school.term)")
        }
    }

    struct Unapprove: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var school: SchoolTerm
        @Option(help: "Why the approval is withdrawn.") var reason: String

        func run() async throws {
            _ = try await connection.client().request(.DELETE, school.path + "/approval", query: [("reason", reason)])
            print("approval withdrawn: \(school.urn) \(school.term)")
        }
    }
}

struct CompletenessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "completeness", abstract: "Which schools have sent the term's return.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Option(help: "The term.") var term: String
    @Option(help: "The trust (default: yours).") var trust: String?

    func run() async throws {
        let api = try connection.client()
        let path = "/v1/trusts/\(try await resolveTrust(trust, api: api))/completeness"
        if output.format == .csv {
            print(try await api.request(.GET, path, query: [("term", term)], accept: "text/csv").text, terminator: "")
            return
        }
        let reply = try await api.request(.GET, path, query: [("term", term)])
        try emit(reply, format: output.format) {
            let body = try reply.decode(Completeness.self)
            var table = Table(headers: ["urn", "name", "status", "version", "updated_at"])
            for s in body.schools {
                table.add([cell(s.urn), s.name, s.status, cell(s.version), cell(s.updatedAt)],
                          colour: s.status == "missing" ? .red : s.status == "late" ? .yellow : nil)
            }
            table.footer = ["approved", "submitted", "late", "missing"].map { "\($0) \(cell(body.totals[$0]))" }.joined(separator: ", ")
                + " (census day \(body.censusDay), deadline \(body.deadline))"
            return table
        }
    }
}
