/// One published rate: percent of pupils with SEN support or an EHC plan, for an area, phase and January census.
public struct NationalRate: Sendable, Equatable {
    public let censusYear: Int
    public let level: String
    public let areaCode: Int
    public let areaName: String
    public let regionName: String
    public let phase: ComparatorPhase
    public let provision: Provision
    /// nil where DfE publishes no figure; `symbol` then keeps its token (c, x, z, low, u, :, ~, -).
    public let percent: Double?
    public let symbol: String?
    /// DfE's counts where the release carries them (pupils with the provision, and all pupils on roll): the
    /// comparator is then computed from them rather than from the rounded percentage.
    public let pupils: Int?
    public let totalPupils: Int?

    public init(
        censusYear: Int, level: String, areaCode: Int, areaName: String, regionName: String, phase: ComparatorPhase,
        provision: Provision, percent: Double?, symbol: String?, pupils: Int? = nil, totalPupils: Int? = nil
    ) {
        self.censusYear = censusYear
        self.level = level
        self.areaCode = areaCode
        self.areaName = areaName
        self.regionName = regionName
        self.phase = phase
        self.provision = provision
        self.percent = percent
        self.symbol = symbol
        // Both or neither, and a count within its total.
        if let pupils, let totalPupils, totalPupils > 0, (0...totalPupils).contains(pupils) {
            self.pupils = pupils
            self.totalPupils = totalPupils
        } else {
            self.pupils = nil
            self.totalPupils = nil
        }
    }
}

/// Reads DfE's Explore Education Statistics `sen_phase_type` CSV: columns mapped by name (their order changes
/// between releases), `time_period` 202425 read as census year 2025, symbols kept as "no value", and
/// establishment-type rows aggregated to the phases senstat compares with.
public enum NationalReleaseReader {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case missingColumns([String])
        case malformed(String)

        public var description: String {
            switch self {
            case .missingColumns(let names): "the file has no column \(names.map { "'\($0)'" }.joined(separator: ", "))"
            case .malformed(let reason): "the file is not valid CSV: \(reason)"
            }
        }
    }

    public struct Result: Sendable {
        public var rates: [NationalRate] = []
        public var skippedRows = 0
        public var rejections: [GIASRegisterReader.Rejection] = []
    }

    /// LAIT's area numbers for England and its regions (the shipped series uses them).
    static let regionCodes: [String: Int] = [
        "north east": 980, "north west": 981, "yorkshire and the humber": 982, "east midlands": 983,
        "west midlands": 984, "east of england": 985, "london": 986, "inner london": 987, "outer london": 988,
        "south east": 989, "south west": 990,
    ]

    /// DfE's phase_type_grouping → senstat's comparator phases. Non-maintained special schools and independent
    /// schools are not state-funded special schools and stay out of that comparator (they are in Total).
    static let phases: [String: ComparatorPhase] = [
        "total": .allSchools, "state-funded primary": .stateFundedPrimary, "state-funded secondary": .stateFundedSecondary,
        "state-funded special school": .special, "state-funded special": .special,
        "pupil referral unit": .alternativeProvision, "state-funded alternative provision": .alternativeProvision,
        "state-funded ap school": .alternativeProvision, "alternative provision": .alternativeProvision,
    ]

    struct Group: Hashable {
        let year: Int
        let level: String
        let areaCode: Int
        let phase: ComparatorPhase
        /// From the phase's "Total" row(s), rather than its establishment types.
        let total: Bool
    }

    struct Sums {
        var areaName = ""
        var regionName = ""
        var pupils = 0.0
        var counts: [Provision: Double] = [:]
        var percents: [Provision: Double] = [:]
        var symbols: [Provision: String] = [:]
        var rows = 0
        var complete: [Provision: Bool] = [.senSupport: true, .ehcPlan: true]
    }

    /// A DfE CSV's rows (header first) and its columns by lower-cased name, whatever its encoding.
    static func namedColumns(_ bytes: [UInt8], firstColumn: String) throws -> (rows: [CSVReader.Row], index: [String: Int]) {
        let utf8 = TextEncoding.detect(bytes).toUTF8(bytes)
        let table: [CSVReader.Row]
        do {
            table = try CSVReader(utf8: utf8).rows()
        } catch let failure as CSVReader.Failure {
            throw Failure.malformed(failure.description)
        }
        guard let header = table.first else { throw Failure.missingColumns([firstColumn]) }
        var index: [String: Int] = [:]
        for (position, name) in header.fields.enumerated() { index[name.trimmingASCIIWhitespace().lowercased()] = position }
        return (table, index)
    }

    public static func read(_ bytes: [UInt8]) throws -> Result {
        let (table, index) = try namedColumns(bytes, firstColumn: "time_period")
        let required = ["time_period", "geographic_level", "phase_type_grouping"]
        let missing = required.filter { index[$0] == nil }
        guard missing.isEmpty else { throw Failure.missingColumns(missing) }

        var result = Result()
        var groups: [Group: Sums] = [:]
        let hasEstablishmentType = index["type_of_establishment"] != nil
        for row in table.dropFirst() {
            func value(_ name: String) -> String {
                guard let position = index[name], position < row.fields.count else { return "" }
                return row.fields[position].trimmingASCIIWhitespace()
            }
            guard let phase = phases[value("phase_type_grouping").lowercased()] else {
                result.skippedRows += 1
                continue
            }
            // A phase broken down by establishment type: its "Total" row when there is one, else the sum of its parts.
            let isTotalRow = !hasEstablishmentType || ["total", ""].contains(value("type_of_establishment").lowercased())
            let period = value("time_period")
            guard period.count == 6, let start = Int(period.prefix(4)), Int(period.suffix(2)) == (start + 1) % 100 else {
                result.rejections.append(.init(row: row.line, column: "time_period", reason: "'\(period)' is not a period like 202425"))
                continue
            }
            let level: String
            let areaCode: Int
            let areaName: String
            switch value("geographic_level").lowercased() {
            case "national":
                (level, areaCode, areaName) = ("national", 970, value("country_name").isEmpty ? "England" : value("country_name"))
            case "regional":
                let name = value("region_name")
                guard let code = regionCodes[name.lowercased()] else {
                    result.rejections.append(.init(row: row.line, column: "region_name", reason: "'\(name)' is not an English region"))
                    continue
                }
                (level, areaCode, areaName) = ("regional", code, name)
            case "local authority", "local_authority":
                guard let code = Int(value("old_la_code")), (100...999).contains(code) else {
                    result.rejections.append(.init(row: row.line, column: "old_la_code", reason: "'\(value("old_la_code"))' is not an LA code"))
                    continue
                }
                (level, areaCode, areaName) = ("local_authority", code, value("la_name"))
            default:
                result.skippedRows += 1
                continue
            }
            let group = Group(year: start + 1, level: level, areaCode: areaCode, phase: phase, total: isTotalRow)
            var sums = groups[group] ?? Sums()
            sums.areaName = areaName
            sums.regionName = level == "local_authority" ? value("region_name") : ""
            sums.rows += 1
            let pupils = Double(value("total_pupils"))
            sums.pupils += pupils ?? 0
            for provision in Provision.allCases {
                let countText = value(provision.rawValue)
                let percentText = value("\(provision.rawValue)_percent")
                if let count = Double(countText), pupils != nil {
                    sums.counts[provision, default: 0] += count
                } else {
                    sums.complete[provision] = false
                    if !countText.isEmpty && Double(countText) == nil { sums.symbols[provision] = countText }
                }
                if let percent = Double(percentText) {
                    sums.percents[provision] = percent
                } else if !percentText.isEmpty {
                    sums.symbols[provision] = percentText
                }
            }
            groups[group] = sums
        }
        // Parts are used only where the phase has no total row.
        let chosen = groups.filter { group, _ in
            group.total || groups[Group(year: group.year, level: group.level, areaCode: group.areaCode, phase: group.phase, total: true)] == nil
        }
        for (group, sums) in chosen.sorted(by: { ($0.key.year, $0.key.areaCode, $0.key.phase.rawValue) < ($1.key.year, $1.key.areaCode, $1.key.phase.rawValue) }) {
            for provision in Provision.allCases {
                var percent: Double?
                // Whole counts for the group (DfE's counts are integers; a sum of several rows too).
                var pupils: Int?
                var total: Int?
                if sums.complete[provision] == true, sums.pupils > 0, let count = sums.counts[provision],
                    count >= 0, count <= sums.pupils, count == count.rounded(), sums.pupils == sums.pupils.rounded(),
                    sums.pupils < 1e15
                {
                    pupils = Int(count)
                    total = Int(sums.pupils)
                }
                if sums.rows == 1, let published = sums.percents[provision] {
                    percent = published
                } else if sums.complete[provision] == true, sums.pupils > 0, let count = sums.counts[provision] {
                    percent = (count / sums.pupils * 1000).rounded() / 10
                }
                result.rates.append(
                    NationalRate(
                        censusYear: group.year, level: group.level, areaCode: group.areaCode, areaName: sums.areaName,
                        regionName: sums.regionName, phase: group.phase, provision: provision, percent: percent,
                        symbol: percent == nil ? (sums.symbols[provision] ?? "x") : nil, pupils: percent == nil ? nil : pupils,
                        totalPupils: percent == nil ? nil : total))
            }
        }
        return result
    }
}
