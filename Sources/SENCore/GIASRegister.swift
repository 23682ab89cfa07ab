/// One school as senstat keeps it from DfE's Get Information about Schools export.
public struct RegisterEntry: Sendable, Equatable {
    public var urn: URN
    public var name: String
    public var phase: Phase
    public var establishmentType: String
    public var establishmentTypeGroup: String
    public var laCode: Int?
    public var laName: String
    public var region: String
    public var status: EstablishmentStatus
    public var openedOn: CalendarDate?
    public var closedOn: CalendarDate?
    public var numberOfPupils: Int?
    public var statutoryLowAge: Int?
    public var statutoryHighAge: Int?
    /// `Trusts (code)` and `Trusts (name)`, when the school is in a trust.
    public var trustCode: String?
    public var trustName: String?
}

/// Reads `edubasealldataYYYYMMDD.csv`: about 140 columns in any order, mapped by header name. A row that cannot be
/// read is rejected with its line number and reason; the others import.
public struct GIASRegisterReader {
    public struct Rejection: Sendable, Equatable, Codable {
        public let row: Int
        public let column: String?
        public let reason: String
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case missingColumns([String])
        case empty
        case malformed(String)

        public var description: String {
            switch self {
            case .missingColumns(let names): "the file has no column \(names.map { "'\($0)'" }.joined(separator: ", "))"
            case .empty: "the file has no header row"
            case .malformed(let reason): "the file is not valid CSV: \(reason)"
            }
        }
    }

    public struct Result: Sendable {
        public var entries: [RegisterEntry] = []
        public var rejections: [Rejection] = []
    }

    static let required = ["URN", "EstablishmentName"]
    static let columns = [
        "URN", "EstablishmentName", "LA (code)", "LA (name)", "GOR (name)", "TypeOfEstablishment (name)",
        "EstablishmentTypeGroup (name)", "EstablishmentStatus (name)", "PhaseOfEducation (name)", "OpenDate",
        "CloseDate", "NumberOfPupils", "StatutoryLowAge", "StatutoryHighAge", "Trusts (code)", "Trusts (name)",
    ]

    /// Tokens GIAS uses for "no value".
    static let emptyTokens: Set<String> = ["", "not applicable", "does not apply", "none", ".."]

    /// Decodes (Windows-1252 or UTF-8, detected unless given) and reads every row.
    public static func read(_ bytes: [UInt8], encoding: TextEncoding? = nil) throws -> Result {
        let utf8 = (encoding ?? TextEncoding.detect(bytes)).toUTF8(bytes)
        var iterator = CSVReader(utf8: utf8).makeIterator()
        let header: CSVReader.Row
        do {
            guard let first = try iterator.nextRow() else { throw Failure.empty }
            header = first
        } catch let error as CSVReader.Failure {
            throw Failure.malformed(error.description)
        }
        var index: [String: Int] = [:]
        for (position, name) in header.fields.enumerated() {
            index[name.trimmingASCIIWhitespace()] = position
        }
        let missing = required.filter { index[$0] == nil }
        guard missing.isEmpty else { throw Failure.missingColumns(missing) }

        var result = Result()
        var seen: [URN: Int] = [:]
        while true {
            let row: CSVReader.Row
            do {
                guard let next = try iterator.nextRow() else { break }
                row = next
            } catch let error as CSVReader.Failure {
                throw Failure.malformed(error.description)
            }
            func value(_ column: String) -> String? {
                guard let position = index[column], position < row.fields.count else { return nil }
                let text = row.fields[position].trimmingASCIIWhitespace()
                return emptyTokens.contains(text.lowercased()) ? nil : text
            }
            switch entry(value: value) {
            case .success(let entry):
                if let earlier = seen[entry.urn] {
                    result.rejections.append(
                        Rejection(row: row.line, column: "URN", reason: "URN \(entry.urn) already appears on row \(earlier)"))
                } else {
                    seen[entry.urn] = row.line
                    result.entries.append(entry)
                }
            case .failure(let rejection):
                result.rejections.append(Rejection(row: row.line, column: rejection.column, reason: rejection.reason))
            }
        }
        return result
    }

    struct RowError: Error {
        let column: String
        let reason: String
    }

    static func entry(value: (String) -> String?) -> Swift.Result<RegisterEntry, RowError> {
        func int(_ column: String, _ range: ClosedRange<Int>) throws(RowError) -> Int? {
            guard let text = value(column) else { return nil }
            guard let number = Int(text), range.contains(number) else {
                throw RowError(column: column, reason: "'\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        func date(_ column: String) throws(RowError) -> CalendarDate? {
            guard let text = value(column) else { return nil }
            guard let date = CalendarDate(dayMonthYear: text) ?? CalendarDate(iso: text) else {
                throw RowError(column: column, reason: "'\(text)' is not a date (dd-mm-yyyy)")
            }
            return date
        }
        do throws(RowError) {
            guard let urnText = value("URN"), let urn = URN(urnText) else {
                throw RowError(column: "URN", reason: "'\(value("URN") ?? "")' is not a six-digit URN")
            }
            guard let name = value("EstablishmentName"), name.databaseLength <= 200 else {
                throw RowError(column: "EstablishmentName", reason: "the name is empty or longer than 200 characters")
            }
            let phaseText = value("PhaseOfEducation (name)") ?? ""
            guard let phase = Phase(giasName: phaseText) else {
                throw RowError(column: "PhaseOfEducation (name)", reason: "'\(phaseText)' is not a GIAS phase")
            }
            let statusText = value("EstablishmentStatus (name)") ?? "Open"
            guard let status = EstablishmentStatus(giasName: statusText) else {
                throw RowError(column: "EstablishmentStatus (name)", reason: "'\(statusText)' is not a GIAS status")
            }
            let trustCode = value("Trusts (code)")
            if let trustCode, !isTrustCode(trustCode) {
                throw RowError(column: "Trusts (code)", reason: "'\(trustCode)' is not a trust code like TR01234")
            }
            return .success(
                RegisterEntry(
                    urn: urn, name: name, phase: phase,
                    establishmentType: value("TypeOfEstablishment (name)") ?? "",
                    establishmentTypeGroup: value("EstablishmentTypeGroup (name)") ?? "",
                    laCode: try int("LA (code)", 100...999), laName: value("LA (name)") ?? "",
                    region: value("GOR (name)") ?? "", status: status,
                    openedOn: try date("OpenDate"), closedOn: try date("CloseDate"),
                    numberOfPupils: try int("NumberOfPupils", 0...100_000),
                    statutoryLowAge: try int("StatutoryLowAge", 0...25),
                    statutoryHighAge: try int("StatutoryHighAge", 0...25),
                    trustCode: trustCode, trustName: trustCode == nil ? nil : value("Trusts (name)")))
        } catch {
            return .failure(error)
        }
    }

    /// GIAS trust codes: TR and five digits.
    public static func isTrustCode(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 7 && bytes[0] == UInt8(ascii: "T") && bytes[1] == UInt8(ascii: "R")
            && bytes[2...].allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}
