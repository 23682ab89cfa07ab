/// An id that is a UUID, in canonical lower-case text form, tagged with what it names (`TrustID`, `TokenID`) so that
/// one kind cannot be passed for another. Parsing is strict so that a path segment such as `../` or `%00` can never
/// reach a query.
public struct UUIDIdentifier<Kind>: Hashable, Sendable, CustomStringConvertible, Codable {
    public let uuidString: String

    public init?(_ text: some StringProtocol) {
        guard let canonical = canonicalUUID(text) else { return nil }
        self.uuidString = canonical
    }

    public var description: String { uuidString }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = Self(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "an id is a UUID")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(uuidString)
    }
}

public enum TrustKind {}
public enum TokenKind {}

/// A trust (tenant).
public typealias TrustID = UUIDIdentifier<TrustKind>
/// An API token (its id, not its secret), which stands for the person acting: `actor` in the audit log.
public typealias TokenID = UUIDIdentifier<TokenKind>

/// Lower-cases and checks the 8-4-4-4-12 hexadecimal form.
func canonicalUUID(_ text: some StringProtocol) -> String? {
    let bytes = Array(text.utf8)
    guard bytes.count == 36 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(36)
    for (index, byte) in bytes.enumerated() {
        if [8, 13, 18, 23].contains(index) {
            guard byte == UInt8(ascii: "-") else { return nil }
            out.append(byte)
            continue
        }
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): out.append(byte)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): out.append(byte + 32)
        default: return nil
        }
    }
    return String(decoding: out, as: UTF8.self)
}
