/// The CSV form of SEN returns: one row per school, `urn` first, then any of `ReturnField.all` by name. The same
/// layout comes back from the trust's export, so a trust can download, edit and upload again.
public enum ReturnsCSV {
    public struct Issue: Sendable, Equatable {
        /// Spreadsheet row: the header is row 1.
        public let row: Int
        public let column: String
        public let code: String
        public let message: String

        public init(row: Int, column: String, code: String, message: String) {
            self.row = row
            self.column = column
            self.code = code
            self.message = message
        }
    }

    public struct Row: Sendable {
        public let row: Int
        public let urn: URN
        public let value: SENReturn
    }

    public static var header: [String] { ["urn"] + ReturnField.all.map(\.key) }

    /// Reads every row; any problem anywhere means no rows, and every problem is reported.
    public static func read(_ bytes: [UInt8]) -> Checked<[Row], Issue> {
        let utf8 = TextEncoding.detect(bytes).toUTF8(bytes)
        let table: [CSVReader.Row]
        do {
            table = try CSVReader(utf8: utf8).rows()
        } catch let failure as CSVReader.Failure {
            switch failure {
            case .unterminatedQuote(let l), .textAfterClosingQuote(let l):
                return .failure([Issue(row: l, column: "", code: "csv", message: failure.description)])
            case .nul(let l, let c):
                // Name the column by its header where the header itself reads.
                var header = CSVReader(utf8: utf8).makeIterator()
                let names = l > 1 ? ((try? header.nextRow())?.fields ?? []) : []
                let column = c <= names.count ? names[c - 1].trimmingASCIIWhitespace() : "column \(c)"
                return .failure([Issue(row: l, column: column, code: "nul", message: "contains U+0000 (NUL), which no text may hold")])
            }
        } catch {
            return .failure([Issue(row: 1, column: "", code: "csv", message: "the file is not valid CSV")])
        }
        guard let header = table.first else {
            return .failure([Issue(row: 1, column: "", code: "empty", message: "the file has no header row")])
        }
        var issues: [Issue] = []
        let columns = header.fields.map { $0.trimmingASCIIWhitespace() }
        if columns.first != "urn" {
            issues.append(Issue(row: 1, column: columns.first ?? "", code: "header", message: "the first column must be urn"))
        }
        var seenColumns: Set<String> = []
        for column in columns {
            if !seenColumns.insert(column).inserted {
                issues.append(Issue(row: 1, column: column, code: "duplicate_column", message: "column \(column) appears twice"))
            } else if column != "urn" && ReturnField.byKey[column] == nil {
                let parts = column.split(separator: ".")
                if parts.count == 3, parts[0] == "primary_need", NeedCode(rawValue: String(parts[1])) == nil {
                    issues.append(Issue(
                        row: 1, column: column, code: "unknown_need",
                        message: "\(parts[1]) is not a primary need code; the codes are \(NeedCode.allCases.map(\.rawValue).joined(separator: ", "))"))
                } else {
                    issues.append(Issue(row: 1, column: column, code: "unknown_column", message: "\(column) is not a column of the SEN return format"))
                }
            }
        }
        for required in ReturnField.required where !seenColumns.contains(required) {
            issues.append(Issue(row: 1, column: required, code: "missing_column", message: "the file has no \(required) column"))
        }
        guard issues.isEmpty else { return .failure(issues) }

        var rows: [Row] = []
        var firstRowOf: [URN: Int] = [:]
        for record in table.dropFirst() {
            if record.fields.count > columns.count {
                issues.append(Issue(row: record.line, column: "", code: "extra_cells", message: "the row has \(record.fields.count) cells but the header has \(columns.count)"))
                continue
            }
            let urnText = record.fields[0].trimmingASCIIWhitespace()
            guard let urn = URN(urnText) else {
                issues.append(Issue(row: record.line, column: "urn", code: "urn", message: "'\(urnText)' is not a URN (six digits)"))
                continue
            }
            if let first = firstRowOf[urn] {
                issues.append(Issue(row: record.line, column: "urn", code: "duplicate_urn", message: "URN \(urn) is also on row \(first)"))
                continue
            }
            firstRowOf[urn] = record.line
            var raw: [String: RawField] = [:]
            raw.reserveCapacity(columns.count)
            for (index, column) in columns.enumerated().dropFirst() where index < record.fields.count {
                raw[column] = .text(record.fields[index])
            }
            switch SENReturnValidator.validate(raw) {
            case .success(let value): rows.append(Row(row: record.line, urn: urn, value: value))
            case .failure(let problems):
                issues += problems.map { Issue(row: record.line, column: $0.csvColumn, code: $0.code, message: $0.message) }
            }
        }
        if rows.isEmpty && issues.isEmpty {
            issues.append(Issue(row: 2, column: "", code: "empty", message: "the file has no data rows"))
        }
        return issues.isEmpty ? .success(rows) : .failure(issues)
    }

    /// The rows whose URN reads, with their row numbers (to check membership even when other cells are wrong).
    public static func urnRows(_ bytes: [UInt8]) -> [(row: Int, urn: URN)] {
        let utf8 = TextEncoding.detect(bytes).toUTF8(bytes)
        guard let table = try? CSVReader(utf8: utf8).rows(), table.first?.fields.first?.trimmingASCIIWhitespace() == "urn" else {
            return []
        }
        return table.dropFirst().compactMap { record in
            URN(record.fields[0].trimmingASCIIWhitespace()).map { (record.line, $0) }
        }
    }

    /// The export: the full header, then one row per school.
    public static func write(_ rows: [(urn: URN, value: SENReturn)]) -> String {
        var out = CSVWriter.line(header)
        for row in rows { out += CSVWriter.line([row.urn.description] + row.value.csvCells) }
        return out
    }
}

/// Writes CSV for spreadsheets: RFC 4180 quoting, CRLF, and cells that a spreadsheet would run as a formula
/// (starting with = + - @, tab or carriage return) prefixed with an apostrophe (OWASP's CSV injection advice).
public enum CSVWriter {
    /// A cell: text a spreadsheet would run as a formula (starting = + - @ tab or CR) is escaped with a leading
    /// quote, except a plain number (`-0.04`, `-11.7`, `-3`), which it reads as the number it is.
    public static func cell(_ text: String) -> String {
        var value = text
        if let first = value.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first), !isPlainNumber(value) {
            value = "'" + value
        }
        if value.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            value = "\"" + value.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
        }
        return value
    }

    /// An optional minus, digits, and optionally a point and more digits: nothing a spreadsheet evaluates.
    static func isPlainNumber(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, parts.count == 1 || !parts[1].isEmpty else { return false }
        return parts.allSatisfy { $0.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }
    }

    public static func line(_ cells: [String]) -> String {
        cells.map(cell).joined(separator: ",") + "\r\n"
    }
}
