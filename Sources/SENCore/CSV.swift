/// RFC 4180 CSV over UTF-8 bytes: quoted fields may hold commas, quotes ("") and line breaks; rows end in LF or
/// CRLF; a UTF-8 byte-order mark is skipped. Rows are numbered from 1 for the header, as a spreadsheet shows them.
public struct CSVReader: Sequence {
    public struct Row: Sendable {
        /// Line number of the row's first line in the file (1 = the header).
        public let line: Int
        public let fields: [String]
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unterminatedQuote(line: Int)
        case textAfterClosingQuote(line: Int)
        /// U+0000 in a field: no text column can store it.
        case nul(line: Int, column: Int)

        public var description: String {
            switch self {
            case .unterminatedQuote(let line): "a quoted field that starts on line \(line) never ends"
            case .textAfterClosingQuote(let line): "text follows a closing quote on line \(line)"
            case .nul(let line, let column): "line \(line), column \(column) contains U+0000 (NUL), which no text may hold"
            }
        }
    }

    let bytes: [UInt8]

    public init(utf8 bytes: [UInt8]) {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            self.bytes = Array(bytes.dropFirst(3))
        } else {
            self.bytes = bytes
        }
    }

    public func makeIterator() -> Iterator { Iterator(bytes: bytes) }

    /// Every row, or the first structural error.
    public func rows() throws -> [Row] {
        var iterator = makeIterator()
        var rows: [Row] = []
        while let row = try iterator.nextRow() { rows.append(row) }
        return rows
    }

    public struct Iterator: IteratorProtocol {
        let bytes: [UInt8]
        var position = 0
        var line = 1

        /// `Sequence` conformance: stops at the first structural error (use `nextRow()` to see it).
        public mutating func next() -> Row? { try? nextRow() }

        public mutating func nextRow() throws -> Row? {
            guard position < bytes.count else { return nil }
            let startLine = line
            var fields: [String] = []
            var field: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") && field.isEmpty {
                    // Quoted field.
                    position += 1
                    let quoteLine = line
                    var closed = false
                    while position < bytes.count {
                        let c = bytes[position]
                        if c == UInt8(ascii: "\"") {
                            if position + 1 < bytes.count && bytes[position + 1] == UInt8(ascii: "\"") {
                                field.append(c)
                                position += 2
                                continue
                            }
                            position += 1
                            closed = true
                            break
                        }
                        if c == UInt8(ascii: "\n") { line += 1 }
                        field.append(c)
                        position += 1
                    }
                    guard closed else { throw Failure.unterminatedQuote(line: quoteLine) }
                    if position < bytes.count {
                        let next = bytes[position]
                        if next != UInt8(ascii: ",") && next != UInt8(ascii: "\n") && next != UInt8(ascii: "\r") {
                            throw Failure.textAfterClosingQuote(line: line)
                        }
                    }
                    continue
                }
                if byte == UInt8(ascii: ",") {
                    if field.contains(0) { throw Failure.nul(line: startLine, column: fields.count + 1) }
                    fields.append(String(decoding: field, as: UTF8.self))
                    field.removeAll(keepingCapacity: true)
                    position += 1
                    continue
                }
                if byte == UInt8(ascii: "\r") && position + 1 < bytes.count && bytes[position + 1] == UInt8(ascii: "\n") {
                    position += 1
                    continue
                }
                if byte == UInt8(ascii: "\n") {
                    position += 1
                    line += 1
                    break
                }
                field.append(byte)
                position += 1
            }
            if field.contains(0) { throw Failure.nul(line: startLine, column: fields.count + 1) }
            fields.append(String(decoding: field, as: UTF8.self))
            // A blank line is not a row.
            if fields.count == 1 && fields[0].isEmpty { return try nextRow() }
            return Row(line: startLine, fields: fields)
        }
    }
}

/// Text encodings of uploaded files. GIAS publishes Windows-1252; spreadsheets save UTF-8, often with a BOM.
public enum TextEncoding: String, Sendable, CaseIterable {
    case utf8 = "utf-8"
    case windows1252 = "windows-1252"

    /// UTF-8 if the bytes are valid UTF-8 (a pure-ASCII file reads the same either way), else Windows-1252.
    public static func detect(_ bytes: [UInt8]) -> TextEncoding {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return .utf8
            case .error: return .windows1252
            }
        }
    }

    /// The bytes as UTF-8.
    public func toUTF8(_ bytes: [UInt8]) -> [UInt8] {
        switch self {
        case .utf8:
            return bytes
        case .windows1252:
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + bytes.count / 8)
            for byte in bytes {
                if byte < 0x80 {
                    out.append(byte)
                } else {
                    let scalar = byte >= 0xA0 ? UInt32(byte) : Self.windows1252High[Int(byte - 0x80)]
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                }
            }
            return out
        }
    }

    /// 0x80-0x9F in Windows-1252 (the WHATWG table; the five unassigned bytes map to their C1 controls).
    static let windows1252High: [UInt32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D,
        0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x009D, 0x017E, 0x0178,
    ]
}
