/// A term of the English academic year, written `2025-26-autumn`.
///
/// The academic year runs September to August: 2025-26 has autumn 2025, spring 2026 and summer 2026. The school
/// census day is the first Thursday in October (autumn), the third Thursday in January (spring) and the third
/// Thursday in May (summer).
public struct AcademicTerm: Hashable, Comparable, Sendable, CustomStringConvertible {
    public enum Season: String, CaseIterable, Sendable, Comparable {
        case autumn, spring, summer

        var order: Int {
            switch self {
            case .autumn: 0
            case .spring: 1
            case .summer: 2
            }
        }

        public static func < (lhs: Season, rhs: Season) -> Bool { lhs.order < rhs.order }
    }

    /// The calendar year in which the academic year starts (2025 for 2025-26).
    public let startYear: Int
    public let season: Season

    public init?(startYear: Int, season: Season) {
        guard (2000...2098).contains(startYear) else { return nil }
        self.startYear = startYear
        self.season = season
    }

    /// Parses `YYYY-YY-season`, where YY is the year after YYYY.
    public init?(_ text: some StringProtocol) {
        var text = String(text)
        guard let term = text.withUTF8({ AcademicTerm(utf8: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = term
    }

    /// Parses `YYYY-YY-season` from its UTF-8 bytes, without making a string (terms are decoded from every row of a
    /// trust's history; the split-based parser was a quarter of a comparison's CPU time, Docs/performance.md).
    public init?(utf8 b: UnsafeRawBufferPointer) {
        // Every season's name has six letters, so a term is always 14 bytes: 2025-26-autumn.
        guard b.count == 14, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return nil }
        var start = 0
        for i in 0..<4 {
            guard Self.isDigit(b[i]) else { return nil }
            start = start * 10 + Int(b[i] &- UInt8(ascii: "0"))
        }
        guard Self.isDigit(b[5]), Self.isDigit(b[6]) else { return nil }
        let end = Int(b[5] &- UInt8(ascii: "0")) * 10 + Int(b[6] &- UInt8(ascii: "0"))
        guard end == (start + 1) % 100 else { return nil }
        let season: Season
        switch (b[8], b[9], b[10], b[11], b[12], b[13]) {
        case (0x61, 0x75, 0x74, 0x75, 0x6D, 0x6E): season = .autumn  // autumn
        case (0x73, 0x70, 0x72, 0x69, 0x6E, 0x67): season = .spring  // spring
        case (0x73, 0x75, 0x6D, 0x6D, 0x65, 0x72): season = .summer  // summer
        default: return nil
        }
        self.init(startYear: start, season: season)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    public var description: String {
        let end = (startYear + 1) % 100
        return "\(startYear)-\(end < 10 ? "0" : "")\(end)-\(season.rawValue)"
    }

    /// The calendar year of the census day.
    public var calendarYear: Int { season == .autumn ? startYear : startYear + 1 }

    /// DfE's national SEN statistics come from the January census: the census year of this academic year.
    public var januaryCensusYear: Int { startYear + 1 }

    public var censusDay: CalendarDate {
        switch season {
        case .autumn: CalendarDate.nthWeekday(.thursday, n: 1, month: 10, year: calendarYear)
        case .spring: CalendarDate.nthWeekday(.thursday, n: 3, month: 1, year: calendarYear)
        case .summer: CalendarDate.nthWeekday(.thursday, n: 3, month: 5, year: calendarYear)
        }
    }

    /// Returns are due four weeks after census day; later submissions are accepted and marked late.
    public static let daysFromCensusToDeadline = 28

    public var deadline: CalendarDate { censusDay.adding(days: Self.daysFromCensusToDeadline) }

    /// The same term of the previous academic year (for year-on-year plausibility checks).
    public var sameTermLastYear: AcademicTerm? { AcademicTerm(startYear: startYear - 1, season: season) }

    /// The term before this one (summer of the previous year before an autumn).
    public var previous: AcademicTerm? {
        switch season {
        case .autumn: AcademicTerm(startYear: startYear - 1, season: .summer)
        case .spring: AcademicTerm(startYear: startYear, season: .autumn)
        case .summer: AcademicTerm(startYear: startYear, season: .spring)
        }
    }

    /// The term under way on `date`: the one whose census day is the latest on or before it.
    public static func current(on date: CalendarDate) -> AcademicTerm? {
        (date.year - 2...date.year).flatMap { year in Season.allCases.compactMap { AcademicTerm(startYear: year, season: $0) } }
            .filter { $0.censusDay <= date }.max()
    }

    /// `count` terms ending with this one, oldest first (fewer at the start of the years senstat knows).
    public func lastTerms(_ count: Int) -> [AcademicTerm] {
        var terms: [AcademicTerm] = [self]
        while terms.count < count, let previous = terms[0].previous { terms.insert(previous, at: 0) }
        return terms
    }

    public static func < (lhs: AcademicTerm, rhs: AcademicTerm) -> Bool {
        (lhs.startYear, lhs.season.order) < (rhs.startYear, rhs.season.order)
    }
}
