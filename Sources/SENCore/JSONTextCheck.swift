/// What a JSON decoder lets through and the API must not: an object with the same key twice (decoders keep one
/// silently, so two readers of the same body can disagree) and U+0000 in any string (PostgreSQL's text cannot
/// hold it). Scans the raw text once; a body that is not JSON at all is left to the decoder.
public enum JSONTextCheck {
    public enum Finding: Equatable, Sendable {
        /// The JSON pointer of the second occurrence of a key.
        case duplicateKey(pointer: String)
        /// The JSON pointer of a string (or of the object holding a key) with U+0000 in it.
        case nul(pointer: String)
    }

    /// The first finding in document order, or nil (also nil when the text is not well-formed JSON).
    public static func scan(_ text: some Collection<UInt8>) -> Finding? {
        var scanner = Scanner(bytes: Array(text))
        return scanner.document()
    }

    /// A JSON pointer token for `key` (RFC 6901: ~ is ~0, / is ~1).
    public static func pointerToken(_ key: String) -> String {
        var token = ""
        for character in key {
            switch character {
            case "~": token += "~0"
            case "/": token += "~1"
            default: token.append(character)
            }
        }
        return token
    }

    struct Malformed: Error {}

    struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var finding: Finding?
        /// Deep nesting is refused by the decoder; stop scanning well before the stack would be at risk.
        var depth = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        mutating func document() -> Finding? {
            do {
                try value(pointer: "")
            } catch {
                return finding
            }
            return finding
        }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func value(pointer: String) throws {
            skipSpace()
            guard index < bytes.count else { throw Malformed() }
            depth += 1
            defer { depth -= 1 }
            guard depth < 512 else { throw Malformed() }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var keys: Set<String> = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return
                }
                while true {
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw Malformed() }
                    let (key, hasNUL) = try string()
                    let child = pointer + "/" + JSONTextCheck.pointerToken(key)
                    if hasNUL, finding == nil { finding = .nul(pointer: pointer.isEmpty ? "/" : pointer) }
                    if !keys.insert(key).inserted, finding == nil { finding = .duplicateKey(pointer: child) }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw Malformed() }
                    index += 1
                    try value(pointer: child)
                    skipSpace()
                    guard index < bytes.count else { throw Malformed() }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    guard bytes[index] == UInt8(ascii: "}") else { throw Malformed() }
                    index += 1
                    return
                }
            case UInt8(ascii: "["):
                index += 1
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return
                }
                var position = 0
                while true {
                    try value(pointer: pointer + "/\(position)")
                    position += 1
                    skipSpace()
                    guard index < bytes.count else { throw Malformed() }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    guard bytes[index] == UInt8(ascii: "]") else { throw Malformed() }
                    index += 1
                    return
                }
            case UInt8(ascii: "\""):
                let (_, hasNUL) = try string()
                if hasNUL, finding == nil { finding = .nul(pointer: pointer.isEmpty ? "/" : pointer) }
            default:
                // A number, true, false or null: up to the next delimiter.
                let start = index
                while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) {
                    index += 1
                }
                guard index > start else { throw Malformed() }
            }
        }

        /// A string at `index` (on its opening quote): its decoded text and whether it holds U+0000.
        mutating func string() throws -> (String, Bool) {
            index += 1
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            var hasNUL = false
            func flush() {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    flush()
                    return (String(scalars), hasNUL)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw Malformed() }
                    let escape = bytes[index]
                    index += 1
                    flush()
                    switch escape {
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800..<0xDC00).contains(code), index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        {
                            index += 2
                            let low = try hex4()
                            code = 0x10000 &+ ((code &- 0xD800) << 10) &+ (low &- 0xDC00)
                        }
                        if code == 0 { hasNUL = true }
                        scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "b"): scalars.append("\u{8}")
                    case UInt8(ascii: "f"): scalars.append("\u{C}")
                    default: scalars.append(Unicode.Scalar(escape))
                    }
                case 0:
                    hasNUL = true
                    raw.append(byte)
                default:
                    raw.append(byte)
                }
            }
            throw Malformed()
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw Malformed() }
            var code: UInt32 = 0
            for byte in bytes[index..<(index + 4)] {
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw Malformed()
                }
                code = code << 4 | digit
            }
            index += 4
            return code
        }
    }
}
