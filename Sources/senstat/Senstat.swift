import ArgumentParser

/// The senstat CLI: talks to the REST API only. Commands arrive with the API they call.
@main
struct Senstat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "senstat",
        abstract: "Trust, school and research views of senstat, from the terminal.",
        discussion: """
            Configuration: SENSTAT_URL and SENSTAT_TOKEN, or --url and --token.
            Exit codes: 0 ok, 1 other error, 2 usage, 3 authentication, 4 not found, 5 validation.
            """,
        version: "0.1.0"
    )

    func run() async throws {
        print(Senstat.helpMessage())
    }
}
