/// A school's Unique Reference Number in DfE's register (GIAS): six digits, 100000-999999.
public struct URN: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let value: Int

    public init?(_ value: Int) {
        guard (100_000...999_999).contains(value) else { return nil }
        self.value = value
    }

    /// Parses exactly six ASCII digits; anything else (signs, spaces, `../`, `%00`) is not a URN.
    public init?(_ text: some StringProtocol) {
        guard text.utf8.count == 6, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let number = Int(text)
        else { return nil }
        self.init(number)
    }

    public var description: String { String(value) }

    public static func < (lhs: URN, rhs: URN) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let number = try container.decode(Int.self)
        guard let urn = URN(number) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a URN is six digits")
        }
        self = urn
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
