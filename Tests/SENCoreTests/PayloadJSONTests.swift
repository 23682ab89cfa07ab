@testable import SENCore
import Testing

/// `SENReturn.jsonText`, written by walking the catalogue's fields, against `json.jsonText`, which builds the
/// nested dictionaries and sorts them: the stored payload must not change with the faster path.
@Suite struct PayloadJSONTests {
    static func randomValue(_ kind: ReturnField.Kind, _ g: inout SystemRandomNumberGenerator) -> FieldValue {
        switch kind {
        case .count(let limit): .count(Int.random(in: 0...limit, using: &g))
        case .decimal(let limit):
            Bool.random(using: &g) ? .decimal(Double(Int.random(in: 0...Int(limit), using: &g))) : .decimal(Double.random(in: 0...limit, using: &g))
        case .bool: .bool(Bool.random(using: &g))
        case .date: .date(CalendarDate(year: Int.random(in: 2000...2030, using: &g), month: Int.random(in: 1...12, using: &g), day: Int.random(in: 1...28, using: &g))!)
        case .choice(let options): .choice(options.randomElement(using: &g)!)
        }
    }

    @Test func randomReturnsAreWrittenAsTheirNestedJSON() {
        var g = SystemRandomNumberGenerator()
        #expect(PayloadLayout.shared.nestsCleanly)
        #expect(PayloadLayout.shared.leaves.count == ReturnField.all.count)
        for round in 0..<3_000 {
            // Every density: none, a few, about half, and all of the catalogue.
            let share = [0.0, 0.05, 0.5, 1.0][round % 4]
            var fields: [String: FieldValue] = [:]
            for spec in ReturnField.all where Double.random(in: 0..<1, using: &g) < share || share == 1 {
                fields[spec.key] = Self.randomValue(spec.kind, &g)
            }
            let value = SENReturn(fields: fields)
            let fast = value.jsonText
            let nested = value.json.jsonText
            #expect(fast == nested)
            if fast != nested { return }
        }
        #expect(SENReturn(fields: [:]).jsonText == "{}")
    }

    /// A field outside the catalogue, and a catalogue where one key is another's parent, take the nested path.
    @Test func whatTheWalkCannotWriteIsWrittenTheNestedWay() {
        let stray = SENReturn(fields: ["pupils_on_roll": .count(400), "senco.unknown.deep": .bool(true), "zzz": .choice("x")])
        #expect(stray.jsonText == stray.json.jsonText)
        #expect(stray.jsonText.contains("\"unknown\":{\"deep\":true}"))
        let clashing = PayloadLayout(keys: ["a", "a.b", "c"])
        #expect(!clashing.nestsCleanly)
        let both = SENReturn(fields: ["a": .count(1), "a.b": .count(2), "c": .count(3)])
        #expect(both.jsonText(layout: clashing) == both.json.jsonText)
        #expect(both.json.jsonText == "{\"a\":1,\"c\":3}", "the value is kept over the parent")
        #expect(PayloadLayout(keys: ["a.b", "a.c", "b"]).nestsCleanly)
    }
}
