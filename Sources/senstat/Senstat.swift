import ArgumentParser
import Foundation

/// The senstat CLI: the REST API for people who live in terminals and spreadsheets.
struct Senstat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "senstat",
        abstract: "Trust, school and research views of senstat, from the terminal.",
        discussion: """
            Connect with `senstat login --url URL --token TOKEN` (stored in $XDG_CONFIG_HOME/senstat/config.json,
            mode 0600), or SENSTAT_URL and SENSTAT_TOKEN, or --url and --token on any command.
            Read commands take --format table|json|csv (table is the default; json is the API's own JSON).
            Colour only on a terminal, and never with NO_COLOR.

            Exit codes: 0 ok, 1 other error, 2 usage, 3 authentication, 4 not found, 5 validation.
            """,
        version: "0.1.0",
        subcommands: [
            Login.self, Logout.self, Whoami.self, Trusts.self, Schools.self, Returns.self, CompletenessCommand.self,
            Benchmark.self, Compare.self, Funnel.self, Surveys.self, Research.self, Tokens.self, Admin.self,
        ]
    )
}

@main
enum Main {
    /// Runs the command and turns every failure into the documented exit codes.
    static func main() async {
        do {
            var command = try Senstat.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            FileHandle.standardError.write(Data((error.message + "\n").utf8))
            exit(error.code.rawValue)
        } catch {
            let code = Senstat.exitCode(for: error)
            let message = Senstat.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                exit(0)
            }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            // ArgumentParser's usage errors (EX_USAGE) are exit code 2 here, like most CLIs.
            exit(code == .validationFailure ? CLIError.Code.usage.rawValue : code.rawValue == 2 ? 2 : CLIError.Code.other.rawValue)
        }
    }
}
