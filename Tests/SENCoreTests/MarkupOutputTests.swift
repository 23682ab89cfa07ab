import Foundation
import Testing

@testable import SENCore

/// The funnel's SVG is written into bytes (`MarkupOutput`) where it was interpolated; its numbers must read as
/// `String(Double)` wrote them, and its text be escaped as `MarkupText.escape` does.
@Suite struct MarkupOutputTests {
    static func written(_ body: (inout MarkupOutput) -> Void) -> String {
        var out = MarkupOutput(capacity: 8)  // small, so that writing grows it
        body(&out)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    @Test func decimalsReadAsSwiftWritesThem() {
        var random = SplitMix64(seed: 5)
        var values: [Double] = [0, -0.0, -0.04, 0.05, 0.95, 1, 9.95, 10, 99.99, 123.45, -7.25, 1080, 1e14, 2e15, 1e20, .nan, .infinity, -.infinity]
        for _ in 0..<20_000 {
            let magnitude = [1.0, 10, 1000, 1e6][Int(random.next() % 4)]
            values.append((random.unit() - 0.3) * magnitude)
        }
        for value in values {
            for places in [1, 2, 3] {
                let scale = [1.0, 10, 100, 1000][places]
                let rounded = (value * scale).rounded()
                let ours = Self.written { $0.decimal(rounded, places: places) }
                #expect(ours == String(rounded / scale), "\(value) to \(places) places")
            }
            #expect(Self.written { $0.f(value) } == String((value * 10).rounded() / 10))
        }
        // Coordinates at and either side of a half tenth, where rounding decides the digit.
        for k in 0..<3_000 {
            let half = (Double(k) + 0.5) / 10
            for value in [half, half.nextUp, half.nextDown, Double(k) / 10, (Double(k) / 10).nextDown, 0.049999999999999996] {
                #expect(Self.written { $0.f(value) } == String((value * 10).rounded() / 10), "\(value)")
            }
        }
    }

    @Test func integersAndText() {
        for value in [0, 7, 10, 99, 100, -1, -250, 1_234_567, Int.max, Int.min] {
            #expect(Self.written { $0.int(value) } == String(value))
        }
        for text in ["", "plain", "O'Neil & <Sons> \"é\"", "&&&", "<>", "née 日本 'x'"] {
            #expect(Self.written { $0.text(text) } == MarkupText.escape(text, apostrophe: "&apos;"))
        }
        let long = String(repeating: "abc<", count: 5000)
        #expect(Self.written { $0.raw("<a>"); $0.text(long); $0.raw("</a>") } == "<a>" + MarkupText.escape(long, apostrophe: "&apos;") + "</a>")
    }
}
