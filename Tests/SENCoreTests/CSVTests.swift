import SENCore
import Testing

@Suite struct CSVTests {
    func rows(_ text: String) throws -> [[String]] {
        try CSVReader(utf8: Array(text.utf8)).rows().map(\.fields)
    }

    @Test func quotedFieldsHoldCommasQuotesAndLineBreaks() throws {
        let parsed = try rows("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n1,,3\n")
        #expect(parsed == [["a", "b", "c"], ["x, y", "say \"hi\"", "two\nlines"], ["1", "", "3"]])
    }

    @Test func crlfAndBOMAndMissingFinalNewline() throws {
        #expect(try rows("\u{FEFF}a,b\r\n1,2\r\n3,4") == [["a", "b"], ["1", "2"], ["3", "4"]])
    }

    @Test func lineNumbersCountPhysicalLines() throws {
        let reader = CSVReader(utf8: Array("h\n\"a\nb\"\nc\n".utf8))
        #expect(try reader.rows().map(\.line) == [1, 2, 4])
    }

    @Test func structuralErrorsNameTheLine() {
        #expect(throws: CSVReader.Failure.unterminatedQuote(line: 2)) { try rows("a\n\"open\nstill open\n") }
        #expect(throws: CSVReader.Failure.textAfterClosingQuote(line: 1)) { try rows("\"a\"b,c\n") }
    }
}

@Suite struct TextEncodingTests {
    /// "Thérèse’s “Academy” – €5" in Windows-1252.
    let cp1252: [UInt8] = [0x54, 0x68, 0xE9, 0x72, 0xE8, 0x73, 0x65, 0x92, 0x73, 0x20, 0x93, 0x41, 0x63, 0x61, 0x64, 0x65, 0x6D, 0x79, 0x94, 0x20, 0x96, 0x20, 0x80, 0x35]

    @Test func windows1252BecomesUTF8() {
        #expect(TextEncoding.detect(cp1252) == .windows1252)
        let text = String(decoding: TextEncoding.windows1252.toUTF8(cp1252), as: UTF8.self)
        #expect(text == "Thérèse’s “Academy” – €5")
    }

    @Test func utf8IsLeftAlone() {
        let utf8 = Array("Thérèse’s “Academy”".utf8)
        #expect(TextEncoding.detect(utf8) == .utf8)
        #expect(TextEncoding.utf8.toUTF8(utf8) == utf8)
        #expect(TextEncoding.detect(Array("plain ascii".utf8)) == .utf8)
    }
}

@Suite struct GIASRegisterReaderTests {
    static let header = "LA (code),URN,EstablishmentName,TypeOfEstablishment (name),EstablishmentStatus (name),PhaseOfEducation (name),OpenDate,CloseDate,NumberOfPupils,GOR (name),LA (name),Trusts (code),Trusts (name),Unrelated column"

    @Test func mapsColumnsByNameAndReadsEmptyTokensAsNothing() throws {
        let file = Self.header + "\n" + #"330,140001,"Oak, Ash & Elm Primary",Academy converter,Open,Primary,01-09-2015,,420,West Midlands,Birmingham,TR01234,Forest Trust,x"# + "\n"
            + #"330,140002,Old School,Community school,Closed,Not applicable,,31-08-2019,..,West Midlands,Birmingham,Not applicable,,y"#
        let result = try GIASRegisterReader.read(Array(file.utf8))
        #expect(result.rejections.isEmpty)
        #expect(result.entries.count == 2)
        let oak = result.entries[0]
        #expect(oak.urn == URN(140001) && oak.name == "Oak, Ash & Elm Primary" && oak.phase == .primary)
        #expect(oak.laCode == 330 && oak.region == "West Midlands" && oak.openedOn?.description == "2015-09-01")
        #expect(oak.trustCode == "TR01234" && oak.trustName == "Forest Trust" && oak.numberOfPupils == 420)
        let old = result.entries[1]
        #expect(old.status == .closed && old.closedOn?.description == "2019-08-31")
        #expect(old.numberOfPupils == nil && old.trustCode == nil && old.phase == .notApplicable)
    }

    @Test func badRowsAreRejectedWithRowColumnAndReason() throws {
        let file = Self.header + "\n"
            + "330,14000X,Bad URN,t,Open,Primary,,,1,r,l,,,\n"
            + "330,140003,Bad phase,t,Open,Tertiary,,,1,r,l,,,\n"
            + "330,140004,Bad date,t,Open,Primary,2015/09/01,,1,r,l,,,\n"
            + "330,140005,Good,t,Open,Primary,,,1,r,l,,,\n"
            + "330,140005,Duplicate,t,Open,Primary,,,1,r,l,,,\n"
            + "330,140006,Bad trust,t,Open,Primary,,,1,r,l,T1,,\n"
        let result = try GIASRegisterReader.read(Array(file.utf8))
        #expect(result.entries.map(\.urn) == [URN(140005)!])
        #expect(result.rejections.map(\.row) == [2, 3, 4, 6, 7])
        #expect(result.rejections.map(\.column) == ["URN", "PhaseOfEducation (name)", "OpenDate", "URN", "Trusts (code)"])
        #expect(result.rejections[3].reason.contains("row 5"))
    }

    @Test func missingRequiredColumnsAreNamed() {
        #expect(throws: GIASRegisterReader.Failure.missingColumns(["URN"])) {
            try GIASRegisterReader.read(Array("EstablishmentName,LA (code)\nx,330\n".utf8))
        }
    }
}
