import SENCore
import Testing

@Suite struct URNTests {
    @Test(arguments: ["100000", "990101", "999999"])
    func acceptsSixDigits(_ text: String) {
        #expect(URN(text)?.description == text)
    }

    @Test(arguments: ["99999", "1000000", "12345a", "-12345", " 123456", "../123", "%00", "123456\u{0}", "", "１２３４５６"])
    func rejectsAnythingElse(_ text: String) {
        #expect(URN(text) == nil)
    }
}

@Suite struct AcademicTermTests {
    @Test func parsesAndPrintsTheHouseForm() throws {
        let term = try #require(AcademicTerm("2025-26-autumn"))
        #expect(term.startYear == 2025)
        #expect(term.season == .autumn)
        #expect(term.description == "2025-26-autumn")
        #expect(AcademicTerm("1999-00-spring") == nil)  // outside the supported range
        #expect(AcademicTerm("2099-00-summer") == nil)
        #expect(AcademicTerm("2009-10-summer")?.description == "2009-10-summer")
    }

    @Test func everySupportedTermParsesFromItsDescription() {
        for year in 2000...2098 {
            for season in AcademicTerm.Season.allCases {
                let term = AcademicTerm(startYear: year, season: season)!
                #expect(AcademicTerm(term.description) == term)
                #expect(Array(term.description.utf8).withUnsafeBytes { AcademicTerm(utf8: $0) } == term)
            }
        }
    }

    @Test(arguments: [
        "2025-27-autumn", "2025-26-winter", "25-26-autumn", "2025-26", "2025-26-Autumn", "2025-26-autumn-x", "../2025-26-autumn",
        "202a-26-autumn", "2025-2a-autumn", "2025+26-autumn", "2025-26+autumn", "2025-26-autumm", "2025-26-sprint", "2025-26-summes",
        "２０２５-26-autumn", "2025-26-autumn\u{0}", " 2025-26-autumn", "2025-26-autum", "-025-26-autumn", "2025--6-autumn",
    ])
    func rejectsMalformedTerms(_ text: String) {
        #expect(AcademicTerm(text) == nil)
    }

    /// Census days DfE announced: 2 October 2025, 15 January 2026, 21 May 2026; 15 May 2025; 3 October 2024.
    @Test func censusDaysFollowTheRule() throws {
        #expect(try #require(AcademicTerm("2025-26-autumn")).censusDay.description == "2025-10-02")
        #expect(try #require(AcademicTerm("2025-26-spring")).censusDay.description == "2026-01-15")
        #expect(try #require(AcademicTerm("2025-26-summer")).censusDay.description == "2026-05-21")
        #expect(try #require(AcademicTerm("2024-25-summer")).censusDay.description == "2025-05-15")
        #expect(try #require(AcademicTerm("2024-25-autumn")).censusDay.description == "2024-10-03")
    }

    @Test func everyCensusDayIsAThursdayInItsMonth() {
        for year in 2010...2040 {
            for season in AcademicTerm.Season.allCases {
                let day = AcademicTerm(startYear: year, season: season)!.censusDay
                #expect(day.weekday == .thursday)
                switch season {
                case .autumn: #expect(day.month == 10 && day.day <= 7 && day.year == year)
                case .spring: #expect(day.month == 1 && (15...21).contains(day.day) && day.year == year + 1)
                case .summer: #expect(day.month == 5 && (15...21).contains(day.day) && day.year == year + 1)
                }
            }
        }
    }

    @Test func deadlineAndOrdering() throws {
        let autumn = try #require(AcademicTerm("2025-26-autumn"))
        #expect(autumn.deadline.description == "2025-10-30")
        #expect(autumn < AcademicTerm("2025-26-spring")!)
        #expect(AcademicTerm("2025-26-summer")! < AcademicTerm("2026-27-autumn")!)
        #expect(autumn.januaryCensusYear == 2026)
        #expect(autumn.sameTermLastYear?.description == "2024-25-autumn")
    }
}

@Suite struct CalendarDateTests {
    @Test func weekdaysAndArithmetic() throws {
        #expect(try #require(CalendarDate(iso: "2026-11-29")).weekday == .sunday)
        #expect(try #require(CalendarDate(iso: "1970-01-01")).weekday == .thursday)
        #expect(try #require(CalendarDate(iso: "2024-02-28")).adding(days: 1).description == "2024-02-29")
        #expect(try #require(CalendarDate(iso: "2023-02-28")).adding(days: 1).description == "2023-03-01")
        #expect(CalendarDate(iso: "2023-02-29") == nil)
        #expect(CalendarDate(dayMonthYear: "01-09-2020")?.description == "2020-09-01")
        #expect(CalendarDate(dayMonthYear: "2020-09-01") == nil)
    }

    @Test func daysSinceEpochRoundTrips() {
        for days in stride(from: -800_000, through: 800_000, by: 997) {
            #expect(CalendarDate(daysSinceEpoch: days).daysSinceEpoch == days)
        }
    }
}

@Suite struct CodeListTests {
    @Test func phasesFromGIASNames() {
        #expect(Phase(giasName: "Middle deemed primary") == .middleDeemedPrimary)
        #expect(Phase(giasName: "16 plus") == .sixteenPlus)
        #expect(Phase(giasName: "All-through") == .allThrough)
        #expect(Phase(giasName: "Not applicable") == .notApplicable)
        #expect(Phase(giasName: "Secondary ") == .secondary)
        #expect(Phase(giasName: "Tertiary") == nil)
    }

    @Test func needCodes() {
        #expect(NeedCode.allCases.count == 13)
        #expect(NeedCode(censusCode: "BESD") == .SEMH)
        #expect(NeedCode(censusCode: "slcn") == .SLCN)
        #expect(NeedCode(censusCode: "XYZ") == nil)
        #expect(NeedCode.NSA.allowed(for: .senSupport))
        #expect(!NeedCode.NSA.allowed(for: .ehcPlan))
        #expect(NeedCode.allCases.filter { !$0.allowed(for: .ehcPlan) } == [.NSA])
        #expect(NeedCode.ASD.broadArea == .communicationAndInteraction)
    }

    @Test func establishmentStatus() {
        #expect(EstablishmentStatus(giasName: "Open, but proposed to close") == .openProposedToClose)
        #expect(EstablishmentStatus(giasName: "Closed") == .closed)
        #expect(EstablishmentStatus(giasName: "Shut") == nil)
    }

    @Test func trustIDsAreCanonicalUUIDs() {
        #expect(TrustID("0D6F1A7E-3C1B-4C5E-9A57-1B8F0E6A2C01")?.uuidString == "0d6f1a7e-3c1b-4c5e-9a57-1b8f0e6a2c01")
        #expect(TrustID("0d6f1a7e3c1b4c5e9a571b8f0e6a2c01") == nil)
        #expect(TrustID("../../etc/passwd") == nil)
        #expect(TrustID("0d6f1a7e-3c1b-4c5e-9a57-1b8f0e6a2c0g") == nil)
    }
}

@Suite struct TermWindowTests {
    @Test func openFromCensusDayLateAfterTheDeadline() throws {
        let term = try #require(AcademicTerm("2025-26-autumn"))  // census 2025-10-02, deadline 2025-10-30
        #expect(!term.isOpen(on: CalendarDate(iso: "2025-10-01")!))
        #expect(term.isOpen(on: CalendarDate(iso: "2025-10-02")!))
        #expect(!term.isLate(on: CalendarDate(iso: "2025-10-30")!))
        #expect(term.isLate(on: CalendarDate(iso: "2025-10-31")!))
    }
}
