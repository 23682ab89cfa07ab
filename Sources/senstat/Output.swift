import ArgumentParser
import Foundation
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

/// A readable cell from a JSON value.
func cell(_ value: Any?) -> String {
    switch value {
    case nil, is NSNull: ""
    case let string as String: string
    case let number as NSNumber:
        // JSONSerialization's booleans are NSNumbers of type "c" (char).
        String(cString: number.objCType) == "c" ? (number.boolValue ? "yes" : "no")
            : number.doubleValue == number.doubleValue.rounded() && abs(number.doubleValue) < 1e15 ? String(number.intValue) : String(number.doubleValue)
    case let array as [Any]: array.map { cell($0) }.joined(separator: " ")
    default: "\(value!)"
    }
}

func percent(_ value: Any?) -> String {
    guard let number = value as? Double ?? (value as? NSNumber)?.doubleValue else { return cell(value) }
    return String(format: "%.1f%%", number * 100)
}

func object(_ value: Any?) -> [String: Any] { value as? [String: Any] ?? [:] }
func objects(_ value: Any?) -> [[String: Any]] { value as? [[String: Any]] ?? [] }
