import Foundation
import SENCore
import Testing

@Suite struct NationalDatasetTests {
    static let reference: NationalDataset.ReferenceRates = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SQL/reference/sen_rates_england_2016_2025.csv")
        return try! NationalDataset.ReferenceRates(csv: Array(try! Data(contentsOf: url)))
    }()

    func make(seed: UInt64 = 1) -> NationalDataset {
        NationalDataset(.init(schools: 3_000, trusts: 300, years: 2, lastStartYear: 2025, seed: seed), reference: Self.reference)
    }

    @Test func theSameSeedGivesTheSameBytesAndAnotherSeedDoesNot() {
        let a = make(), b = make(), c = make(seed: 2)
        let term = AcademicTerm("2025-26-spring")!
        #expect(a.giasCSV() == b.giasCSV())
        #expect(a.returnsCSV(trust: 0, term: term) == b.returnsCSV(trust: 0, term: term))
        #expect(a.giasCSV() != c.giasCSV())
    }

    /// The register file reads back through the GIAS reader as the same schools, trusts and phases.
    @Test func theRegisterFileReadsBack() throws {
        let d = make()
        let read = try GIASRegisterReader.read(Array(d.giasCSV().utf8))
        #expect(read.rejections.isEmpty, "\(read.rejections.prefix(3))")
        #expect(read.entries.map(\.urn) == d.schools.map(\.urn))
        #expect(read.entries.map(\.phase) == d.schools.map(\.phase))
        #expect(Set(read.entries.compactMap(\.trustCode)).count == 300)
    }

    @Test func shapeAsAsked() {
        let d = make()
        #expect(d.schools.count == 3_000)
        #expect(Set(d.schools.map(\.trust)).count == 300, "every trust has a school")
        #expect(d.schools.filter { $0.trust == 0 }.count == 100, "the benchmark's 100-school trust")
        #expect(Set(d.schools.map(\.urn)).count == 3_000)
        #expect(d.terms.map(\.description) == ["2024-25-autumn", "2024-25-spring", "2024-25-summer", "2025-26-autumn", "2025-26-spring", "2025-26-summer"])
        // Spread over many real LAs, mostly primary, as in England.
        #expect(Set(d.schools.map(\.localAuthority.code)).count > 100)
        let primary = Double(d.schools.filter { $0.phase == .primary }.count) / 3_000
        #expect((0.65...0.75).contains(primary))
    }

    /// Rates centre on the published ones, with more spread between schools than binomial noise alone.
    @Test func ratesAreAroundThePublishedOnesAndOverdispersed() {
        let d = make()
        let term = AcademicTerm("2024-25-autumn")!
        let primaries = zip(d.schools, d.figures(term)).filter { $0.0.phase == .primary }.map(\.1)
        let k = primaries.map(\.senSupport).reduce(0, +), n = primaries.map(\.pupilsOnRoll).reduce(0, +)
        let pooled = Double(k) / Double(n)
        #expect((0.10...0.17).contains(pooled), "England's primary SEN support rate is about 13-14% (got \(pooled))")
        // Dispersion: mean squared z against the pooled rate; binomial noise alone gives about 1.
        let phi = primaries.map { f -> Double in
            let p = pooled, n = Double(f.pupilsOnRoll)
            let z = (Double(f.senSupport) / n - p) / (p * (1 - p) / n).squareRoot()
            return z * z
        }.reduce(0, +) / Double(primaries.count)
        #expect(phi > 2, "overdispersed (phi \(phi))")
        for f in d.figures(term) {
            #expect(f.senSupport + f.ehcPlan <= f.pupilsOnRoll)
        }
    }

    /// Spring returns carry primary needs that add up to the totals, as the validator requires.
    @Test func springNeedsAddUpAndTheFilesPassTheValidator() throws {
        let d = make()
        for term in [AcademicTerm("2025-26-spring")!, AcademicTerm("2025-26-autumn")!] {
            let csv = d.returnsCSV(trust: 0, term: term)
            let parsed = ReturnsCSV.read(Array(csv.utf8))
            guard case .success(let rows) = parsed else {
                Issue.record("the generated file does not import: \(parsed)")
                continue
            }
            #expect(rows.count == 100)
        }
        for f in d.figures(AcademicTerm("2025-26-spring")!) {
            let needs = try #require(f.needs)
            #expect(needs.values.map(\.senSupport).reduce(0, +) == f.senSupport)
            #expect(needs.values.map(\.ehcPlan).reduce(0, +) == f.ehcPlan)
        }
    }
}
