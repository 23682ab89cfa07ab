/// A survey instrument: versioned items with codes and response options. Single-choice items take one option per
/// respondent; multiple-choice items may take several.
public struct Instrument: Sendable, Equatable, Codable {
    public struct Item: Sendable, Equatable, Codable {
        public let code: String
        public let text: String
        public let options: [String]
        public let multiple: Bool?

        public init(code: String, text: String, options: [String], multiple: Bool? = nil) {
            self.code = code
            self.text = text
            self.options = options
            self.multiple = multiple
        }

        public var isMultiple: Bool { multiple ?? false }
    }

    public let code: String
    public let version: Int
    public let title: String
    public let audience: String
    public let items: [Item]

    public init(code: String, version: Int, title: String, audience: String, items: [Item]) {
        self.code = code
        self.version = version
        self.title = title
        self.audience = audience
        self.items = items
    }

    static func isCode(_ text: String, max: Int = 40) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first), text.count <= max + 1, text.count >= 2 else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// Problems with a new instrument's definition (pointer, message).
    public func problems() -> [(pointer: String, message: String)] {
        var problems: [(String, String)] = []
        if !Self.isCode(code) { problems.append(("/code", "a code is lower-case letters, digits and _")) }
        if !(1...Int(Int32.max)).contains(version) { problems.append(("/version", "a version is a whole number from 1")) }
        if !["school_leaders", "pupils"].contains(audience) { problems.append(("/audience", "audience is school_leaders or pupils")) }
        if title.trimmingASCIIWhitespace().isEmpty || title.databaseLength > 200 { problems.append(("/title", "a title has 1 to 200 characters")) }
        if items.isEmpty { problems.append(("/items", "an instrument has at least one item")) }
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            if !Self.isCode(item.code) { problems.append(("/items/\(index)/code", "a code is lower-case letters, digits and _")) }
            if !seen.insert(item.code).inserted { problems.append(("/items/\(index)/code", "\(item.code) appears twice")) }
            if item.options.count < 2 || Set(item.options).count != item.options.count || !item.options.allSatisfy({ Self.isCode($0) }) {
                problems.append(("/items/\(index)/options", "at least two distinct option codes"))
            }
            if item.text.isEmpty || item.text.databaseLength > 300 { problems.append(("/items/\(index)/text", "item text has 1 to 300 characters")) }
        }
        return problems
    }
}

/// A school's aggregated answers: respondents and, per item, how many chose each option. Nothing individual.
public struct SurveyCounts: Sendable, Equatable {
    public let respondents: Int
    public let items: [String: [String: Int]]
    public let yearGroups: [String: SurveyCounts]

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "respondents": .integer(Int64(respondents)),
            "items": .object(items.mapValues { .object($0.mapValues { .integer(Int64($0)) }) }),
        ]
        if !yearGroups.isEmpty { object["year_groups"] = .object(yearGroups.mapValues(\.json)) }
        return .object(object)
    }
}

public enum SurveyValidator {
    static let respondentLimit = 100_000

    /// Validates a survey body against an instrument: every problem at once, with JSON pointers.
    public static func validate(_ body: JSONValue, instrument: Instrument) -> Checked<SurveyCounts, ReturnIssue> {
        var issues: [ReturnIssue] = []
        let counts = parse(body, instrument: instrument, prefix: "", issues: &issues, allowYearGroups: true)
        if let counts, issues.isEmpty { return .success(counts) }
        return .failure(issues)
    }

    static func issue(_ path: String, _ code: String, _ message: String) -> ReturnIssue {
        ReturnIssue(key: path.isEmpty ? "" : path, code: code, message: message)
    }

    static func count(_ value: JSONValue?, _ path: String, limit: Int, issues: inout [ReturnIssue]) -> Int? {
        switch value {
        case .integer(let n) where n >= 0 && n <= limit: return Int(n)
        case .integer(let n) where n < 0: issues.append(issue(path, "minimum", "\(path) must be 0 or more"))
        case .integer: issues.append(issue(path, "maximum", "\(path) must be at most \(limit)"))
        case .number(let d) where d == d.rounded() && d >= 0 && d <= Double(limit): return Int(d)
        case .number: issues.append(issue(path, "integer", "\(path) must be a whole number from 0 to \(limit)"))
        case nil, .null: issues.append(issue(path, "required", "\(path) is required"))
        case .some(let other): issues.append(issue(path, "type", "expected a whole number, got \(other.kind)"))
        }
        return nil
    }

    static func parse(
        _ body: JSONValue, instrument: Instrument, prefix: String, issues: inout [ReturnIssue], allowYearGroups: Bool
    ) -> SurveyCounts? {
        guard case .object(let root) = body else {
            issues.append(issue(prefix, "type", "expected an object"))
            return nil
        }
        let allowed: Set<String> = allowYearGroups ? ["respondents", "items", "year_groups", "instrument_version"] : ["respondents", "items"]
        for key in root.keys.sorted() where !allowed.contains(key) {
            issues.append(issue("\(prefix).\(key)".trimmingDot, "unknown_field", "\(key) is not a field of a survey return; free text is not accepted"))
        }
        let respondents = count(root["respondents"], "\(prefix).respondents".trimmingDot, limit: respondentLimit, issues: &issues)
        var items: [String: [String: Int]] = [:]
        switch root["items"] {
        case .object(let given):
            let byCode = Dictionary(uniqueKeysWithValues: instrument.items.map { ($0.code, $0) })
            for (code, value) in given.sorted(by: { $0.key < $1.key }) {
                let path = "\(prefix).items.\(code)".trimmingDot
                guard let item = byCode[code] else {
                    issues.append(issue(path, "unknown_item", "\(code) is not an item of \(instrument.code) v\(instrument.version)"))
                    continue
                }
                guard case .object(let options) = value else {
                    issues.append(issue(path, "type", "expected an object of option counts"))
                    continue
                }
                var chosen: [String: Int] = [:]
                for (option, raw) in options.sorted(by: { $0.key < $1.key }) {
                    let optionPath = "\(path).\(option)"
                    guard item.options.contains(option) else {
                        issues.append(issue(optionPath, "unknown_option", "\(option) is not an option of \(code)"))
                        continue
                    }
                    if let n = count(raw, optionPath, limit: respondentLimit, issues: &issues) {
                        if let respondents, n > respondents {
                            issues.append(issue(optionPath, "exceeds_respondents", "\(n) is more than the \(respondents) respondents"))
                        }
                        chosen[option] = n
                    }
                }
                if !item.isMultiple, let respondents, chosen.values.reduce(0, +) > respondents {
                    issues.append(issue(path, "exceeds_respondents", "answers to \(code) add up to more than the \(respondents) respondents"))
                }
                items[code] = chosen
            }
        case nil, .null:
            issues.append(issue("\(prefix).items".trimmingDot, "required", "items is required"))
        case .some(let other):
            issues.append(issue("\(prefix).items".trimmingDot, "type", "expected an object, got \(other.kind)"))
        }
        var groups: [String: SurveyCounts] = [:]
        if allowYearGroups, let yearGroups = root["year_groups"] {
            if case .object(let given) = yearGroups {
                for (group, value) in given.sorted(by: { $0.key < $1.key }) {
                    let path = "year_groups.\(group)"
                    guard ReturnField.yearGroups.contains(group) else {
                        issues.append(issue(path, "unknown_year_group", "\(group) is not a year group (R, Y1 ... Y13)"))
                        continue
                    }
                    if let parsed = parse(value, instrument: instrument, prefix: path, issues: &issues, allowYearGroups: false) {
                        groups[group] = parsed
                    }
                }
                if let respondents, groups.values.map(\.respondents).reduce(0, +) > respondents {
                    issues.append(issue("year_groups", "exceeds_respondents", "year groups' respondents add up to more than \(respondents)"))
                }
            } else if yearGroups != .null {
                issues.append(issue("year_groups", "type", "expected an object keyed by year group"))
            }
        }
        guard let respondents else { return nil }
        return SurveyCounts(respondents: respondents, items: items, yearGroups: groups)
    }
}

extension String {
    var trimmingDot: String { hasPrefix(".") ? String(dropFirst()) : self }
}
