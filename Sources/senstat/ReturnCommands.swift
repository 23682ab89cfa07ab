import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP1

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
                let stored = object(try reply.json())
                print("\(reply.status == 201 ? "submitted" : "amended") \(urn) \(term): version \(cell(stored["version"]))\(stored["late"] as? Bool == true ? " (late)" : "")")
                for warning in objects(stored["warnings"]) { print(Colour.yellow.wrap("  warning: \(cell(warning["message"]))")) }
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
                    let result = object(try reply.json())
                    print("imported \(cell(result["rows"])) rows for \(term): \(cell(result["created"])) new, \(cell(result["amended"])) amended, \(cell(result["unchanged"])) unchanged\(result["late"] as? Bool == true ? " (late)" : "")")
                    for warning in objects(result["warnings"]) {
                        print(Colour.yellow.wrap("  row \(cell(warning["row"])), \(cell(warning["urn"])): \(cell(warning["message"]))"))
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
        @Argument(help: "The school's URN.") var urn: Int
        @Option(help: "The term.") var term: String

        func run() async throws {
            let reply = try await connection.client().request(.GET, "/v1/schools/\(urn)/sen-returns/\(term)")
            try emit(reply, format: output.format) {
                let r = object(try reply.json())
                let value = object(r["return"])
                var table = Table(headers: ["urn", "term", "version", "status", "late", "pupils_on_roll", "sen_support", "ehc_plan", "warnings"])
                table.add([cell(r["urn"]), cell(r["term"]), cell(r["version"]), cell(r["status"]), cell(r["late"]), cell(value["pupils_on_roll"]), cell(value["sen_support"]), cell(value["ehc_plan"]), objects(r["warnings"]).map { cell($0["code"]) }.joined(separator: " ")])
                return table
            }
        }
    }

    struct History: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @Argument(help: "The school's URN.") var urn: Int
        @Option(help: "The term.") var term: String

        func run() async throws {
            let reply = try await connection.client().request(.GET, "/v1/schools/\(urn)/sen-returns/\(term)/versions")
            try emit(reply, format: output.format) {
                var table = Table(headers: ["version", "submitted_at", "by", "source", "late", "changes"])
                for v in objects(object(try reply.json())["versions"]) {
                    let changes = objects(v["changes"]).map { "\(cell($0["field"])): \(cell($0["from"]).isEmpty ? "-" : cell($0["from"]))→\(cell($0["to"]).isEmpty ? "-" : cell($0["to"]))" }
                    table.add([cell(v["version"]), cell(v["submitted_at"]), cell(v["submitted_by"]), cell(v["source"]), cell(v["late"]), changes.joined(separator: "; ")])
                }
                return table
            }
        }
    }

    struct Approve: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The school's URN.") var urn: Int
        @Option(help: "The term.") var term: String

        func run() async throws {
            _ = try await connection.client().request(.POST, "/v1/schools/\(urn)/sen-returns/\(term)/approval")
            print("approved \(urn) \(term)")
        }
    }

    struct Unapprove: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The school's URN.") var urn: Int
        @Option(help: "The term.") var term: String
        @Option(help: "Why the approval is withdrawn.") var reason: String

        func run() async throws {
            _ = try await connection.client().request(.DELETE, "/v1/schools/\(urn)/sen-returns/\(term)/approval", query: [("reason", reason)])
            print("approval withdrawn: \(urn) \(term)")
        }
    }
}

struct Completeness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Which schools have sent the term's return.")
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
            let body = object(try reply.json())
            var table = Table(headers: ["urn", "name", "status", "version", "updated_at"])
            for s in objects(body["schools"]) {
                let status = cell(s["status"])
                table.add([cell(s["urn"]), cell(s["name"]), status, cell(s["version"]), cell(s["updated_at"])],
                          colour: status == "missing" ? .red : status == "late" ? .yellow : nil)
            }
            let totals = object(body["totals"])
            table.footer = ["approved", "submitted", "late", "missing"].map { "\($0) \(cell(totals[$0]))" }.joined(separator: ", ")
                + " (census day \(cell(body["census_day"])), deadline \(cell(body["deadline"])))"
            return table
        }
    }
}
