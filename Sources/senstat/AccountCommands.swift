import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a token against the server and remember both.")

    @Option(help: "The senstat server, for example http://127.0.0.1:8080.")
    var url: String

    @Option(help: "An API token (sst_...).")
    var token: String

    func run() async throws {
        let api = try ConnectionOptions.parse(["--url", url, "--token", token]).client()
        let me = object(try await api.request(.GET, "/v1/me").json())
        try ConfigFile.save(.init(url: api.base, token: token))
        print("logged in to \(api.base) as \(cell(me["role"]))\(me["trust_id"].map { " of trust \(cell($0))" } ?? ""); saved in \(ConfigFile.url.path)")
    }
}

struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Forget the stored server and token.")

    func run() async throws {
        ConfigFile.remove()
        print("logged out (removed \(ConfigFile.url.path))")
    }
}

struct Whoami: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the token's role, trust and schools.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    func run() async throws {
        let api = try connection.client()
        let reply = try await api.request(.GET, "/v1/me")
        let me = object(try reply.json())
        try emit(reply, format: output.format) {
            var table = Table(headers: ["server", "role", "trust_id", "schools", "token_id"])
            table.add([api.base, cell(me["role"]), cell(me["trust_id"]), cell(me["urns"]), cell(me["token_id"])])
            return table
        }
    }
}

/// The caller's own trust, unless --trust names one (admins must).
func resolveTrust(_ explicit: String?, api: API) async throws -> String {
    if let explicit { return explicit }
    let me = object(try await api.request(.GET, "/v1/me").json())
    guard let trust = me["trust_id"] as? String else {
        throw CLIError(code: .usage, message: "senstat: this token has no trust; give --trust")
    }
    return trust
}

struct Trusts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Trusts you can see.", subcommands: [List.self, Show.self])

    struct List: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions

        func run() async throws {
            let reply = try await connection.client().request(.GET, "/v1/trusts")
            try emit(reply, format: output.format) {
                var table = Table(headers: ["trust_id", "name", "gias_code", "schools"])
                for trust in objects(object(try reply.json())["trusts"]) {
                    table.add([cell(trust["trust_id"]), cell(trust["name"]), cell(trust["gias_code"]), cell(trust["school_count"])])
                }
                return table
            }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @Argument(help: "The trust id (default: yours).") var trust: String?

        func run() async throws {
            let api = try connection.client()
            let reply = try await api.request(.GET, "/v1/trusts/\(try await resolveTrust(trust, api: api))")
            try emit(reply, format: output.format) {
                let trust = object(try reply.json())
                var table = Table(headers: ["trust_id", "name", "gias_code", "schools", "created_at"])
                table.add([cell(trust["trust_id"]), cell(trust["name"]), cell(trust["gias_code"]), cell(trust["school_count"]), cell(trust["created_at"])])
                return table
            }
        }
    }
}

struct Schools: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Schools of a trust, or one school.", subcommands: [List.self, Show.self])

    static func table(_ schools: [[String: Any]]) -> Table {
        var table = Table(headers: ["urn", "name", "phase", "la", "region", "status", "pupils"])
        for school in schools {
            table.add([cell(school["urn"]), cell(school["name"]), cell(school["phase"]), cell(school["la_name"]), cell(school["region"]), cell(school["status"]), cell(school["number_of_pupils"])])
        }
        return table
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @Option(help: "The trust (default: yours).") var trust: String?

        func run() async throws {
            let api = try connection.client()
            let reply = try await api.request(.GET, "/v1/trusts/\(try await resolveTrust(trust, api: api))/schools")
            try emit(reply, format: output.format) { Schools.table(objects(object(try reply.json())["schools"])) }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @Argument(help: "The school's URN.") var urn: String

        func run() async throws {
            let reply = try await connection.client().request(.GET, "/v1/schools/\(urn)")
            try emit(reply, format: output.format) { Schools.table([object(try reply.json())]) }
        }
    }
}

struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "API tokens.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "admin, trust_executive, school_leader or researcher.") var role: String
        @Option(name: .customLong("trust-id"), help: "The trust of a trust_executive or school_leader.") var trustID: String?
        @Option(name: .customLong("urn"), help: "A school of a school_leader (repeat for several).") var urns: [Int] = []
        @Option(help: "A note to tell tokens apart.") var label: String?
        @Option(name: .customLong("expires-at"), help: "ISO 8601 date-time.") var expiresAt: String?

        func run() async throws {
            var body: [String: Any] = ["role": role]
            if let trustID { body["trust_id"] = trustID }
            if !urns.isEmpty { body["urns"] = urns }
            if let label { body["label"] = label }
            if let expiresAt { body["expires_at"] = expiresAt }
            let reply = try await connection.client().request(
                .POST, "/v1/tokens", body: try JSONSerialization.data(withJSONObject: body), contentType: "application/json")
            let token = object(try reply.json())
            FileHandle.standardError.write(Data("token \(cell(token["id"])) (\(role)); shown only now:\n".utf8))
            print(cell(token["token"]))
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions

        func run() async throws {
            let reply = try await connection.client().request(.GET, "/v1/tokens")
            try emit(reply, format: output.format) {
                var table = Table(headers: ["id", "role", "trust_id", "schools", "label", "expires_at", "last_used_at", "revoked_at"])
                for t in objects(object(try reply.json())["tokens"]) {
                    table.add([cell(t["id"]), cell(t["role"]), cell(t["trust_id"]), cell(t["urns"]), cell(t["label"]), cell(t["expires_at"]), cell(t["last_used_at"]), cell(t["revoked_at"])])
                }
                return table
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The token id.") var id: String

        func run() async throws {
            _ = try await connection.client().request(.DELETE, "/v1/tokens/\(id)")
            print("revoked \(id)")
        }
    }
}

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Platform administration.", subcommands: [TrustsCommand.self, ImportGIAS.self, ImportNational.self, Release.self])

    struct TrustsCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "trusts", subcommands: [Create.self])

        struct Create: AsyncParsableCommand {
            @OptionGroup var connection: ConnectionOptions
            @Option(help: "The trust's name.") var name: String
            @Option(name: .customLong("gias-code"), help: "GIAS trust code, like TR01234.") var giasCode: String?

            func run() async throws {
                var body: [String: Any] = ["name": name]
                if let giasCode { body["gias_code"] = giasCode }
                let reply = try await connection.client().request(.POST, "/v1/trusts", body: try JSONSerialization.data(withJSONObject: body), contentType: "application/json")
                print(cell(object(try reply.json())["trust_id"]))
            }
        }
    }

    struct ImportGIAS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import-gias", abstract: "Upload DfE's GIAS export.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "edubasealldataYYYYMMDD.csv") var file: String
        @Flag(name: .customLong("create-trusts"), help: "Create trusts and record membership changes.") var createTrusts = false

        func run() async throws {
            let data = try readFile(file)
            let reply = try await connection.client().request(
                .POST, "/v1/admin/gias-imports", query: [("create_trusts", createTrusts ? "true" : nil)], body: data,
                contentType: "text/csv", progress: true, timeout: .minutes(10))
            print(reply.text)
        }
    }

    struct ImportNational: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import-national", abstract: "Upload a DfE sen_phase_type release file.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The release CSV.") var file: String

        func run() async throws {
            let reply = try await connection.client().request(
                .POST, "/v1/admin/national-imports", body: try readFile(file), contentType: "text/csv", progress: true, timeout: .minutes(10))
            print(reply.text)
        }
    }

    struct Release: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The term to release, like 2025-26-summer.") var term: String

        func run() async throws {
            let reply = try await connection.client().request(
                .POST, "/v1/admin/releases", body: try JSONSerialization.data(withJSONObject: ["term": term]), contentType: "application/json")
            print(reply.text)
        }
    }
}

func readFile(_ path: String) throws -> Data {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError(code: .usage, message: "senstat: cannot read \(path)")
    }
    return data
}
