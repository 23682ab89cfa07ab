@testable import SENCore
import SENTestSupport
import Testing

/// Validation and the payload visit only the fields a return gives (most returns give three of the catalogue's 94):
/// the rows' fields sorted by catalogue position, and each cross-field rule skipped when its group is absent.
@Suite struct SparseReturnTests {
    /// A rule is skipped only when none of the keys it reads is present, so every key a rule reads must mark its
    /// group; a key that marked no group, or another, would switch its rule off.
    @Test func everyKeyACrossFieldRuleReadsMarksItsGroup() {
        for key in CrossFieldKeys.needs.joined() {
            let given = CrossFieldKeys.Given([key])
            #expect(given.needs && !given.yearGroups && !given.progress && !given.senco, "\(key)")
        }
        for group in CrossFieldKeys.yearGroups {
            for key in [group.roll, group.support, group.ehc] {
                let given = CrossFieldKeys.Given([key])
                #expect(given.yearGroups && !given.needs && !given.progress && !given.senco, "\(key)")
            }
        }
        for keys in CrossFieldKeys.progress.joined() {
            for key in [keys.assessed, keys.expected] {
                let given = CrossFieldKeys.Given([key])
                #expect(given.progress && !given.needs && !given.yearGroups && !given.senco, "\(key)")
            }
        }
        for key in ["senco.national_award", "senco.award_since"] {
            #expect(CrossFieldKeys.Given([key]).senco)
        }
        // The three required fields mark no group: a minimal return runs only the roll's rules.
        let required = CrossFieldKeys.Given(ReturnField.required)
        #expect(!required.needs && !required.yearGroups && !required.progress && !required.senco)
        // Every key the rules read is in the catalogue, so validation keeps it.
        let catalogue = Set(ReturnField.all.map(\.key))
        let read = CrossFieldKeys.needs.joined() + CrossFieldKeys.yearGroups.flatMap { [$0.roll, $0.support, $0.ehc] }
            + CrossFieldKeys.progress.joined().flatMap { [$0.assessed, $0.expected] }
        #expect(read.allSatisfy(catalogue.contains))
    }

    /// Issues come in catalogue order, whatever order the row's dictionary gives its fields in.
    @Test func issuesComeInCatalogueOrder() {
        let bad = ["pupils_on_roll", "ehc_plan", "primary_need.ASD.ehc_plan", "year_groups.Y3.sen_support", "senco.on_slt",
                   "senco.hours_per_week", "progress.ehc_plan.maths.assessed", "primary_need.SPLD.sen_support"]
        for seed in 0..<20 {
            var generator = SplitMix64(seed: UInt64(seed))
            var raw: [String: RawField] = ["sen_support": .text("1")]
            for key in bad.shuffled(using: &generator) { raw[key] = .text("x") }
            guard case .failure(let issues) = SENReturnValidator.validate(raw) else {
                Issue.record("accepted")
                return
            }
            let order = ReturnField.all.map(\.key).filter(Set(bad).contains)
            #expect(issues.map(\.key) == order)
        }
    }

    @Test func anAwardInProgressNeedsTheDateItStarted() {
        var raw: [String: RawField] = ["pupils_on_roll": .text("200"), "sen_support": .text("30"), "ehc_plan": .text("7"),
                                       "senco.national_award": .text("in_progress")]
        guard case .failure(let issues) = SENReturnValidator.validate(raw) else {
            Issue.record("accepted without a start date")
            return
        }
        #expect(issues.map(\.key) == ["senco.award_since"] && issues.map(\.code) == ["required"])
        raw["senco.award_since"] = .text("2025-09-01")
        #expect((try? SENReturnValidator.validate(raw).get()) != nil)
    }

    /// The payload of a return with a field outside the catalogue is written the general way, with that field.
    @Test func aFieldOutsideTheCatalogueStillReachesThePayload() {
        let value = SENReturn(fields: ["pupils_on_roll": .count(3), "zz.extra": .bool(true), "sen_support": .count(1)])
        #expect(value.jsonText == value.json.jsonText)
        #expect(value.jsonText.contains(#""zz":{"extra":true}"#))
    }
}
