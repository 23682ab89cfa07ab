/// A validated termly SEN return for one school: the flattened fields, keyed as in `ReturnField.all`.
public struct SENReturn: Sendable, Equatable {
    public let fields: [String: FieldValue]

    public var pupilsOnRoll: Int { fields["pupils_on_roll"]?.count ?? 0 }
    public var senSupport: Int { fields["sen_support"]?.count ?? 0 }
    public var ehcPlan: Int { fields["ehc_plan"]?.count ?? 0 }

    /// The nested JSON object (`primary_need.SLCN.sen_support` → `{"primary_need": {"SLCN": {"sen_support": n}}}`).
    public var json: JSONValue {
        .object(Self.tree(fields.map { key, value in (key.split(separator: ".")[...], value.json) }))
    }

    /// The nested objects of dotted keys (`primary_need.ASD.sen_support`), each level built once: inserting key by
    /// key copied every enclosing dictionary, a tenth of an import's CPU time (Docs/performance.md). A key that is
    /// both a value and a parent keeps the value.
    static func tree(_ entries: [(path: ArraySlice<Substring>, value: JSONValue)]) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        var nested: [String: [(path: ArraySlice<Substring>, value: JSONValue)]] = [:]
        for (path, value) in entries {
            guard let head = path.first else { continue }
            if path.count == 1 {
                result[String(head)] = value
            } else {
                nested[String(head), default: []].append((path.dropFirst(), value))
            }
        }
        for (head, children) in nested where result[head] == nil { result[head] = .object(tree(children)) }
        return result
    }

    /// Cells in `ReturnField.all` order; absent fields are empty.
    public var csvCells: [String] { ReturnField.all.map { fields[$0.key]?.description ?? "" } }

    /// Field-by-field differences from an earlier version: (key, before, after), absent as nil.
    public func changes(since earlier: SENReturn?) -> [(key: String, before: FieldValue?, after: FieldValue?)] {
        ReturnField.all.compactMap { spec in
            let before = earlier?.fields[spec.key]
            let after = fields[spec.key]
            return before == after ? nil : (spec.key, before, after)
        }
    }
}

/// A problem with a return: where (a field key; `pointer` and `csvColumn` say it each way), a stable code, and a
/// sentence for the person who filled it in.
public struct ReturnIssue: Error, Sendable, Equatable {
    public let key: String
    public let code: String
    public let message: String
    /// For rules about a group of columns (for example every `primary_need.*.sen_support`).
    let column: String?

    public init(key: String, code: String, message: String, column: String? = nil) {
        self.key = key
        self.code = code
        self.message = message
        self.column = column
    }

    public var pointer: String { ReturnField.pointer(key) }
    public var csvColumn: String { column ?? key }
}

/// A plausibility warning: stored with the version and shown to the trust, never blocking.
public struct ReturnWarning: Sendable, Equatable, Codable {
    public let code: String
    public let message: String
}

/// The outcome of a check that reports every problem at once.
public enum Checked<Value: Sendable, Problem: Sendable>: Sendable {
    case success(Value)
    case failure([Problem])

}

/// Raw input for one field: a JSON value, or the text of a CSV cell.
public enum RawField: Sendable {
    case json(JSONValue)
    case text(String)
}

/// Validates a return: every type, range and cross-field rule, all reported at once.
public enum SENReturnValidator {
    /// Flattens a JSON body into field keys. Unknown fields and wrong nesting are issues too.
    public static func fields(fromJSON body: JSONValue) -> (fields: [String: RawField], issues: [ReturnIssue]) {
        guard case .object(let root) = body else {
            return ([:], [ReturnIssue(key: "", code: "type", message: "the return must be a JSON object")])
        }
        var fields: [String: RawField] = [:]
        var issues: [ReturnIssue] = []
        func walk(_ object: [String: JSONValue], prefix: String) {
            for (name, value) in object.sorted(by: { $0.key < $1.key }) {
                let key = prefix.isEmpty ? name : "\(prefix).\(name)"
                if ReturnField.byKey[key] != nil {
                    fields[key] = .json(value)
                } else if case .object(let child) = value, ReturnField.all.contains(where: { $0.key.hasPrefix(key + ".") }) {
                    walk(child, prefix: key)
                } else if case .null = value, ReturnField.all.contains(where: { $0.key.hasPrefix(key + ".") }) {
                    continue
                } else if prefix == "primary_need" {
                    issues.append(ReturnIssue(
                        key: key, code: "unknown_need",
                        message: "\(name) is not a primary need code; the codes are \(NeedCode.allCases.map(\.rawValue).joined(separator: ", "))"))
                } else {
                    issues.append(ReturnIssue(key: key, code: "unknown_field", message: "\(key) is not a field of a SEN return"))
                }
            }
        }
        walk(root, prefix: "")
        return (fields, issues)
    }

    public static func validate(_ raw: [String: RawField], earlierIssues: [ReturnIssue] = []) -> Checked<SENReturn, ReturnIssue> {
        var issues = earlierIssues
        var values: [String: FieldValue] = [:]
        values.reserveCapacity(raw.count)
        // The row's own fields in catalogue order (so issues come in that order): a row gives a few of the
        // catalogue's 94 fields, and looking each of the 94 up in the row was most of its validation's hashing.
        var present: [(position: Int, input: RawField)] = []
        present.reserveCapacity(raw.count)
        for (key, input) in raw {
            if let position = ReturnField.position[key] { present.append((position, input)) }
        }
        present.sort { $0.position < $1.position }
        for (position, input) in present {
            let spec = ReturnField.all[position]
            switch parse(input, spec) {
            case .success(let value?): values[spec.key] = value
            case .success(nil): break
            case .failure(let issue): issues.append(issue)
            }
        }
        for key in ReturnField.required where values[key] == nil && !issues.contains(where: { $0.key == key }) {
            issues.append(ReturnIssue(key: key, code: "required", message: "\(key) is required"))
        }
        issues += crossFieldIssues(values)
        return issues.isEmpty ? .success(SENReturn(fields: values)) : .failure(issues)
    }

    /// The value of 1 to 15 ASCII digits (exact as a Double too); nil for anything else.
    static func plainDigits(_ text: String) -> Int? {
        var text = text
        return text.withUTF8 { bytes -> Int? in
            guard (1...15).contains(bytes.count) else { return nil }
            var n = 0
            for byte in bytes {
                guard (0x30...0x39).contains(byte) else { return nil }
                n = n * 10 + Int(byte - 0x30)
            }
            return n
        }
    }

    static func parse(_ input: RawField, _ spec: ReturnField.Spec) -> Result<FieldValue?, ReturnIssue> {
        let key = spec.key
        func issue(_ code: String, _ message: String) -> Result<FieldValue?, ReturnIssue> {
            .failure(ReturnIssue(key: key, code: code, message: message))
        }
        switch (spec.kind, input) {
        case (_, .json(.null)):
            return .success(nil)
        case (_, .text(let text)) where text.trimmingASCIIWhitespace().isEmpty:
            return .success(nil)
        case (.count(let limit), _):
            let number: Double
            switch input {
            case .json(.integer(let n)): number = Double(n)
            case .json(.number(let d)): number = d
            case .text(let text):
                let t = text.trimmingASCIIWhitespace()
                // Plain digits (almost every cell) read as they are; the rest as before, which gives them the same value.
                if let n = Self.plainDigits(t) {
                    guard n <= limit else { return issue("maximum", "\(key) must be at most \(limit)") }
                    return .success(.count(n))
                }
                guard let d = Double(t), t.allSatisfy({ $0.isNumber || $0 == "-" || $0 == "." }) else {
                    return issue("type", "'\(t)' is not a whole number")
                }
                number = d
            case .json(let other): return issue("type", "expected a whole number, got \(other.kind)")
            }
            guard number == number.rounded(.towardZero), number.isFinite else {
                return issue("integer", "\(key) must be a whole number")
            }
            guard number >= 0 else { return issue("minimum", "\(key) must be 0 or more") }
            guard number <= Double(limit) else { return issue("maximum", "\(key) must be at most \(limit)") }
            return .success(.count(Int(number)))
        case (.decimal(let limit), _):
            let number: Double
            switch input {
            case .json(.integer(let n)): number = Double(n)
            case .json(.number(let d)): number = d
            case .text(let text):
                guard let d = Double(text.trimmingASCIIWhitespace()) else {
                    return issue("type", "'\(text)' is not a number")
                }
                number = d
            case .json(let other): return issue("type", "expected a number, got \(other.kind)")
            }
            guard number.isFinite, number >= 0 else { return issue("minimum", "\(key) must be 0 or more") }
            guard number <= limit else { return issue("maximum", "\(key) must be at most \(Int(limit))") }
            return .success(.decimal(number))
        case (.bool, .json(.bool(let b))):
            return .success(.bool(b))
        case (.bool, .text(let text)):
            switch text.trimmingASCIIWhitespace().lowercased() {
            case "true", "yes", "y", "1": return .success(.bool(true))
            case "false", "no", "n", "0": return .success(.bool(false))
            default: return issue("type", "'\(text)' is not yes or no (true/false)")
            }
        case (.bool, .json(let other)):
            return issue("type", "expected true or false, got \(other.kind)")
        case (.date, _):
            let text: String
            switch input {
            case .json(.string(let s)): text = s
            case .text(let s): text = s.trimmingASCIIWhitespace()
            case .json(let other): return issue("type", "expected a date (YYYY-MM-DD), got \(other.kind)")
            }
            guard let date = CalendarDate(iso: text) else { return issue("date", "'\(text)' is not a date (YYYY-MM-DD)") }
            // The census has no dates before 1900 or after 2099; year 0 is not a date PostgreSQL can store.
            guard (1900...2099).contains(date.year) else { return issue("date", "'\(text)' is not a date between 1900 and 2099") }
            return .success(.date(date))
        case (.choice(let options), _):
            let text: String
            switch input {
            case .json(.string(let s)): text = s
            case .text(let s): text = s.trimmingASCIIWhitespace()
            case .json(let other): return issue("type", "expected one of \(options.joined(separator: ", ")), got \(other.kind)")
            }
            guard options.contains(text) else {
                return issue("choice", "'\(text)' is not one of \(options.joined(separator: ", "))")
            }
            return .success(.choice(text))
        }
    }

    static func crossFieldIssues(_ v: [String: FieldValue]) -> [ReturnIssue] {
        var issues: [ReturnIssue] = []
        func count(_ key: String) -> Int? { v[key]?.count }
        // Each group's rules read its fields only when the return gives one of them: most returns give three
        // fields, and looking up the other groups' 80 keys was a third of the validation's time.
        let groups = CrossFieldKeys.Given(v.keys)
        // NSA (no specialist assessment) is for SEN support only.
        if groups.needs, let nsaE = count("primary_need.NSA.ehc_plan"), nsaE > 0 {
            issues.append(ReturnIssue(
                key: "primary_need.NSA.ehc_plan", code: "nsa_sen_support_only",
                message: "NSA (no specialist assessment) is recorded only for pupils on SEN support"))
        }
        // Every rule runs on whichever of its fields are valid, so one answer lists everything to fix: a roll of
        // 200 with sen_support 300 and ehc_plan −1 reports both the −1 and the 300.
        let roll = count("pupils_on_roll"), k = count("sen_support"), e = count("ehc_plan")
        if roll == 0 {
            // A school with no pupils has no rate to compare: a mistake to fix, not a return (nor a missing one).
            issues.append(ReturnIssue(key: "pupils_on_roll", code: "minimum", message: "pupils_on_roll must be at least 1"))
        }
        if let roll {
            switch (k, e) {
            case let (k?, e?) where k + e > roll:
                issues.append(ReturnIssue(
                    key: "sen_support", code: "exceeds_roll",
                    message: "sen_support + ehc_plan (\(k + e)) is more than pupils_on_roll (\(roll))"))
            case let (k?, nil) where k > roll:
                issues.append(ReturnIssue(
                    key: "sen_support", code: "exceeds_roll", message: "sen_support (\(k)) is more than pupils_on_roll (\(roll))"))
            case let (nil, e?) where e > roll:
                issues.append(ReturnIssue(
                    key: "ehc_plan", code: "exceeds_roll", message: "ehc_plan (\(e)) is more than pupils_on_roll (\(roll))"))
            default: break
            }
        }
        // Primary need: when given for a provision, the counts add up to its total. (The keys are the catalogue's,
        // made once: building them for every row was a tenth of the validation's time.)
        for case let (provision, keys, total?) in [(Provision.senSupport, CrossFieldKeys.needs[0], k), (.ehcPlan, CrossFieldKeys.needs[1], e)] where groups.needs {
            let given = keys.compactMap(count)
            if !given.isEmpty {
                let sum = given.reduce(0, +)
                if sum != total {
                    issues.append(ReturnIssue(
                        key: "primary_need", code: "sum_mismatch",
                        message: "primary need counts for \(provision.rawValue) add up to \(sum), but \(provision.rawValue) is \(total)",
                        column: "primary_need.*.\(provision.rawValue)"))
                }
            }
        }
        if groups.yearGroups {
            for case let (measure, path, total?) in [("sen_support", \CrossFieldKeys.YearGroup.support, k), ("ehc_plan", \.ehc, e), ("pupils_on_roll", \.roll, roll)] {
                let given = CrossFieldKeys.yearGroups.compactMap { count($0[keyPath: path]) }
                if measure == "pupils_on_roll" && given.isEmpty { continue }
                let sum = given.reduce(0, +)
                if sum != total {
                    issues.append(ReturnIssue(
                        key: "year_groups", code: "sum_mismatch",
                        message: "year group counts for \(measure) add up to \(sum), but \(measure) is \(total)",
                        column: "year_groups.*.\(measure)"))
                }
            }
            for keys in CrossFieldKeys.yearGroups {
                let group = keys.group
                if let groupRoll = count(keys.roll) {
                    let sen = (count(keys.support) ?? 0) + (count(keys.ehc) ?? 0)
                    if sen > groupRoll {
                        issues.append(ReturnIssue(
                            key: "year_groups.\(group).sen_support", code: "exceeds_roll",
                            message: "year \(group): pupils with SEN (\(sen)) are more than pupils on roll (\(groupRoll))"))
                    }
                }
            }
        }
        // Progress: expected ≤ assessed ≤ the group.
        for case let (provision, total, keys) in [(Provision.senSupport, k, CrossFieldKeys.progress[0]), (.ehcPlan, e, CrossFieldKeys.progress[1])] where groups.progress {
            for (subject, base, assessedKey, expectedKey) in keys {
                let assessed = count(assessedKey)
                let expected = count(expectedKey)
                if let assessed, let total, assessed > total {
                    issues.append(ReturnIssue(
                        key: "\(base).assessed", code: "exceeds_group",
                        message: "\(assessed) assessed in \(subject) is more than the \(total) pupils with \(provision.rawValue)"))
                }
                if let expected {
                    if let assessed {
                        if expected > assessed {
                            issues.append(ReturnIssue(
                                key: "\(base).expected", code: "exceeds_assessed",
                                message: "\(expected) making expected progress is more than the \(assessed) assessed"))
                        }
                    } else {
                        issues.append(ReturnIssue(
                            key: "\(base).assessed", code: "required",
                            message: "give the number assessed in \(subject) along with those making expected progress"))
                    }
                }
            }
        }
        if groups.senco, case .choice("in_progress")? = v["senco.national_award"], v["senco.award_since"] == nil {
            issues.append(ReturnIssue(
                key: "senco.award_since", code: "required",
                message: "give the date the SENCO started the National SENCO Award"))
        }
        return issues
    }

    /// Warnings against the school's return for the same term a year earlier, and the SENCO Award deadline.
    public static func warnings(
        for current: SENReturn, sameTermLastYear previous: (pupilsOnRoll: Int, senSupport: Int)?, censusDay: CalendarDate
    ) -> [ReturnWarning] {
        var warnings: [ReturnWarning] = []
        if let previous, previous.pupilsOnRoll > 0, current.pupilsOnRoll > 0 {
            let before = Double(previous.senSupport) / Double(previous.pupilsOnRoll)
            let now = Double(current.senSupport) / Double(current.pupilsOnRoll)
            if abs(now - before) > 0.05 {
                warnings.append(ReturnWarning(
                    code: "sen_support_rate_moved",
                    message: "the SEN support rate moved from \(percent(before)) to \(percent(now)) since the same term last year (more than 5 percentage points)"))
            }
            let change = Double(current.pupilsOnRoll - previous.pupilsOnRoll) / Double(previous.pupilsOnRoll)
            if abs(change) > 0.20 {
                warnings.append(ReturnWarning(
                    code: "roll_moved",
                    message: "pupils on roll moved from \(previous.pupilsOnRoll) to \(current.pupilsOnRoll) since the same term last year (more than 20%)"))
            }
        }
        // A new SENCO must gain the National SENCO Award within three years of starting.
        if case .date(let start)? = current.fields["senco.start_date"], current.fields["senco.national_award"] != .choice("held"),
            let deadline = CalendarDate(year: start.year + 3, month: start.month, day: min(start.day, 28)), deadline < censusDay
        {
            warnings.append(ReturnWarning(
                code: "senco_award_overdue",
                message: "the SENCO started on \(start) and does not hold the National SENCO Award three years on"))
        }
        return warnings
    }

    static func percent(_ value: Double) -> String {
        let tenths = (value * 1000).rounded()
        return "\(Int(tenths) / 10).\(Int(tenths) % 10)%"
    }
}

extension AcademicTerm {
    /// Returns may be submitted once the census day has passed.
    public func isOpen(on today: CalendarDate) -> Bool { censusDay <= today }
    /// Submitted after the deadline: accepted, and marked late.
    public func isLate(on today: CalendarDate) -> Bool { today > deadline }
}

extension SENReturnValidator {
    /// A stored return (already validated when it was written): every readable field, no cross-field checks.
    public static func decodeStored(_ json: JSONValue) -> SENReturn {
        let (raw, _) = fields(fromJSON: json)
        var values: [String: FieldValue] = [:]
        values.reserveCapacity(raw.count)
        for spec in ReturnField.all {
            if let input = raw[spec.key], case .success(let value?) = parse(input, spec) { values[spec.key] = value }
        }
        return SENReturn(fields: values)
    }
}

extension AcademicTerm {
    /// The academic years the database knows terms for (SQL/migrations/0001 seeds 2010-11 to 2040-41).
    public static let knownStartYears = 2010...2040
}

/// The catalogue's keys that `crossFieldIssues` reads, made once.
enum CrossFieldKeys {
    struct YearGroup: Sendable {
        let group: String
        let roll: String
        let support: String
        let ehc: String
    }

    /// `primary_need.<code>.sen_support` and then `.ehc_plan`, for every need code.
    static let needs: [[String]] = [Provision.senSupport, .ehcPlan].map { provision in
        NeedCode.allCases.map { "primary_need.\($0.rawValue).\(provision.rawValue)" }
    }

    /// For each provision, each subject's `progress.<provision>.<subject>` and its `.assessed` and `.expected` keys.
    static let progress: [[(subject: String, base: String, assessed: String, expected: String)]] = [Provision.senSupport, .ehcPlan].map { provision in
        ["reading", "writing", "maths"].map { subject in
            let base = "progress.\(provision.rawValue).\(subject)"
            return (subject, base, base + ".assessed", base + ".expected")
        }
    }

    /// Which groups of fields a return gives, read from its keys' prefixes without hashing them.
    struct Given {
        var needs = false, yearGroups = false, progress = false, senco = false

        init(_ keys: some Sequence<String>) {
            for key in keys {
                switch key.utf8.first {
                case UInt8(ascii: "p"):
                    if key.hasPrefix("primary_need.") { needs = true } else if key.hasPrefix("progress.") { progress = true }
                case UInt8(ascii: "y"):
                    if key.hasPrefix("year_groups.") { yearGroups = true }
                case UInt8(ascii: "s"):
                    if key.hasPrefix("senco.") { senco = true }
                default: break
                }
            }
        }
    }

    static let yearGroups: [YearGroup] = ReturnField.yearGroups.map {
        YearGroup(group: $0, roll: "year_groups.\($0).pupils_on_roll", support: "year_groups.\($0).sen_support", ehc: "year_groups.\($0).ehc_plan")
    }
}
