/// Markup (SVG, HTML) written straight into bytes: a national funnel is 25,000 points, each a few hundred bytes of
/// coordinates, names and links, and writing them by string interpolation — a `String` for every number, then
/// appended — was most of its time (Docs/performance.md). The numbers are written as `String(Double)` writes the
/// same rounded values (`decimal`), so the output is what the interpolated version wrote.
///
/// The bytes are kept in memory of its own rather than an `Array`, whose every `append` checks uniqueness and
/// capacity: here one check of the room left per write.
public struct MarkupOutput: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    public private(set) var count = 0
    /// `&apos;` in SVG; `&#39;` in HTML, as swift-mustache (and `MarkupText.escape`) write it.
    private let apostrophe: StaticString

    public init(capacity: Int, apostrophe: StaticString = "&apos;") {
        self.capacity = max(64, capacity)
        self.apostrophe = apostrophe
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// What was written, as an array.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// What was written, as text (it is UTF-8: only strings and ASCII are written).
    public var string: String { String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self) }

    public mutating func removeAll() { count = 0 }

    @inline(__always)
    private mutating func reserve(_ more: Int) {
        if count + more > capacity { grow(count + more) }
    }

    private mutating func grow(_ needed: Int) {
        let larger = max(needed, capacity * 2)
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: larger)
        moved.update(from: base, count: count)
        base.deallocate()
        base = moved
        capacity = larger
    }

    @inline(__always)
    private mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    public mutating func append(_ buffer: UnsafeBufferPointer<UInt8>) {
        guard let start = buffer.baseAddress, !buffer.isEmpty else { return }
        reserve(buffer.count)
        // Most pieces are a few bytes: copied here rather than by a call to memmove.
        if buffer.count <= 16 {
            for i in 0..<buffer.count { base[count + i] = start[i] }
        } else {
            (base + count).update(from: start, count: buffer.count)
        }
        count += buffer.count
    }

    /// Another output's bytes (a name written once and used twice).
    public mutating func append(_ other: borrowing MarkupOutput) {
        append(UnsafeBufferPointer(start: other.base, count: other.count))
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    /// Markup as it is: the caller's own tags and attribute names.
    @inline(__always)
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { append($0) }
    }

    /// Text known to need no escaping (colours, numbers made here). Not an overload of `raw`: a literal in a
    /// conditional (`a ? "x" : "y"`) would be taken as a `String`.
    public mutating func rawString(_ text: String) {
        var text = text
        text.withUTF8 { append($0) }
    }

    /// Text in an attribute or element: `< > & " '` escaped, as `MarkupText.escape` does (with this output's
    /// apostrophe).
    public mutating func text(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            var run = 0
            for (i, byte) in utf8.enumerated() {
                let entity: StaticString
                switch byte {
                case UInt8(ascii: "<"): entity = "&lt;"
                case UInt8(ascii: ">"): entity = "&gt;"
                case UInt8(ascii: "&"): entity = "&amp;"
                case UInt8(ascii: "\""): entity = "&quot;"
                case UInt8(ascii: "'"): entity = apostrophe
                default: continue
                }
                append(UnsafeBufferPointer(rebasing: utf8[run..<i]))
                raw(entity)
                run = i + 1
            }
            append(UnsafeBufferPointer(rebasing: utf8[run...]))
        }
    }

    public mutating func int(_ value: Int) {
        if value < 0 { append(UInt8(ascii: "-")) }
        digits(value.magnitude)
    }

    /// `rounded / 10^places` as `String(Double)` writes it, for `rounded` a whole number (the value already
    /// scaled and rounded, as the caller computed it): at least one decimal, no trailing zeros after the first
    /// ("12.0", "0.25", "-0.0").
    public mutating func decimal(_ rounded: Double, places: Int) {
        let unit: UInt = places == 1 ? 10 : places == 2 ? 100 : 1000
        // Beyond exact integers (and NaN, infinities), or not whole: written as Swift writes it.
        guard rounded.isFinite, rounded.magnitude < 1e15, rounded == rounded.rounded() else {
            rawString(String(rounded / Double(unit)))
            return
        }
        if rounded.sign == .minus { append(UInt8(ascii: "-")) }
        let whole = UInt(rounded.magnitude)
        digits(whole / unit)
        var fraction = whole % unit
        var width = places
        while width > 1, fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        // The point and the fraction's digits, with its leading zeros ("0.05").
        reserve(width + 1)
        base[count] = UInt8(ascii: ".")
        for place in stride(from: width, to: 0, by: -1) {
            base[count + place] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: fraction % 10)
            fraction /= 10
        }
        count += width + 1
    }

    /// A coordinate: `String((value * 10).rounded() / 10)`.
    public mutating func f(_ value: Double) {
        // Coordinates are positive and small: rounded half away from zero (as `rounded()`) from the truncated whole
        // part, whose difference from the value is exact, then written as whole tenths; anything else as before.
        let scaled = value * 10
        guard value.sign == .plus, scaled < 1e15 else {
            decimal(scaled.rounded(), places: 1)
            return
        }
        var tenths = UInt(scaled)
        if scaled - Double(tenths) >= 0.5 { tenths += 1 }
        digits(tenths / 10)
        reserve(2)
        base[count] = UInt8(ascii: ".")
        base[count + 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: tenths % 10)
        count += 2
    }

    private mutating func digits(_ value: UInt) {
        var length = 1
        var power: UInt = 10
        while length < 20, value >= power {
            length += 1
            if power > UInt.max / 10 { break }
            power *= 10
        }
        reserve(length)
        var rest = value
        for place in stride(from: length - 1, through: 0, by: -1) {
            base[count + place] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        }
        count += length
    }
}
