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

    @Test func everyControlCharacterIsEscaped() throws {
        let text = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        let written = JSONValue.string(text).jsonText
        #expect(!written.utf8.contains { $0 < 0x20 })
        #expect(try JSONDecoder().decode(String.self, from: Data(written.utf8)) == text)
    }
}
