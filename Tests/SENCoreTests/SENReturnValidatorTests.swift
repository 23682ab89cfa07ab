import SENCore
import SENTestSupport
import Testing

@Suite struct SENReturnValidatorTests {
    func validate(_ fields: [String: String]) -> Checked<SENReturn, ReturnIssue> {
        SENReturnValidator.validate(fields.mapValues { RawField.text($0) })
    }

    func issues(_ fields: [String: String]) -> [ReturnIssue] {
        if case .failure(let issues) = validate(fields) { return issues }
        return []
    }

    let minimal = ["pupils_on_roll": "200", "sen_support": "30", "ehc_plan": "7"]

    @Test func aMinimalReturnIsValid() throws {
        let value = try validate(minimal).get()
        #expect(value.pupilsOnRoll == 200 && value.senSupport == 30 && value.ehcPlan == 7)
        let expected: JSONValue = .object(["pupils_on_roll": .integer(200), "sen_support": .integer(30), "ehc_plan": .integer(7)])
        #expect(value.json == expected)
    }

    /// Dotted keys become nested objects, every field once, and nothing else.
    @Test func nestedPayloadHoldsEveryFieldOnce() throws {
        var fields = minimal
        fields["primary_need.SLCN.sen_support"] = "20"
        fields["primary_need.NSA.sen_support"] = "10"
        fields["primary_need.ASD.ehc_plan"] = "7"
        fields["senco.on_slt"] = "true"
        fields["senco.start_date"] = "2020-09-01"
        let value = try validate(fields).get()
        func flatten(_ json: JSONValue, _ prefix: String) -> [String: JSONValue] {
            guard case .object(let members) = json else { return [prefix: json] }
            return members.reduce(into: [:]) { result, member in
                result.merge(flatten(member.value, prefix.isEmpty ? member.key : prefix + "." + member.key)) { a, _ in a }
            }
        }
        let flat = flatten(value.json, "")
        #expect(flat.count == value.fields.count)
        for (key, field) in value.fields { #expect(flat[key] == field.json, "\(key)") }
        guard case .object(let root) = value.json, case .object(let needs)? = root["primary_need"], case .object(let slcn)? = needs["SLCN"] else {
            Issue.record("primary_need is not nested")
            return
        }
        #expect(slcn["sen_support"] == .integer(20))
        #expect(needs.keys.sorted() == ["ASD", "NSA", "SLCN"])
    }

    @Test func everyProblemIsReportedAtOnce() {
        let found = issues([
            "pupils_on_roll": "-1", "sen_support": "1.5", "ehc_plan": "lots",
            "senco.on_slt": "maybe", "senco.national_award": "pending", "senco.start_date": "01/09/2020",
        ])
        #expect(Set(found.map(\.key)) == ["pupils_on_roll", "sen_support", "ehc_plan", "senco.on_slt", "senco.national_award", "senco.start_date"])
        #expect(found.first { $0.key == "pupils_on_roll" }?.code == "minimum")
        #expect(found.first { $0.key == "sen_support" }?.code == "integer")
        #expect(found.first { $0.key == "ehc_plan" }?.code == "type")
    }

    @Test func requiredFieldsAndTheRoll() {
        #expect(issues(["pupils_on_roll": "10"]).map(\.key).sorted() == ["ehc_plan", "sen_support"])
        let over = issues(["pupils_on_roll": "10", "sen_support": "8", "ehc_plan": "3"])
        #expect(over.map(\.code) == ["exceeds_roll"])
        #expect(issues(["pupils_on_roll": "10", "sen_support": "7", "ehc_plan": "3"]).isEmpty)
        #expect(issues(["pupils_on_roll": "99999999999999999999", "sen_support": "0", "ehc_plan": "0"]).map(\.code) == ["maximum"])
    }

    @Test func primaryNeedsAddUpAndNSAIsForSupportOnly() {
        var fields = minimal
        fields["primary_need.SLCN.sen_support"] = "20"
        fields["primary_need.NSA.sen_support"] = "10"
        fields["primary_need.ASD.ehc_plan"] = "7"
        #expect(issues(fields).isEmpty)
        fields["primary_need.SLCN.sen_support"] = "19"
        let mismatch = issues(fields)
        #expect(mismatch.map(\.code) == ["sum_mismatch"])
        #expect(mismatch[0].pointer == "/primary_need" && mismatch[0].csvColumn == "primary_need.*.sen_support")
        fields["primary_need.SLCN.sen_support"] = "20"
        fields["primary_need.ASD.ehc_plan"] = "6"
        fields["primary_need.NSA.ehc_plan"] = "1"
        #expect(issues(fields).map(\.code) == ["nsa_sen_support_only"])
        fields["primary_need.NSA.ehc_plan"] = nil
        let ehc = issues(fields)
        #expect(ehc.map(\.code) == ["sum_mismatch"])
        #expect(ehc.first?.csvColumn == "primary_need.*.ehc_plan" && ehc.first?.message.contains("add up to 6, but ehc_plan is 7") == true)
    }

    @Test func yearGroupsAddUp() {
        var fields = minimal
        fields["year_groups.Y1.sen_support"] = "10"
        fields["year_groups.Y2.sen_support"] = "20"
        fields["year_groups.Y2.ehc_plan"] = "7"
        #expect(issues(fields).isEmpty)
        fields["year_groups.Y2.pupils_on_roll"] = "20"
        let found = issues(fields)
        #expect(Set(found.map(\.code)) == ["sum_mismatch", "exceeds_roll"])
    }

    @Test func progressIsBoundedByAssessedAndTheGroup() {
        var fields = minimal
        fields["progress.sen_support.reading.assessed"] = "30"
        fields["progress.sen_support.reading.expected"] = "21"
        #expect(issues(fields).isEmpty)
        fields["progress.sen_support.reading.expected"] = "31"
        fields["progress.ehc_plan.maths.assessed"] = "8"
        fields["progress.ehc_plan.writing.expected"] = "2"
        let found = issues(fields)
        #expect(found.map(\.key).sorted() == ["progress.ehc_plan.maths.assessed", "progress.ehc_plan.writing.assessed", "progress.sen_support.reading.expected"])
    }

    @Test func jsonBodiesAreFlattenedStrictly() {
        let body: JSONValue = .object([
            "pupils_on_roll": .integer(100), "sen_support": .string("12"), "ehc_plan": .number(2.5),
            "primary_need": .object(["SLCN": .object(["sen_support": .integer(12), "colour": .integer(1)])]),
            "favourite_food": .string("chips"),
            "senco": .object(["on_slt": .integer(1)]),
        ])
        let (raw, structural) = SENReturnValidator.fields(fromJSON: body)
        #expect(structural.map(\.pointer).sorted() == ["/favourite_food", "/primary_need/SLCN/colour"])
        guard case .failure(let found) = SENReturnValidator.validate(raw, earlierIssues: structural) else {
            Issue.record("expected failure")
            return
        }
        let pointers = Set(found.map(\.pointer))
        #expect(pointers.isSuperset(of: ["/sen_support", "/ehc_plan", "/senco/on_slt", "/favourite_food"]))
    }

    @Test func warningsAreComputedNotBlocking() throws {
        let value = try validate(["pupils_on_roll": "300", "sen_support": "60", "ehc_plan": "5", "senco.start_date": "2020-09-01", "senco.national_award": "not_started"]).get()
        let census = CalendarDate(iso: "2025-10-02")!
        let codes = SENReturnValidator.warnings(for: value, sameTermLastYear: (200, 20), censusDay: census).map(\.code)
        #expect(codes == ["sen_support_rate_moved", "roll_moved", "senco_award_overdue"])
        let steady = try validate(["pupils_on_roll": "205", "sen_support": "21", "ehc_plan": "5", "senco.national_award": "held", "senco.start_date": "2010-01-01"]).get()
        #expect(SENReturnValidator.warnings(for: steady, sameTermLastYear: (200, 20), censusDay: census).isEmpty)
    }

    @Test func changesBetweenVersions() throws {
        let first = try validate(minimal).get()
        var edited = minimal
        edited["sen_support"] = "31"
        edited["senco.on_slt"] = "yes"
        let second = try validate(edited).get()
        let changes = second.changes(since: first)
        #expect(changes.map { $0.key } == ["sen_support", "senco.on_slt"])
        #expect(changes[0].before == FieldValue.count(30) && changes[0].after == FieldValue.count(31))
        #expect(changes[1].before == nil && changes[1].after == FieldValue.bool(true))
    }
}

@Suite struct ReturnsCSVTests {
    @Test func readsRowsAndReportsEveryErrorWithRowAndColumn() {
        let good = "urn,pupils_on_roll,sen_support,ehc_plan\r\n100001,200,30,7\r\n100002,100,10,2\r\n"
        guard case .success(let rows) = ReturnsCSV.read(Array(good.utf8)) else {
            Issue.record("expected rows")
            return
        }
        #expect(rows.map(\.urn.value) == [100001, 100002])
        #expect(rows.map(\.row) == [2, 3])

        let bad = "urn,pupils_on_roll,sen_support,ehc_plan\n100001,200,300,7\n12345,1,1,1\n100003,x,1,1\n100001,5,1,1\n"
        guard case .failure(let issues) = ReturnsCSV.read(Array(bad.utf8)) else {
            Issue.record("expected issues")
            return
        }
        #expect(issues.map { "\($0.row):\($0.column)" } == ["2:sen_support", "3:urn", "4:pupils_on_roll", "5:urn"])
    }

    @Test func headerProblems() {
        guard case .failure(let issues) = ReturnsCSV.read(Array("pupils_on_roll,urn,sen_support,colour\n".utf8)) else {
            Issue.record("expected issues")
            return
        }
        #expect(issues.map(\.code) == ["header", "unknown_column", "missing_column"])
    }

    @Test func exportRoundTripsThroughImport() throws {
        let text = "urn,pupils_on_roll,sen_support,ehc_plan,senco.on_slt,primary_need.ASD.ehc_plan\n100001,200,30,7,true,7\n"
        guard case .success(let rows) = ReturnsCSV.read(Array(text.utf8)) else {
            Issue.record("expected rows")
            return
        }
        let exported = ReturnsCSV.write(rows.map { ($0.urn, $0.value) })
        #expect(exported.hasPrefix("urn,pupils_on_roll,sen_support,ehc_plan,primary_need.SPLD.sen_support"))
        guard case .success(let again) = ReturnsCSV.read(Array(exported.utf8)) else {
            Issue.record("the export does not import")
            return
        }
        #expect(again.map(\.value) == rows.map(\.value))
    }

    @Test func formulaCellsAreEscaped() {
        #expect(CSVWriter.cell("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(CSVWriter.cell("+1") == "'+1")
        // A plain number, negative or not, stays a number a spreadsheet can read; anything more is escaped.
        #expect(CSVWriter.cell("-1") == "-1")
        #expect(CSVWriter.cell("-0.04") == "-0.04" && CSVWriter.cell("-11.7") == "-11.7")
        for formula in ["-1+1", "-", "--1", "-1.", "-.5", "-1e5", "-1,2", "-A1", "-0x1"] {
            #expect(CSVWriter.cell(formula).hasPrefix("'") || CSVWriter.cell(formula).hasPrefix("\"'"), "\(formula)")
        }
        #expect(CSVWriter.cell("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSVWriter.cell("plain, text") == "\"plain, text\"")
        #expect(CSVWriter.cell("42") == "42")
    }
}
