import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import SENAPI
import SENCore

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign in to a server and remember it: with your work account in the browser (--web), or with a token.",
        discussion: "--web opens the server's sign-in in your browser and receives a token of its own for this computer through a redirect to a loopback port, with PKCE; the token is listed on your account page and can be revoked there.")

    @Option(help: "The senstat server, for example http://127.0.0.1:8080.")
    var url: String

    @Option(help: "An API token (sst_...).")
    var token: String?

    @Flag(help: "Sign in with your work account in the browser.")
    var web = false

    @Flag(help: "With --web: print the address to open instead of opening a browser.")
    var noBrowser = false

    @Option(help: "With --web: how many seconds to wait for the browser.")
    var timeout = 300

    func validate() throws {
        guard web != (token != nil) else { throw ValidationError("give either --web or --token") }
        guard (10...3600).contains(timeout) else { throw ValidationError("--timeout is 10 to 3600 seconds") }
    }

    func run() async throws {
        var token = self.token ?? ""
        if web {
            let base = url.hasSuffix("/") ? String(url.dropLast()) : url
            token = try await WebLogin.run(base: base, openBrowser: !noBrowser, timeout: .seconds(timeout)).token ?? ""
        }
        let api = try ConnectionOptions.parse(["--url", url, "--token", token]).client()
        let me = try await api.request(.GET, "/v1/me").decode(Me.self)
        try ConfigFile.save(.init(url: api.base, token: token))
        print("logged in to \(api.base) as \(me.role)\(me.trustID.map { " of trust \($0)" } ?? ""); saved in \(ConfigFile.url.path)")
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
        let me = try reply.decode(Me.self)
        try emit(reply, format: output.format) {
            var table = Table(headers: ["server", "role", "trust_id", "schools", "token_id"])
            table.add([api.base, me.role, cell(me.trustID), cell(me.urns), me.tokenID])
            return table
        }
    }
}

/// The caller's own trust, unless --trust names one (admins must).
func resolveTrust(_ explicit: String?, api: API) async throws -> String {
    if let explicit { return explicit }
    let me = try await api.request(.GET, "/v1/me").decode(Me.self)
    guard let trust = me.trustID else {
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
                for trust in try reply.decode(TrustList.self).trusts {
                    table.add([trust.trustID, trust.name, cell(trust.giasCode), cell(trust.schoolCount)])
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
                let trust = try reply.decode(TrustBody.self)
                var table = Table(headers: ["trust_id", "name", "gias_code", "schools", "created_at"])
                table.add([trust.trustID, trust.name, cell(trust.giasCode), cell(trust.schoolCount), cell(trust.createdAt)])
                return table
            }
        }
    }
}

struct Schools: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Schools of a trust, or one school.", subcommands: [List.self, Show.self])

    static func table(_ schools: [SchoolBody]) -> Table {
        var table = Table(headers: ["urn", "name", "phase", "la", "region", "status", "pupils"])
        for school in schools {
            table.add([school.urn.description, school.name, school.phase, school.laName, school.region, school.status, cell(school.numberOfPupils)])
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
            try emit(reply, format: output.format) { Schools.table(try reply.decode(SchoolList.self).schools) }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions
        @Argument(help: "The school's URN.") var urn: String

        func run() async throws {
            let reply = try await connection.client().request(.GET, "/v1/schools/\(urn)")
            try emit(reply, format: output.format) { Schools.table([try reply.decode(SchoolBody.self)]) }
        }
    }
}

struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "API tokens.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "admin, trust_executive, school_leader or researcher.") var role: Role
        @Option(name: .customLong("trust-id"), help: "The trust of a trust_executive or school_leader.") var trustID: TrustID?
        @Option(name: .customLong("urn"), help: "A school of a school_leader (repeat for several).") var urns: [Int] = []
        @Option(help: "A note to tell tokens apart.") var label: String?
        @Option(name: .customLong("expires-at"), help: "ISO 8601 date-time.") var expiresAt: String?

        func run() async throws {
            var schools: [URN] = []
            for urn in urns {
                guard let school = URN(urn) else { throw ValidationError("\(urn) is not a URN (six digits)") }
                schools.append(school)
            }
            let body = NewToken(role: role, trustID: trustID, urns: schools.isEmpty ? nil : schools, label: label, expiresAt: expiresAt)
            let reply = try await connection.client().request(
                .POST, "/v1/tokens", body: try JSONEncoder.api.encode(body), contentType: "application/json")
            let token = try reply.decode(TokenBody.self)
            FileHandle.standardError.write(Data("token \(token.id) (\(role.rawValue)); shown only now:\n".utf8))
            print(cell(token.token))
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: FormatOptions

        func run() async throws {
            let reply = try await connection.client().request(.GET, "/v1/tokens")
            try emit(reply, format: output.format) {
                var table = Table(headers: ["id", "role", "trust_id", "schools", "label", "expires_at", "last_used_at", "revoked_at"])
                for t in try reply.decode(TokenList.self).tokens {
                    table.add([t.id, t.role, cell(t.trustID), cell(t.urns), t.label, cell(t.expiresAt), cell(t.lastUsedAt), cell(t.revokedAt)])
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
                let reply = try await connection.client().request(
                    .POST, "/v1/trusts", body: try JSONEncoder.api.encode(NewTrust(name: name, giasCode: giasCode)), contentType: "application/json")
                print(try reply.decode(TrustBody.self).trustID)
            }
        }
    }

    /// Uploads a reference file to an admin import and prints the server's JSON answer, once checked to be the
    /// answer `Result` describes. GIAS and national imports differ only in these.
    static func upload<Result: Decodable>(
        _ file: String, to path: String, query: [(String, String?)] = [], as result: Result.Type, connection: ConnectionOptions
    ) async throws {
        let reply = try await connection.client().request(
            .POST, path, query: query, body: try readFile(file), contentType: "text/csv", progress: true, timeout: .minutes(10))
        _ = try reply.decode(Result.self)
        print(reply.text)
    }

    struct ImportGIAS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import-gias", abstract: "Upload DfE's GIAS export.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "edubasealldataYYYYMMDD.csv") var file: String
        @Flag(name: .customLong("create-trusts"), help: "Create trusts and record membership changes.") var createTrusts = false

        func run() async throws {
            try await Admin.upload(
                file, to: "/v1/admin/gias-imports", query: [("create_trusts", createTrusts ? "true" : nil)], as: GIASImportResult.self,
                connection: connection)
        }
    }

    struct ImportNational: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-national", abstract: "Upload a DfE release file: sen_phase_type (rates) or primary need (national shares).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The release CSV.") var file: String

        func run() async throws {
            try await Admin.upload(file, to: "/v1/admin/national-imports", as: NationalImportResult.self, connection: connection)
        }
    }

    struct Release: AsyncParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The term to release, like 2025-26-summer.") var term: String

        func run() async throws {
            let reply = try await connection.client().request(
                .POST, "/v1/admin/releases", body: try JSONEncoder.api.encode(["term": term]), contentType: "application/json")
            _ = try reply.decode(ReleaseBody.self)
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
