import SENCore
import SENTestSupport
import Testing

@Suite struct DisclosureControlTests {
    typealias Cell = DisclosureControl.Cell

    func cell(_ key: String, _ parent: String? = nil, units: Int, schools: Int = 5, trusts: Int = 3, value: Int = 0) -> Cell {
        Cell(key: key, parent: parent, units: units, schools: schools, trusts: trusts, values: ["yes": value])
    }

    @Test func thresholdsSuppressSmallCells() {
        let cells = [
            cell("a", units: 9), cell("b", units: 50, schools: 2), cell("c", units: 50, trusts: 1), cell("d", units: 50),
            cell("e", units: 60),
        ]
        let total = cell("all", units: 219, schools: 20, trusts: 5)
        let result = DisclosureControl.control(cells, total: total)
        #expect(result.cells.map(\.suppression) == [.primary, .primary, .primary, nil, nil])
    }

    @Test func aLoneHiddenCellGetsAComplement() {
        let cells = [cell("a", units: 5), cell("b", units: 40), cell("c", units: 30), cell("d", units: 80)]
        let result = DisclosureControl.control(cells, total: cell("all", units: 155, schools: 20))
        #expect(result.cells.map(\.suppression) == [.primary, nil, .complementary, nil], "c is the smallest shown cell")
        #expect(DisclosureControl.recoverable(result.cells, totalShown: true).isEmpty)
        // Without a shown total there is no margin to subtract from.
        let noTotal = DisclosureControl.control(cells, total: cell("all", units: 155, schools: 2))
        #expect(noTotal.cells.map(\.suppression) == [.primary, nil, nil, nil])
    }

    @Test func everyParentGroupIsProtected() {
        // LAs within regions: the regional figures are shown by another query, so each region needs 0 or 2+.
        let cells = [
            cell("la1", "north", units: 4), cell("la2", "north", units: 40), cell("la3", "north", units: 60),
            cell("la4", "south", units: 40), cell("la5", "south", units: 45),
        ]
        let result = DisclosureControl.control(cells, total: cell("all", units: 189, schools: 25))
        #expect(result.cells.map(\.suppression) == [.primary, .complementary, nil, nil, nil])
        #expect(DisclosureControl.recoverable(result.cells, totalShown: true).isEmpty)
    }

    @Test func shownCountsAreRoundedToFiveAndPercentagesComeFromTheRoundedCounts() {
        let result = DisclosureControl.control([cell("a", units: 47, value: 13), cell("b", units: 52, value: 22)], total: nil)
        #expect(result.cells[0].units == 45 && result.cells[0].values == ["yes": 15])
        #expect(result.cells[1].units == 50 && result.cells[1].values == ["yes": 20])
        #expect(result.cells[0].percent("yes") == 33.3)
    }

    /// Property: over random tables, no shown cell breaks a threshold and no hidden cell can be recovered from the
    /// margins of its group.
    @Test func randomTablesNeverExposeAHiddenCell() {
        var generator = SplitMix64(seed: 20_261_129)
        for _ in 0..<2_000 {
            let regions = Int.random(in: 1...4, using: &generator)
            var cells: [Cell] = []
            for r in 0..<regions {
                for l in 0..<Int.random(in: 1...5, using: &generator) {
                    let schools = Int.random(in: 1...8, using: &generator)
                    cells.append(
                        Cell(
                            key: "la\(r)-\(l)", parent: "region\(r)", units: Int.random(in: 0...60, using: &generator),
                            schools: schools, trusts: Int.random(in: 1...min(schools, 4), using: &generator),
                            values: ["yes": Int.random(in: 0...20, using: &generator)]))
                }
            }
            let total = Cell(
                key: "all", parent: nil, units: cells.map(\.units).reduce(0, +), schools: cells.map(\.schools).reduce(0, +),
                trusts: 5, values: [:])
            let result = DisclosureControl.control(cells, total: total)
            for (original, controlled) in zip(cells, result.cells) where controlled.suppression == nil {
                #expect(DisclosureControl.passes(original, DisclosureControl.Rules()))
                #expect(controlled.units! % 5 == 0)
            }
            let totalShown = result.total.map { $0.suppression == nil } ?? false
            let exposed = DisclosureControl.recoverable(result.cells, totalShown: totalShown)
            #expect(exposed.isEmpty)
        }
    }
}

@Suite struct PoolForMemberTests {
    /// One pupil with PMLD in the trust and none in one's own school puts that pupil in another school: hidden, and
    /// another need hidden with it.
    @Test func otherSchoolsSmallCountsAreHidden() {
        let pooled = ["ASD": 60, "SLCN": 44, "PMLD": 1, "MLD": 23, "HI": 12]
        let own = ["ASD": 10, "SLCN": 4, "PMLD": 0, "MLD": 3, "HI": 1]
        let shown = DisclosureControl.poolForMember(own: own, pooled: pooled)
        #expect(shown["PMLD"] == .some(nil))
        #expect(shown["HI"] == .some(nil), "the smallest other need (11 elsewhere), hidden as the complement")
        #expect(shown["ASD"] == .some(60) && shown["SLCN"] == .some(45) && shown["MLD"] == .some(25), "rounded to 5")
        // Judged on the other schools' part: 12 in the pool of which 11 are one's own leaves 1 elsewhere.
        let mostlyMine = DisclosureControl.poolForMember(own: ["HI": 11, "ASD": 0], pooled: ["HI": 12, "ASD": 40])
        #expect(mostlyMine["HI"] == .some(nil))
    }

    /// Property over random pools: every shown count has at least 10 pupils outside one's own school and is a
    /// multiple of 5 within 2 of the truth, and never exactly one category is hidden.
    @Test func randomPools() {
        var random = SplitMix64(seed: 11)
        for _ in 0..<2_000 {
            let keys = ["a", "b", "c", "d", "e", "f"].prefix(2 + Int(random.next() % 5))
            var pooled: [String: Int] = [:]
            var own: [String: Int] = [:]
            for key in keys {
                let total = Int(random.next() % 40)
                pooled[key] = total
                own[key] = total == 0 ? 0 : Int(random.next() % UInt64(total + 1))
            }
            let shown = DisclosureControl.poolForMember(own: own, pooled: pooled)
            #expect(shown.values.filter { $0 == nil }.count != 1)
            for key in keys {
                guard let value = shown[key] ?? nil else { continue }
                #expect(pooled[key]! - own[key]! >= 10)
                #expect(value % 5 == 0 && abs(value - pooled[key]!) <= 2)
            }
        }
    }
}

@Suite struct DiscreteLaplaceTests {
    /// Mean 0; variance 2e^{−ε}/(1 − e^{−ε})²; P(0) = (1 − e^{−ε})/(1 + e^{−ε}). 40,000 draws.
    @Test(arguments: [0.5, 1.0, 2.0])
    func noiseFollowsItsDistribution(_ epsilon: Double) {
        var generator = SplitMix64(seed: 7)
        let draws = (0..<40_000).map { _ in DiscreteLaplace.sample(epsilon: epsilon, using: &generator) }
        let mean = Double(draws.reduce(0, +)) / Double(draws.count)
        let variance = draws.map { (Double($0) - mean) * (Double($0) - mean) }.reduce(0, +) / Double(draws.count)
        let expected = DiscreteLaplace.variance(epsilon: epsilon)
        #expect(abs(mean) < 4 * (expected / Double(draws.count)).squareRoot())
        #expect(abs(variance / expected - 1) < 0.06)
        let q = exp(-epsilon)
        let zeroShare = Double(draws.filter { $0 == 0 }.count) / Double(draws.count)
        #expect(abs(zeroShare - (1 - q) / (1 + q)) < 0.015)
        #expect(draws.filter { $0 > 0 }.count - draws.filter { $0 < 0 }.count < draws.count / 50, "symmetric")
    }
}

@Suite struct SurveyValidatorTests {
    let instrument = Instrument(
        code: "test_instrument", version: 1, title: "Test", audience: "pupils",
        items: [
            .init(code: "feel_safe", text: "I feel safe.", options: ["no", "yes"]),
            .init(code: "support", text: "Support", options: ["counsellor", "none"], multiple: true),
        ])

    func issues(_ body: JSONValue) -> [ReturnIssue] {
        if case .failure(let issues) = SurveyValidator.validate(body, instrument: instrument) { return issues }
        return []
    }

    @Test func validCountsPass() throws {
        let body: JSONValue = .object([
            "respondents": .integer(30),
            "items": .object(["feel_safe": .object(["no": .integer(5), "yes": .integer(24)]), "support": .object(["counsellor": .integer(20), "none": .integer(15)])]),
            "year_groups": .object(["Y7": .object(["respondents": .integer(10), "items": .object(["feel_safe": .object(["yes": .integer(10)])])])]),
        ])
        let counts = try SurveyValidator.validate(body, instrument: instrument).get()
        #expect(counts.respondents == 30 && counts.items["feel_safe"]?["yes"] == 24 && counts.yearGroups["Y7"]?.respondents == 10)
    }

    @Test func everyProblemIsNamed() {
        let body: JSONValue = .object([
            "respondents": .integer(10),
            "comments": .string("free text"),
            "items": .object([
                "feel_safe": .object(["no": .integer(6), "yes": .integer(6)]),
                "support": .object(["counsellor": .integer(11), "unicorn": .integer(1)]),
                "favourite_colour": .object(["red": .integer(1)]),
            ]),
            "year_groups": .object(["Y15": .object([:])]),
        ])
        let keys = Set(issues(body).map(\.key))
        #expect(keys == ["comments", "items.feel_safe", "items.support.counsellor", "items.support.unicorn", "items.favourite_colour", "year_groups.Y15"])
        #expect(issues(.object(["items": .object([:])])).map(\.key) == ["respondents"])
        #expect(issues(.object(["respondents": .integer(-1), "items": .object([:])])).map(\.code) == ["minimum"])
    }

    @Test func instrumentDefinitionsAreChecked() {
        #expect(instrument.problems().isEmpty)
        let bad = Instrument(code: "Bad Code", version: 0, title: "", audience: "parents", items: [.init(code: "x1", text: "", options: ["a"])])
        #expect(Set(bad.problems().map(\.pointer)) == ["/code", "/version", "/audience", "/title", "/items/0/options", "/items/0/text"])
    }
}

#if canImport(Glibc)
import Glibc
#endif
