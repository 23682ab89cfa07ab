import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import SENCore
import SENStore

/// Runs `body` with a running pool as the server's role, after checking the schema is current.
func withServerDatabase<T: Sendable>(
    _ options: DatabaseOptions, logger: Logger, _ body: @escaping @Sendable (Database) async throws -> T
) async throws -> T {
    let setup = try await options.prepare(logger: logger)
    defer { setup.embedded?.stop() }
    let migrator = try Migrator.bundled(logger: logger)
    if let owner = setup.owner {
        try await migrator.migrate(owner: owner)
    }
    let database = Database(
        client: Database.makeClient(endpoint: setup.app, maximumConnections: 4, logger: logger), tenantSetting: options.tenantSetting)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await database.client.run() }
        defer { group.cancelAll() }
        return try await body(database)
    }
}

/// A role and, for the trust roles, its trust and schools: what a token or an invitation is for.
struct RoleOptions: ParsableArguments {
    @Option(help: "admin, trust_executive, school_leader or researcher.")
    var role: String

    @Option(name: .customLong("trust-id"), help: "The trust of a trust_executive or school_leader.")
    var trustID: String?

    @Option(name: .customLong("urn"), help: "A school of a school_leader (repeat for several).")
    var urns: [String] = []

    func validate() throws {
        guard let role = Role(rawValue: role) else {
            throw ValidationError("role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if role.needsTrust != (trustID != nil) {
            throw ValidationError(role.needsTrust ? "a \(role.rawValue) needs --trust-id" : "a \(role.rawValue) has no --trust-id")
        }
        if let trustID, TrustID(trustID) == nil { throw ValidationError("--trust-id must be a UUID") }
        if (role == .schoolLeader) != !urns.isEmpty {
            throw ValidationError(role == .schoolLeader ? "a school_leader needs --urn" : "only a school_leader takes --urn")
        }
        for urn in urns where URN(urn) == nil { throw ValidationError("'\(urn)' is not a URN") }
    }

    /// After `validate()`.
    var parsed: (role: Role, trust: TrustID?, urns: [URN]) { (Role(rawValue: role)!, trustID.flatMap { TrustID($0) }, urns.compactMap { URN($0) }) }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Issue API tokens from the operator's shell.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a token (the first admin token is made this way) and print it once.")

        @OptionGroup var database: DatabaseOptions

        @OptionGroup var scope: RoleOptions

        @Option(help: "A note to tell tokens apart in listings.")
        var label: String = ""

        @Option(name: .customLong("expires-in-days"), help: "Days until the token expires (default: never).")
        var expiresInDays: Int?

        func validate() throws {
            if let days = expiresInDays, days <= 0 { throw ValidationError("--expires-in-days must be positive") }
        }

        func run() async throws {
            let logger = database.makeLogger()
            let (role, trust, urns) = scope.parsed
            let expires = expiresInDays.map { Date().addingTimeInterval(Double($0) * 86_400) }
            let label = self.label
            do {
                let issued = try await withServerDatabase(database, logger: logger) { db in
                    if let trust, try await RegisterStore(database: db).trust(trust, scope: .platform, logger: logger) == nil {
                        throw CommandFailure("no trust \(trust)")
                    }
                    return try await TokenStore(database: db).issue(
                        role: role, trustID: trust, urns: urns, label: label, expiresAt: expires, createdBy: nil,
                        scope: .platform, logger: logger)
                }
                FileHandle.standardError.write(Data("issued \(role.rawValue) token \(issued.record.id); it is shown only now:\n".utf8))
                print(issued.token)
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }
}

/// `senstat-server invite --role admin EMAIL`: the first administrator (and any invitation) from the operator's
/// shell. The invitee accepts by signing in with a provider that vouches for that email (Docs/operations.md).
struct Invite: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Invite a person by email to a role; they accept by signing in with a verified email that matches.")

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var scope: RoleOptions

    @Option(help: "DfE Sign-in: the organisation (a school's URN or a trust's UID) the invitee must sign in for.")
    var organisation: String?

    @Option(help: "Days until the invitation expires.")
    var days: Int = 14

    @Argument(help: "The email address invited.")
    var email: String

    func validate() throws {
        guard ConsumerEmailDomains.domain(of: email) != nil else { throw ValidationError("'\(email)' is not an email address") }
        guard (1...90).contains(days) else { throw ValidationError("--days must be between 1 and 90") }
    }

    func run() async throws {
        let logger = database.makeLogger()
        let (role, trust, urns) = scope.parsed
        let (email, organisation, days) = (email, organisation, days)
        do {
            let invitation = try await withServerDatabase(database, logger: logger) { db in
                if let trust, try await RegisterStore(database: db).trust(trust, scope: .platform, logger: logger) == nil {
                    throw CommandFailure("no trust \(trust)")
                }
                return try await PeopleStore(database: db).invite(
                    email: email, role: role, trust: trust, urns: urns, organisation: organisation, days: days, invitedBy: nil, scope: .platform,
                    logger: logger)
            }
            print("invited \(invitation.email) as \(invitation.role.rawValue) until \(invitation.expiresAt.formatted(.iso8601)); they accept by signing in")
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

struct ImportGIAS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-gias",
        abstract: "Import DfE's Get Information about Schools export (edubasealldataYYYYMMDD.csv) into the register.")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The GIAS CSV file (Windows-1252 as published, or UTF-8).")
    var file: String

    @Flag(name: .customLong("create-trusts"), help: "Create trusts from 'Trusts (code)' and record membership changes.")
    var createTrusts = false

    @Option(help: "utf-8 or windows-1252 (default: detected).")
    var encoding: String?

    func run() async throws {
        let logger = database.makeLogger()
        let encoding: TextEncoding?
        if let name = self.encoding {
            guard let known = TextEncoding(rawValue: name.lowercased()) else { throw CommandFailure("--encoding must be utf-8 or windows-1252") }
            encoding = known
        } else {
            encoding = nil
        }
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
        let register: GIASRegisterReader.Result
        do {
            register = try GIASRegisterReader.read(Array(data), encoding: encoding)
        } catch {
            throw CommandFailure("\(file): \(error)")
        }
        let createTrusts = self.createTrusts
        let today = CalendarDate.todayUTC()
        do {
            let summary = try await withServerDatabase(database, logger: logger) { db in
                try await GIASImporter(database: db).importRegister(
                    register, createTrusts: createTrusts, effectiveDate: today, logger: logger)
            }
            print(
                "new \(summary.new), changed \(summary.changed), closed \(summary.closed), unchanged \(summary.unchanged), rejected \(summary.rejected.count)"
            )
            if createTrusts {
                print("trusts created \(summary.trustsCreated), memberships opened \(summary.membershipsOpened), closed \(summary.membershipsClosed)")
            }
            for rejection in summary.rejected {
                print("  row \(rejection.row)\(rejection.column.map { ", \($0)" } ?? ""): \(rejection.reason)")
            }
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

struct ImportNational: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-national",
        abstract: "Import a DfE 'Special educational needs in England' file: sen_phase_type (rates by area and phase) or pupils by primary type of need (national shares).")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The release CSV.")
    var file: String

    func run() async throws {
        let logger = database.makeLogger()
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
        do {
            let outcome = try await withServerDatabase(database, logger: logger) { db in
                try await NationalImport.run(Array(data), store: BenchmarkStore(database: db), logger: logger)
            }
            let counts = outcome.counts
            print("\(outcome.kind == "primary_need" ? "need shares" : "rates") \(outcome.rows): new \(counts.new), changed \(counts.changed), unchanged \(counts.unchanged); rows skipped \(outcome.skippedRows), rejected \(outcome.rejections.count)")
            for rejection in outcome.rejections {
                print("  row \(rejection.row)\(rejection.column.map { ", \($0)" } ?? ""): \(rejection.reason)")
            }
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}
