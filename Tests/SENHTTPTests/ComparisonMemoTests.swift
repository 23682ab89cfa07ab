import Foundation
import SENCore
import Testing

@testable import SENHTTP
@testable import SENStore

/// What `ComparisonMemo` keeps, and under which key: a kept comparison may answer only a request that read exactly
/// what it was computed from (BenchmarkAPITests checks the same through the API against PostgreSQL).
@Suite struct ComparisonMemoTests {
    let trust = TrustID("00000000-0000-4000-8000-000000000001")!
    let otherTrust = TrustID("00000000-0000-4000-8000-000000000002")!
    let term = AcademicTerm("2025-26-summer")!
    let rates = ComparatorRates(rates: [:])

    func school(_ urn: Int, name: String = "A School", roll: Int? = 200, senSupport: Int? = 30) -> SchoolFigures {
        SchoolFigures(
            urn: URN(urn)!, name: name, phase: "primary", establishmentType: "academy_converter", laCode: 350, region: "North West",
            pupilsOnRoll: roll, senSupport: senSupport, ehcPlan: roll == nil ? nil : 4)
    }

    func key(
        trust: TrustID? = nil, level: ComparatorLevel = .national, measure: Provision = .senSupport, rates: ComparatorRates? = nil,
        schools: [SchoolFigures]? = nil, lastYearRoll: Int = 190, pooledRoll: Int = 400
    ) -> ComparisonKey {
        let termBefore = term.sameTermLastYear!
        let inputs = ComparisonInputs(
            schools: schools ?? [school(100_001), school(100_002, name: "B School")],
            lastYear: [URN(100_002)!: (roll: lastYearRoll, senSupport: 20, ehcPlan: 3), URN(100_001)!: (roll: 180, senSupport: 25, ehcPlan: 2)],
            pooled: [term: (roll: pooledRoll, senSupport: 60, ehcPlan: 8), termBefore: (roll: 370, senSupport: 45, ehcPlan: 5)])
        return ComparisonKey(trust: trust ?? self.trust, term: term, level: level, measure: measure, rates: rates ?? self.rates, inputs: inputs)
    }

    @Test func theSameFiguresMakeTheSameKeyWhateverOrderTheDictionariesHold() {
        let a = key()
        let b = key()
        #expect(a == b && a.hashValue == b.hashValue)
    }

    @Test func anyDifferenceInWhatWasReadMakesAnotherKey() {
        let base = key()
        let different: [(String, ComparisonKey)] = [
            ("another trust", key(trust: otherTrust)),
            ("another comparator level", key(level: .regional)),
            ("another measure", key(measure: .ehcPlan)),
            ("another reading of the rates", key(rates: ComparatorRates(rates: [:]))),
            ("one school's SEN support", key(schools: [school(100_001, senSupport: 31), school(100_002, name: "B School")])),
            ("one school's roll", key(schools: [school(100_001, roll: 201), school(100_002, name: "B School")])),
            ("a school without its return", key(schools: [school(100_001, roll: nil, senSupport: nil), school(100_002, name: "B School")])),
            ("a school's name", key(schools: [school(100_001, name: "Renamed"), school(100_002, name: "B School")])),
            ("a school more", key(schools: [school(100_001), school(100_002, name: "B School"), school(100_003)])),
            ("last year's roll", key(lastYearRoll: 191)),
            ("a pooled term's roll", key(pooledRoll: 401)),
        ]
        for (what, other) in different {
            #expect(other != base, "\(what)")
        }
    }

    @Test func theLeastRecentlyUsedLeavesFirst() {
        let kept = KeptResults<String, Int>(capacity: 2)
        kept.keep(1, for: "a")
        kept.keep(2, for: "b")
        #expect(kept.value(for: "a") == 1)  // "a" is now the more recent
        kept.keep(3, for: "c")
        #expect(kept.value(for: "b") == nil)
        #expect(kept.value(for: "a") == 1 && kept.value(for: "c") == 3)
        kept.keep(4, for: "c")  // replacing a key sends nothing away
        #expect(kept.count == 2 && kept.value(for: "a") == 1 && kept.value(for: "c") == 4)
    }

    @Test func aCapacityOfNoneKeepsNothing() {
        let kept = KeptResults<String, Int>(capacity: 0)
        kept.keep(1, for: "a")
        #expect(kept.value(for: "a") == nil && kept.count == 0)
    }
}
