#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A deterministic, realistic national dataset for benchmarks (`senstat-server generate`): schools with England's
/// mix of phases and sizes, spread over the real local authorities of the shipped DfE rates, grouped into trusts of
/// skewed sizes (the first has exactly 100 schools, for the comparison benchmark), and termly SEN returns whose
/// rates are drawn around each LA's published rate for the school's phase and year, with between-school
/// overdispersion. The same configuration and seed give the same bytes.
public struct NationalDataset: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var schools: Int
        public var trusts: Int
        public var years: Int
        /// The start year of the last academic year generated (2025 → 2025-26).
        public var lastStartYear: Int
        public var seed: UInt64

        public init(schools: Int = 25_000, trusts: Int = 2_500, years: Int = 10, lastStartYear: Int = 2025, seed: UInt64 = 1) {
            self.schools = schools
            self.trusts = trusts
            self.years = years
            self.lastStartYear = lastStartYear
            self.seed = seed
        }
    }

    public struct LocalAuthority: Sendable, Equatable {
        public let code: Int
        public let name: String
        /// GIAS's region (`GOR (name)`): DfE's Inner and Outer London are both London there.
        public let region: String
    }

    public struct School: Sendable, Equatable {
        public let urn: URN
        public let name: String
        public let phase: Phase
        public let establishmentType: String
        public let localAuthority: LocalAuthority
        public let trust: Int
        public let baseRoll: Int
        /// The school's own multiplier on its LA's rates (the overdispersion between schools).
        let senSupportEffect: Double
        let ehcEffect: Double
    }

    /// One school's figures in one term.
    public struct Figures: Sendable, Equatable {
        public let urn: URN
        public let pupilsOnRoll: Int
        public let senSupport: Int
        public let ehcPlan: Int
        /// By primary need, in the spring census only: code → (SEN support, EHC plan).
        public let needs: [NeedCode: (senSupport: Int, ehcPlan: Int)]?

        public static func == (a: Figures, b: Figures) -> Bool {
            a.urn == b.urn && a.pupilsOnRoll == b.pupilsOnRoll && a.senSupport == b.senSupport && a.ehcPlan == b.ehcPlan
                && a.needs?.mapValues { [$0.senSupport, $0.ehcPlan] } == b.needs?.mapValues { [$0.senSupport, $0.ehcPlan] }
        }
    }

    /// Published rates from the shipped reference file (SQL/reference/sen_rates_england_2016_2025.csv).
    public struct ReferenceRates: Sendable {
        /// "code|phase|provision|year" → proportion; code 970 is England.
        let rates: [String: Double]
        public let localAuthorities: [LocalAuthority]
        let years: ClosedRange<Int>

        public init(csv bytes: [UInt8]) throws {
            var rates: [String: Double] = [:]
            var authorities: [Int: LocalAuthority] = [:]
            var first = Int.max, last = Int.min
            for row in try CSVReader(utf8: bytes).rows().dropFirst() {
                let f = row.fields
                guard f.count >= 8, let year = Int(f[0]), let code = Int(f[2]), let percent = Double(f[7]) else { continue }
                let level = f[1]
                guard level == "national" || level == "local_authority" else { continue }
                rates["\(code)|\(f[5])|\(f[6])|\(year)"] = percent / 100
                (first, last) = (min(first, year), max(last, year))
                if level == "local_authority" {
                    let region = f[4].hasSuffix("London") ? "London" : f[4]
                    authorities[code] = LocalAuthority(code: code, name: f[3], region: region)
                }
            }
            self.rates = rates
            self.localAuthorities = authorities.values.sorted { $0.code < $1.code }
            guard first <= last else { throw CSVFailure(message: "no national or local authority rate in the file") }
            self.years = first...last
        }

        /// The LA's published rate for the phase and the census year nearest `year`, else England's.
        func rate(la: Int, phase: String, provision: Provision, year: Int) -> Double {
            let census = min(max(year, years.lowerBound), years.upperBound)
            return rates["\(la)|\(phase)|\(provision.rawValue)|\(census)"]
                ?? rates["970|\(phase)|\(provision.rawValue)|\(census)"] ?? (provision == .senSupport ? 0.13 : 0.04)
        }
    }

    public struct CSVFailure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public let configuration: Configuration
    public let schools: [School]
    /// Trust codes (`TR` + five digits) and names, by index.
    public let trusts: [(code: String, name: String)]
    let reference: ReferenceRates

    /// Every term generated, oldest first: `years` academic years of three terms.
    public var terms: [AcademicTerm] {
        let first = configuration.lastStartYear - configuration.years + 1
        return (first...configuration.lastStartYear).flatMap { year in
            AcademicTerm.Season.allCases.compactMap { AcademicTerm(startYear: year, season: $0) }
        }
    }

    public init(_ configuration: Configuration, reference: ReferenceRates) {
        precondition(configuration.trusts >= 1 && configuration.schools >= configuration.trusts + 99)
        precondition(!reference.localAuthorities.isEmpty)
        self.configuration = configuration
        self.reference = reference
        var random = SplitMix64(seed: configuration.seed)

        // Trust sizes: the first exactly 100 schools, the rest skewed (log-normal) with at least one school each.
        let rest = configuration.schools - 100
        let weights = (1..<configuration.trusts).map { _ in exp(1.0 * random.normal()) }
        let total = weights.reduce(0, +)
        var sizes = [100] + weights.map { max(1, Int((Double(rest) * $0 / total).rounded(.down))) }
        var index = 1
        while sizes.reduce(0, +) < configuration.schools { sizes[1 + (index % max(1, configuration.trusts - 1))] += 1; index += 1 }
        while sizes.reduce(0, +) > configuration.schools {
            let largest = sizes.indices.dropFirst().max { sizes[$0] < sizes[$1] }!
            sizes[largest] -= 1
        }
        trusts = (0..<configuration.trusts).map { ("TR\(String(10_000 + $0))", "Generated Trust \($0 + 1)") }

        let authorities = reference.localAuthorities
        let byRegion = Dictionary(grouping: authorities, by: \.region)
        var schools: [School] = []
        schools.reserveCapacity(configuration.schools)
        for (trust, size) in sizes.enumerated() {
            let home = authorities[Int(random.unit() * Double(authorities.count))]
            for _ in 0..<size {
                // Most of a trust's schools are in its home LA, the rest elsewhere in its region.
                let neighbours = byRegion[home.region] ?? [home]
                let la = random.unit() < 0.75 ? home : neighbours[Int(random.unit() * Double(neighbours.count))]
                let (phase, type, roll) = Self.drawPhase(&random)
                let urn = URN(100_000 + schools.count)!
                schools.append(
                    School(
                        urn: urn, name: "\(la.name) \(phase == .primary ? "Primary" : phase == .secondary ? "Academy" : "School") \(urn.value)",
                        phase: phase, establishmentType: type, localAuthority: la, trust: trust, baseRoll: roll,
                        senSupportEffect: exp(0.30 * random.normal()), ehcEffect: exp(0.35 * random.normal())))
            }
        }
        self.schools = schools
    }

    /// England's state-funded mix (DfE's Schools, pupils and their characteristics), roughly.
    static func drawPhase(_ random: inout SplitMix64) -> (Phase, String, Int) {
        let u = random.unit()
        func roll(_ mean: Double, _ sd: Double, _ range: ClosedRange<Int>) -> Int {
            min(max(Int((mean + sd * random.normal()).rounded()), range.lowerBound), range.upperBound)
        }
        switch u {
        case ..<0.70: return (.primary, "Academy converter", roll(290, 110, 40...800))
        case ..<0.87: return (.secondary, "Academy converter", roll(1050, 330, 250...2200))
        case ..<0.90: return (.allThrough, "Academy sponsor led", roll(1400, 400, 400...2600))
        case ..<0.95: return (.notApplicable, "Academy special converter", roll(120, 55, 25...350))
        case ..<0.97: return (.notApplicable, "Academy alternative provision converter", roll(55, 30, 8...180))
        default: return (.nursery, "Local authority nursery school", roll(90, 30, 20...200))
        }
    }

    /// The register in GIAS's export format (the columns `import-gias` reads), trusts included.
    public func giasCSV() -> String {
        var out = CSVWriter.line([
            "URN", "EstablishmentName", "LA (code)", "LA (name)", "GOR (name)", "TypeOfEstablishment (name)",
            "EstablishmentTypeGroup (name)", "EstablishmentStatus (name)", "PhaseOfEducation (name)", "OpenDate",
            "NumberOfPupils", "Trusts (code)", "Trusts (name)",
        ])
        for s in schools {
            let gias: String =
                switch s.phase {
                case .primary: "Primary"
                case .secondary: "Secondary"
                case .allThrough: "All-through"
                case .nursery: "Nursery"
                default: "Not applicable"
                }
            out += CSVWriter.line([
                String(s.urn.value), s.name, String(s.localAuthority.code), s.localAuthority.name, s.localAuthority.region,
                s.establishmentType, s.establishmentType.hasPrefix("Academy") ? "Academies" : "Local authority maintained schools",
                "Open", gias, "01-09-2012", String(s.baseRoll), trusts[s.trust].code, trusts[s.trust].name,
            ])
        }
        return out
    }

    /// England's published rate for the school's phase in the census of `term` (the national funnel's target).
    public func nationalRate(for school: School, provision: Provision, term: AcademicTerm) -> Double {
        let phase =
            switch school.phase {
            case .primary, .nursery: "state_funded_primary"
            case .secondary: "state_funded_secondary"
            default: "all"
            }
        return reference.rate(la: 970, phase: phase, provision: provision, year: term.startYear + 1)
    }

    /// Every school's figures in `term`, in URN order.
    public func figures(_ term: AcademicTerm) -> [Figures] {
        schools.map { figures(for: $0, term: term) }
    }

    /// One school's figures in one term: a function of the seed, the school and the term only, so any term can be
    /// generated alone.
    public func figures(for school: School, term: AcademicTerm) -> Figures {
        var random = SplitMix64(seed: configuration.seed ^ (UInt64(school.urn.value) &* 0x9E37_79B9) ^ (UInt64(term.startYear * 3 + term.season.index) &* 0xC2B2_AE3D_27D4_EB4F))
        let first = configuration.lastStartYear - configuration.years + 1
        let drift = 1 + 0.01 * Double(term.startYear - first) * (random.unit() - 0.3)
        let roll = max(5, Int((Double(school.baseRoll) * drift * (1 + 0.01 * random.normal())).rounded()))
        let census = term.startYear + 1  // the January census of the academic year
        func proportion(_ provision: Provision) -> Double {
            switch school.establishmentType {
            case let type where type.contains("special"): return provision == .ehcPlan ? 0.97 : 0.02
            case let type where type.contains("alternative"): return provision == .ehcPlan ? 0.17 : 0.62
            default:
                let phase =
                    switch school.phase {
                    case .primary, .nursery: "state_funded_primary"
                    case .secondary: "state_funded_secondary"
                    default: "all"
                    }
                return reference.rate(la: school.localAuthority.code, phase: phase, provision: provision, year: census)
            }
        }
        func count(_ p: Double, _ n: Int) -> Int {
            let mean = Double(n) * p
            let drawn = (mean + (mean * (1 - p)).squareRoot() * random.normal()).rounded()
            return min(max(Int(drawn), 0), n)
        }
        let pEHC = min(0.99, proportion(.ehcPlan) * (school.establishmentType.contains("special") ? 1 : school.ehcEffect))
        let ehc = count(pEHC, roll)
        let pSupport = min(0.95, proportion(.senSupport) * (school.establishmentType.contains("special") ? 1 : school.senSupportEffect))
        let support = min(count(pSupport, roll), roll - ehc)
        var needs: [NeedCode: (senSupport: Int, ehcPlan: Int)]?
        if term.season == .spring {
            needs = [:]
            let k = Self.split(support, shares: Self.supportShares, &random)
            let e = Self.split(ehc, shares: Self.ehcShares, &random)
            for (index, need) in NeedCode.allCases.enumerated() where k[index] + e[index] > 0 {
                needs![need] = (k[index], e[index])
            }
        }
        return Figures(urn: school.urn, pupilsOnRoll: roll, senSupport: support, ehcPlan: ehc, needs: needs)
    }

    /// Shares of primary need, in `NeedCode.allCases` order (SEN in England 2025, rounded).
    static let supportShares = [0.15, 0.13, 0.003, 0.001, 0.26, 0.07, 0.20, 0.02, 0.01, 0.002, 0.02, 0.06, 0.074]
    /// NSA (no specialist assessment) is for SEN support only.
    static let ehcShares = [0.04, 0.08, 0.07, 0.03, 0.17, 0.33, 0.16, 0.02, 0.01, 0.005, 0.04, 0.045, 0]

    /// `total` split over `shares` (which sum to about 1), whole numbers summing to `total`.
    static func split(_ total: Int, shares: [Double], _ random: inout SplitMix64) -> [Int] {
        var counts = [Int](repeating: 0, count: shares.count)
        let sum = shares.reduce(0, +)
        for _ in 0..<total {
            var u = random.unit() * sum
            var index = 0
            while index < shares.count - 1 && u >= shares[index] { u -= shares[index]; index += 1 }
            counts[index] += 1
        }
        return counts
    }

    /// A trust's return file for `term` in senstat's import format (headline counts; primary needs in spring).
    public func returnsCSV(trust: Int, term: AcademicTerm) -> String {
        let rows = schools.filter { $0.trust == trust }.map { figures(for: $0, term: term) }
        return Self.returnsCSV(rows, spring: term.season == .spring)
    }

    static func returnsCSV(_ rows: [Figures], spring: Bool) -> String {
        rows.reduce(CSVWriter.line(csvHeader(spring: spring))) { $0 + CSVWriter.line(csvFields($1, spring: spring)) }
    }

    /// The import file's columns: headline counts, and in spring every primary need.
    public static func csvHeader(spring: Bool) -> [String] {
        var header = ["urn", "pupils_on_roll", "sen_support", "ehc_plan"]
        if spring {
            for need in NeedCode.allCases { header += ["primary_need.\(need.rawValue).sen_support", "primary_need.\(need.rawValue).ehc_plan"] }
        }
        return header
    }

    public static func csvFields(_ row: Figures, spring: Bool) -> [String] {
        var fields = [String(row.urn.value), String(row.pupilsOnRoll), String(row.senSupport), String(row.ehcPlan)]
        if spring {
            for need in NeedCode.allCases {
                let pair = row.needs?[need]
                fields += [String(pair?.senSupport ?? 0), String(pair?.ehcPlan ?? 0)]
            }
        }
        return fields
    }
}

extension SplitMix64 {
    /// A standard normal draw (Box-Muller).
    mutating func normal() -> Double {
        let u1 = max(unit(), 1e-300)
        let u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

extension AcademicTerm.Season {
    var index: Int { Self.allCases.firstIndex(of: self)! }
}
