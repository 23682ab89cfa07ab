/// National pupils by primary type of need, for one provision and census year.
public struct NationalNeedShare: Sendable, Equatable {
    public let censusYear: Int
    public let provision: Provision
    public let need: NeedCode
    /// As published (DfE rounds these counts to the nearest 10); nil where not published.
    public let pupils: Int?
    /// Percent of the provision's pupils, as published, or computed from the counts.
    public let percent: Double?
    /// All pupils on the provision in the same rows.
    public let provisionTotal: Int?

    public init(censusYear: Int, provision: Provision, need: NeedCode, pupils: Int?, percent: Double?, provisionTotal: Int?) {
        self.censusYear = censusYear
        self.provision = provision
        self.need = need
        self.pupils = pupils
        self.percent = percent
        self.provisionTotal = provisionTotal
    }

    /// The national share (0...1): from the counts where there are both, else the published percentage.
    public var share: Double? {
        if let pupils, let provisionTotal, provisionTotal > 0 { return Double(pupils) / Double(provisionTotal) }
        return percent.map { $0 / 100 }
    }
}

/// Reads DfE's national files of pupils by primary type of need ("Special educational needs in England": type of
/// SEN provision and type of need; or the layout senstat ships in SQL/reference). Columns are found by name under
/// the names DfE has used (`primary_need` / `sen_primary_need`, `sen_status` / `sen_provision`, `pupil_count` /
/// `number_of_pupils`, ...), the year from `census_year` or `time_period` (202425 → 2025), needs from census codes
/// or DfE's labels; only national rows of all schools (phase "Total") are read.
public enum NationalNeedReader {
    public struct Result: Sendable {
        public var shares: [NationalNeedShare] = []
        public var skippedRows = 0
        public var rejections: [GIASRegisterReader.Rejection] = []
    }

    static let needColumns = ["primary_need", "sen_primary_need", "type_of_need", "primary_type_of_need"]
    static let provisionColumns = ["provision", "sen_provision", "sen_status", "pupil_sen_status", "sen_type"]
    static let countColumns = ["pupils", "pupil_count", "number_of_pupils", "headcount", "pupil_headcount"]
    static let percentColumns = ["percent", "pupil_percent", "percent_of_pupils", "percentage"]

    /// Whether a CSV header is a file of this kind (it names a primary-need column).
    public static func recognises(header: [String]) -> Bool {
        header.contains { needColumns.contains($0.trimmingASCIIWhitespace().lowercased()) }
    }

    /// A need code, or DfE's label for one.
    public static func need(_ text: String) -> NeedCode? {
        if let code = NeedCode(censusCode: text) { return code }
        let t = text.lowercased()
        let labels: [(String, NeedCode)] = [
            ("specific learning", .SPLD), ("moderate learning", .MLD), ("severe learning", .SLD), ("profound", .PMLD),
            ("social, emotional", .SEMH), ("mental health", .SEMH), ("behaviour, emotional", .SEMH), ("speech", .SLCN),
            ("hearing", .HI), ("vision", .VI), ("visual", .VI), ("multi-sensory", .MSI), ("multi sensory", .MSI),
            ("physical", .PD), ("autis", .ASD), ("no specialist assessment", .NSA), ("other difficulty", .OTH),
        ]
        return labels.first { t.contains($0.0) }?.1
    }

    /// SEN support or an EHC plan (statements counted with EHC plans); nil for totals and anything else.
    public static func provision(_ text: String) -> Provision? {
        let t = text.lowercased()
        if let provision = Provision(rawValue: t) { return provision }
        if t.contains("support") { return .senSupport }
        if t.contains("ehc") || t.contains("statement") || t.contains("education, health") || t.contains("education health") { return .ehcPlan }
        return nil
    }

    public static func read(_ bytes: [UInt8]) throws -> Result {
        let (table, index) = try NationalReleaseReader.namedColumns(bytes, firstColumn: "primary_need")
        let header = table[0]
        func column(_ names: [String]) -> Int? { names.lazy.compactMap { index[$0] }.first }
        let needColumn = column(needColumns)
        let provisionColumn = column(provisionColumns)
        let countColumn = column(countColumns)
        let percentColumn = column(percentColumns)
        let yearColumn = index["census_year"] ?? index["time_period"]
        var missing: [String] = []
        if yearColumn == nil { missing.append("census_year or time_period") }
        if needColumn == nil { missing.append("primary_need") }
        if provisionColumn == nil { missing.append("provision") }
        if countColumn == nil && percentColumn == nil { missing.append("pupils or percent") }
        guard missing.isEmpty, let needColumn, let provisionColumn, let yearColumn else {
            throw NationalReleaseReader.Failure.missingColumns(missing)
        }

        struct Key: Hashable { let year: Int; let provision: Provision; let need: NeedCode }
        var found: [Key: (pupils: Int?, percent: Double?)] = [:]
        var totals: [Key: Int] = [:]
        /// The count of a provision's "Total" need row, where the file has one.
        var totalRows: [String: Int] = [:]
        var result = Result()
        for row in table.dropFirst() {
            func value(_ position: Int?) -> String {
                guard let position, position < row.fields.count else { return "" }
                return row.fields[position].trimmingASCIIWhitespace()
            }
            // National rows of all schools only.
            if let level = index["geographic_level"], value(level).lowercased() != "national" {
                result.skippedRows += 1
                continue
            }
            if let phase = index["phase_type_grouping"], !["total", ""].contains(value(phase).lowercased()) {
                result.skippedRows += 1
                continue
            }
            let yearText = value(yearColumn)
            let year: Int
            if yearText.count == 6, let start = Int(yearText.prefix(4)), Int(yearText.suffix(2)) == (start + 1) % 100 {
                year = start + 1
            } else if yearText.count == 4, let y = Int(yearText), (2000...2100).contains(y) {
                year = y
            } else {
                result.rejections.append(.init(row: row.line, column: "census_year", reason: "'\(yearText)' is not a year like 2025 or a period like 202425"))
                continue
            }
            guard let provision = provision(value(provisionColumn)) else {
                result.skippedRows += 1
                continue
            }
            let needText = value(needColumn)
            guard let need = need(needText) else {
                if needText.lowercased().contains("total"), let count = Int(value(countColumn)), count > 0 {
                    totalRows["\(year)|\(provision.rawValue)"] = count
                    result.skippedRows += 1
                } else if !needText.lowercased().contains("total") && !needText.isEmpty {
                    result.rejections.append(.init(row: row.line, column: header.fields[needColumn], reason: "'\(needText)' is not a primary type of need"))
                } else {
                    result.skippedRows += 1
                }
                continue
            }
            let key = Key(year: year, provision: provision, need: need)
            guard found[key] == nil else {
                result.rejections.append(.init(row: row.line, column: header.fields[needColumn], reason: "a second row for \(need.rawValue), \(provision.rawValue), \(year)"))
                continue
            }
            let pupils = Int(value(countColumn)).flatMap { $0 >= 0 ? $0 : nil }
            let percent = Double(value(percentColumn)).flatMap { $0 >= 0 && $0 <= 100 ? $0 : nil }
            found[key] = (pupils, percent)
            if let total = Int(value(index["provision_total"])), total > 0 { totals[key] = total }
        }
        // The provision's total: as given, else the sum of its needs where every need has a count.
        var sums: [String: Int?] = [:]
        for (key, figures) in found {
            let group = "\(key.year)|\(key.provision.rawValue)"
            let current = sums[group] ?? 0
            sums[group] = current.flatMap { c in figures.pupils.map { c + $0 } }
        }
        for (key, figures) in found.sorted(by: { ($0.key.year, $0.key.provision.rawValue, $0.key.need.rawValue) < ($1.key.year, $1.key.provision.rawValue, $1.key.need.rawValue) }) {
            // The provision's total: given in the row, else its "Total" row, else (only where no percentage is
            // published) the sum of its needs.
            let group = "\(key.year)|\(key.provision.rawValue)"
            let total = totals[key] ?? totalRows[group] ?? (figures.percent == nil ? sums[group] ?? nil : nil)
            let percent = figures.percent ?? figures.pupils.flatMap { p in total.flatMap { $0 > 0 ? (Double(p) / Double($0) * 1000).rounded() / 10 : nil } }
            guard figures.pupils != nil || percent != nil else { continue }
            result.shares.append(
                NationalNeedShare(
                    censusYear: key.year, provision: key.provision, need: key.need,
                    pupils: figures.pupils.flatMap { p in total.map { p <= $0 } ?? true ? p : nil },
                    percent: percent, provisionTotal: total))
        }
        return result
    }
}

/// A school's mix of primary needs against a reference mix (the nation's, or the trust's): for each need the
/// school's share with its Wilson 95% interval, and whether the reference share lies outside it.
public enum NeedMix {
    public struct Comparison: Sendable, Equatable {
        public let share: Double
        public let wilson95: Statistics.Interval
        /// higher or lower when the reference share is outside the school's 95% interval, else similar.
        public let verdict: String
    }

    public static func compare(count: Int, total: Int, reference: Double) -> Comparison {
        let interval = Statistics.wilson(count: count, n: total, z: Statistics.z95)
        let share = total > 0 ? Double(count) / Double(total) : 0
        let verdict = total == 0 ? "similar" : reference < interval.lower ? "higher" : reference > interval.upper ? "lower" : "similar"
        return Comparison(share: share, wilson95: interval, verdict: verdict)
    }
}
