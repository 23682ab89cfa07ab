/// JSON written without Foundation's encoder (see `JSONOutput`).

/// JSON written straight into bytes, for the hot paths where JSONEncoder dominated: a trust's comparison (100
/// schools, about 700 nested objects) spent 40% of its CPU time in JSONEncoder building a tree of dictionaries to
/// sort and write, and an import a quarter of its time encoding each row's payload (Docs/performance.md). The
/// output is what `JSONEncoder.api` writes (sorted keys, nil optionals left out, integral doubles without ".0",
/// slashes not escaped); `FastJSONTests` and `JSONOutputTests` hold the two equal.
public struct JSONOutput: Sendable {
    // Inlinable, so that the writers in other modules (the comparison's, in SENHTTP) get the structure and their
    // closures inlined rather than called through.
    @usableFromInline var storage: [UInt8] = []
    @usableFromInline var needsComma = false

    public var bytes: [UInt8] { storage }

    public init(capacity: Int = 4096) { storage.reserveCapacity(capacity) }

    /// `{ ... }` with `body` writing the members, in the order given (callers give them sorted).
    @inlinable
    public mutating func object(_ body: (inout JSONOutput) -> Void) {
        separate()
        storage.append(UInt8(ascii: "{"))
        needsComma = false
        body(&self)
        storage.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// `{`, for a writer that opens and closes objects as it walks (`SENReturn.jsonText`); `close` ends it.
    mutating func open() {
        separate()
        storage.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func close() {
        storage.append(UInt8(ascii: "}"))
        needsComma = true
    }

    @inlinable
    public mutating func array<S: Sequence>(_ items: S, _ body: (inout JSONOutput, S.Element) -> Void) {
        separate()
        storage.append(UInt8(ascii: "["))
        needsComma = false
        for item in items { body(&self, item) }
        storage.append(UInt8(ascii: "]"))
        needsComma = true
    }

    @inlinable
    public mutating func key(_ name: StaticString) {
        separate()
        storage.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { storage.append(contentsOf: $0) }
        storage.append(UInt8(ascii: "\""))
        storage.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func key(dynamic name: String) {
        string(name)
        storage.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String) {
        separate()
        storage.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { text in
            var run = 0  // the start of the bytes not yet copied, which need no escaping
            for (i, byte) in text.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                storage.append(contentsOf: UnsafeBufferPointer(rebasing: text[run..<i]))
                run = i + 1
                switch byte {
                case UInt8(ascii: "\""): storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case 0x0A: storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0D: storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0x09: storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0x08: storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
                case 0x0C: storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    storage.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            storage.append(contentsOf: UnsafeBufferPointer(rebasing: text[run...]))
        }
        storage.append(UInt8(ascii: "\""))
        needsComma = true
    }

    public mutating func number(_ value: Int) {
        separate()
        storage.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    /// As JSONEncoder writes a finite Double: its shortest description, without a trailing ".0". Most figures
    /// here are rounded to a few places (rates to five, percentage points to two), and those are written from
    /// their digits without making a `String` (a comparison writes 1,500 numbers; its JSON's largest cost).
    public mutating func number(_ value: Double) {
        separate()
        if !shortDecimal(value) { numberByDescription(value) }
        needsComma = true
    }

    /// `value` written with the fewest decimal places, up to six, that give it back exactly — which is what
    /// `description` writes: between 1e-4 and 1e9 it writes positional digits, and there decimals 10⁻⁶ apart are
    /// more than an ulp apart, so at most one decimal of six places is `value`, and any shorter one that is would
    /// be that one without its trailing zeros. False, writing nothing, for anything else (zero, NaN, infinities,
    /// more places, other magnitudes).
    mutating func shortDecimal(_ value: Double) -> Bool {
        let magnitude = value.magnitude
        guard magnitude >= 1e-4, magnitude < 1e9 else { return false }
        // Rounded half away from zero from the truncated whole part, whose difference from the value is exact
        // below 2⁵² (no call to `round`).
        let scaled = magnitude * 1e6
        var millionths = UInt64(scaled)
        if scaled - Double(millionths) >= 0.5 { millionths += 1 }
        guard Double(millionths) / 1e6 == magnitude else { return false }
        var fraction = millionths % 1_000_000
        var places = 6
        while places > 0, fraction % 10 == 0 {
            fraction /= 10
            places -= 1
        }
        if value.sign == .minus { storage.append(UInt8(ascii: "-")) }
        appendDigits(millionths / 1_000_000, width: 1)
        if places > 0 {
            storage.append(UInt8(ascii: "."))
            appendDigits(fraction, width: places)
        }
        return true
    }

    /// `value`'s decimal digits, with leading zeros to `width`.
    @inline(__always)
    mutating func appendDigits(_ value: UInt64, width: Int) {
        var length = 1
        var rest = value / 10
        while rest > 0 {
            length += 1
            rest /= 10
        }
        length = max(length, width)
        let start = storage.count
        storage.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: length))
        rest = value
        for place in stride(from: start + length - 1, through: start, by: -1) where rest > 0 {
            storage[place] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        }
    }

    /// `value.description` without a trailing ".0" (what JSONEncoder writes).
    mutating func numberByDescription(_ value: Double) {
        var text = value.description
        text.withUTF8 { digits in
            let integral = digits.count > 2 && digits[digits.count - 2] == UInt8(ascii: ".") && digits[digits.count - 1] == UInt8(ascii: "0")
            storage.append(contentsOf: integral ? UnsafeBufferPointer(rebasing: digits.dropLast(2)) : digits)
        }
    }

    public mutating func null() {
        separate()
        storage.append(contentsOf: "null".utf8)
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        separate()
        storage.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    @inlinable
    mutating func separate() {
        if needsComma { storage.append(UInt8(ascii: ",")) }
    }

    /// The JSON text.
    public var text: String { String(decoding: storage, as: UTF8.self) }
}

extension JSONValue {
    /// Writes the value as `JSONEncoder` with sorted keys does (an import writes every row's payload this way).
    public func write(_ o: inout JSONOutput) {
        switch self {
        case .object(let members):
            o.object { o in
                for key in members.keys.sorted() {
                    o.key(dynamic: key)
                    members[key]!.write(&o)
                }
            }
        case .array(let items): o.array(items) { o, item in item.write(&o) }
        case .string(let value): o.string(value)
        case .integer(let value): o.number(Int(value))
        case .number(let value): o.number(value)
        case .bool(let value): o.bool(value)
        case .null: o.null()
        }
    }

    /// The value's JSON text, keys sorted.
    public var jsonText: String {
        var out = JSONOutput(capacity: 256)
        write(&out)
        return out.text
    }
}
