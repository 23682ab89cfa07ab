import Foundation
import Testing

@testable import SENCore

/// `JSONOutput` writes what JSONEncoder with sorted keys and unescaped slashes writes, so a return's payload is stored
/// the same whichever wrote it.
@Suite struct JSONOutputTests {
    static let awkward = [
        "", "plain", "quote \" and backslash \\", "slash / stays", "new\nline\ttab\rreturn", "bell \u{7} and \u{1F} and \u{0}",
        "back\u{8}space form\u{C}feed", "é ü ñ — “curly” 😀", "\\u0041 is not an escape here", "del \u{7F}",
    ]

    func sample(_ seed: Int) -> JSONValue {
        var random = seed
        func next(_ n: Int) -> Int {
            random = (random &* 1_103_515_245 &+ 12_345) & 0x7fff_ffff
            return random % n
        }
        func value(_ depth: Int) -> JSONValue {
            switch next(depth > 2 ? 5 : 7) {
            case 0: return .string(Self.awkward[next(Self.awkward.count)])
            case 1: return .integer(Int64(next(2_000_000)) - 1_000_000)
            case 2: return .number(Double(next(1_000_000)) / 7 + 0.5)
            case 3: return .bool(next(2) == 0)
            case 4: return .null
            case 5: return .array((0..<next(4)).map { _ in value(depth + 1) })
            default:
                return .object(
                    Dictionary((0..<next(5)).map { i in ("k\(next(50))_\(i)", value(depth + 1)) }, uniquingKeysWith: { a, _ in a }))
            }
        }
        return .object(["root": value(0), "pupils_on_roll": .integer(Int64(next(900))), "note": .string(Self.awkward[seed % Self.awkward.count])])
    }

    @Test(arguments: 0..<40)
    func sameTextAsJSONEncoder(_ seed: Int) throws {
        let value = sample(seed)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let expected = String(decoding: try encoder.encode(value), as: UTF8.self)
        #expect(value.jsonText == expected)
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(value.jsonText.utf8)) == value)
    }

    /// Numbers rounded to a few places are written from their digits (`shortDecimal`): exactly as
    /// `description` (and JSONEncoder) writes them, at and across every boundary of that path — the smallest and
    /// largest magnitudes it takes, six places and seven, halves, negative values, zero and what it leaves alone.
    @Test func roundedNumbersAreWrittenAsTheirDescription() throws {
        var random = SplitMix64(seed: 17)
        var values: [Double] = [
            0, -0.0, 1, -1, 0.5, 1e-4, -1e-4, 1e-4.nextDown, 1e-4.nextUp, 0.00012, 0.000123456, 1e9, 1e9.nextDown, -1e9.nextDown,
            999_999_999.5, 999_999_999.999999, 123_456_789.123456, 0.1, 0.2, 0.3, 0.1 + 0.2, 2.675, 1.005, 14.8, 0.148, 0.05398, 52.096,
            .pi, -.pi, 1.0 / 3.0, 2.0 / 3.0, 1e-7, 1e15, 4.35, 0.07, 100.25, .infinity, -.infinity, .nan, .ulpOfOne, .leastNonzeroMagnitude,
        ]
        for _ in 0..<200_000 {
            let places = Int(random.next() % 9)
            let magnitude = [1e-5, 1e-3, 0.1, 1, 100, 1e5, 1e8, 1e10][Int(random.next() % 8)]
            let raw = (random.unit() - 0.3) * magnitude
            let scale = pow(10, Double(places))
            values.append(random.next() % 5 == 0 ? raw : (raw * scale).rounded() / scale)
        }
        var taken = 0
        for value in values {
            var fast = JSONOutput()
            let wrote = fast.shortDecimal(value)
            var described = JSONOutput()
            described.numberByDescription(value)
            if wrote {
                taken += 1
                #expect(fast.bytes == described.bytes, "\(value): \(String(decoding: fast.bytes, as: UTF8.self))")
            } else {
                #expect(fast.bytes.isEmpty)
            }
            var both = JSONOutput()
            both.number(value)
            #expect(both.bytes == described.bytes)
        }
        #expect(taken > values.count / 3, "a good share of values took the digits' path (\(taken) of \(values.count))")
    }

    @Test func everyControlCharacterIsEscaped() throws {
        let text = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        let written = JSONValue.string(text).jsonText
        #expect(!written.utf8.contains { $0 < 0x20 })
        #expect(try JSONDecoder().decode(String.self, from: Data(written.utf8)) == text)
    }
}

/// `Hex.lowercase` writes what `String(format: "%02x")` wrote for each byte (stored migration checksums compare
/// against it).
@Suite struct HexTests {
    @Test func everyByteAsFormatWroteIt() {
        let bytes = (0...255).map(UInt8.init) + [0, 1, 0xAB, 0xFF, 0x10]
        #expect(Hex.lowercase(bytes) == bytes.map { String(format: "%02x", $0) }.joined())
        #expect(Hex.lowercase([UInt8]()) == "")
        #expect(Hex.lowercase([0x0F, 0xA0]) == "0fa0")
    }
}
