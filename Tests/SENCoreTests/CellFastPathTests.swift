@testable import SENCore
import Testing

/// The validator's fast paths for a cell: trimming when there is nothing to trim, and reading plain digits.
@Suite struct CellFastPathTests {
    /// The trimming as it was before its fast path, character by character.
    static func trimmedByCharacters(_ s: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = s.firstIndex(where: { !isSpace($0) }), let end = s.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(s[start...end])
    }

    @Test func trimmingAgreesWithTheCharacterByCharacterWay() {
        let pieces = ["", " ", "\t", "\r", "\n", "\r\n", "1", "42", "a", "é", "e\u{301}", " \u{301}", "\u{A0}", "x y", "٣"]
        var count = 0
        for a in pieces { for b in pieces { for c in pieces {
            let s = a + b + c
            #expect(s.trimmingASCIIWhitespace() == Self.trimmedByCharacters(s), "\(Array(s.unicodeScalars))")
            count += 1
        } } }
        #expect(count == pieces.count * pieces.count * pieces.count)
    }

    @Test func plainDigitsAreReadAndNothingElseIs() {
        for n in [0, 1, 7, 10, 99, 400, 10_000, 10_001, 123_456_789, 999_999_999_999_999] {
            #expect(SENReturnValidator.plainDigits(String(n)) == n)
        }
        #expect(SENReturnValidator.plainDigits("007") == 7)
        for text in ["", "-1", "+1", "1.0", "1e3", " 1", "1 ", "١٢", "1_000", "1000000000000000", "0x10", "½"] {
            #expect(SENReturnValidator.plainDigits(text) == nil, "\(text)")
        }
        // Through the validator: the same values and issues either way.
        let checked = SENReturnValidator.validate(["pupils_on_roll": .text("0400"), "sen_support": .text(" 30 "), "ehc_plan": .text("7")])
        guard case .success(let value) = checked else { Issue.record("0400 pupils refused"); return }
        #expect(value.fields["pupils_on_roll"] == .count(400) && value.fields["sen_support"] == .count(30))
        let over = SENReturnValidator.validate(["pupils_on_roll": .text("10001"), "sen_support": .text("1"), "ehc_plan": .text("1")])
        guard case .failure(let issues) = over else { Issue.record("10001 pupils accepted"); return }
        #expect(issues.map(\.code) == ["maximum"] && issues.first?.message == "pupils_on_roll must be at most 10000")
    }
}
