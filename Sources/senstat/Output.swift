import ArgumentParser
import Foundation
import SENAPI
import SENCore

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}

struct FormatOptions: ParsableArguments {
    @Option(help: "table, json (the API's JSON) or csv.")
    var format: OutputFormat = .table
}

/// ANSI colour, only on a terminal and never with NO_COLOR (https://no-color.org). SENSTAT_FORCE_COLOR=1 turns it
/// on without a terminal (for tests); NO_COLOR still wins.
enum Colour: String {
    case red = "31", yellow = "33", green = "32", bold = "1"

    static var enabled: Bool {
        let environment = ProcessInfo.processInfo.environment
        if let noColour = environment["NO_COLOR"], !noColour.isEmpty { return false }
        return isatty(1) == 1 || environment["SENSTAT_FORCE_COLOR"] == "1"
    }

    func wrap(_ text: String) -> String { Colour.enabled ? "\u{1B}[\(rawValue)m\(text)\u{1B}[0m" : text }
}

/// A table for the terminal (aligned columns) or as CSV.
struct Table {
    var headers: [String]
    var rows: [[String]] = []
    /// Colour for whole rows (for example flagged schools).
    var rowColour: [Int: Colour] = [:]
    var footer: String?

    mutating func add(_ row: [String], colour: Colour? = nil) {
        if let colour { rowColour[rows.count] = colour }
        rows.append(row)
    }

    func render(_ format: OutputFormat) -> String {
        if format == .csv {
            return ([headers] + rows).map(CSVWriter.line).joined()
        }
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        var out = Colour.bold.wrap(line(headers)) + "\n"
        for (index, row) in rows.enumerated() {
            let text = line(row)
            out += (rowColour[index].map { $0.wrap(text) } ?? text) + "\n"
        }
        if let footer { out += footer + "\n" }
        return out
    }
}

/// Prints the API's JSON as it came, or a table in the chosen format.
func emit(_ reply: API.Reply, format: OutputFormat, table: () throws -> Table) throws {
    switch format {
    case .json: print(reply.text)
    case .table, .csv: print(try table().render(format), terminator: "")
    }
}

// Readable cells from the API's typed values (SENAPI): nothing shows for a missing value, whole numbers without a
// decimal point, booleans as yes or no, dates as the API writes them.

func cell(_ value: String?) -> String { value ?? "" }
func cell(_ value: Int?) -> String { value.map(String.init) ?? "" }
func cell(_ value: Bool?) -> String { value.map { $0 ? "yes" : "no" } ?? "" }
func cell(_ value: [Int]) -> String { value.map(String.init).joined(separator: " ") }
func cell(_ value: Date?) -> String { value.map { $0.formatted(Date.ISO8601FormatStyle()) } ?? "" }
func cell(_ value: ShownValue?) -> String { value?.text ?? "" }

func cell(_ value: Double?) -> String {
    guard let value else { return "" }
    return value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
}

func cell(_ value: JSONValue?) -> String {
    switch value {
    case nil, .null?: ""
    case .string(let text)?: text
    case .integer(let number)?: String(number)
    case .number(let number)?: cell(number)
    case .bool(let flag)?: cell(flag)
    case .array(let items)?: items.map { cell($0) }.joined(separator: " ")
    case .object?: "{…}"
    }
}

func percent(_ value: Double?) -> String {
    guard let value else { return "" }
    return String(format: "%.1f%%", value * 100)
}

extension ComparatorLevel: ExpressibleByArgument {}
extension Provision: ExpressibleByArgument {}
extension Role: ExpressibleByArgument {}

extension UUIDIdentifier: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}
