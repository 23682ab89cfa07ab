/// The fields of a termly SEN return. One catalogue serves the JSON body (nested objects), the CSV import and
/// export (one column per field, `urn` first, nested names joined with dots), validation and version diffs.
public enum ReturnField {
    public enum Kind: Sendable, Equatable {
        /// A whole number of pupils (or sessions), 0...limit.
        case count(limit: Int)
        /// A decimal such as hours or FTE, 0...limit.
        case decimal(limit: Double)
        case bool
        case date
        case choice([String])
    }

    public struct Spec: Sendable {
        public let key: String
        public let kind: Kind
    }

    public static let yearGroups = ["R"] + (1...13).map { "Y\($0)" }
    public static let awardStatuses = ["held", "in_progress", "not_started"]
    static let pupilLimit = 10_000

    /// Every field, in CSV column order.
    public static let all: [Spec] = {
        var specs: [Spec] = [
            Spec(key: "pupils_on_roll", kind: .count(limit: pupilLimit)),
            Spec(key: "sen_support", kind: .count(limit: pupilLimit)),
            Spec(key: "ehc_plan", kind: .count(limit: pupilLimit)),
        ]
        for need in NeedCode.allCases {
            for provision in Provision.allCases.reversed() {
                specs.append(Spec(key: "primary_need.\(need.rawValue).\(provision.rawValue)", kind: .count(limit: pupilLimit)))
            }
        }
        for group in yearGroups {
            for measure in ["pupils_on_roll", "sen_support", "ehc_plan"] {
                specs.append(Spec(key: "year_groups.\(group).\(measure)", kind: .count(limit: pupilLimit)))
            }
        }
        specs += [
            Spec(key: "senco.on_slt", kind: .bool),
            Spec(key: "senco.national_award", kind: .choice(awardStatuses)),
            Spec(key: "senco.award_since", kind: .date),
            Spec(key: "senco.start_date", kind: .date),
            Spec(key: "senco.hours_per_week", kind: .decimal(limit: 80)),
            Spec(key: "senco.ta_fte", kind: .decimal(limit: 500)),
            Spec(key: "senco.governor_meetings", kind: .count(limit: 100)),
            Spec(key: "senco.cpd_sessions", kind: .count(limit: 100)),
            Spec(key: "senco.learning_walks", kind: .count(limit: 100)),
            Spec(key: "senco.parent_forum", kind: .bool),
        ]
        for group in Provision.allCases.reversed() {
            for subject in ["reading", "writing", "maths"] {
                for measure in ["assessed", "expected"] {
                    specs.append(Spec(key: "progress.\(group.rawValue).\(subject).\(measure)", kind: .count(limit: pupilLimit)))
                }
            }
        }
        return specs
    }()

    public static let byKey: [String: Spec] = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })
    /// Each field's place in `all`.
    static let position: [String: Int] = Dictionary(uniqueKeysWithValues: all.enumerated().map { ($1.key, $0) })
    public static let required = ["pupils_on_roll", "sen_support", "ehc_plan"]

    /// `primary_need.SLCN.sen_support` → `/primary_need/SLCN/sen_support`.
    public static func pointer(_ key: String) -> String {
        "/" + key.replacingOccurrences(of: Character("."), with: Character("/"))
    }
}

/// A validated field value.
public enum FieldValue: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case decimal(Double)
    case bool(Bool)
    case date(CalendarDate)
    case choice(String)

    public var description: String {
        switch self {
        case .count(let n): String(n)
        case .decimal(let d): d == d.rounded() ? String(Int(d)) : String(d)
        case .bool(let b): b ? "true" : "false"
        case .date(let d): d.description
        case .choice(let s): s
        }
    }

    public var json: JSONValue {
        switch self {
        case .count(let n): .integer(Int64(n))
        case .decimal(let d): .number(d)
        case .bool(let b): .bool(b)
        case .date(let d): .string(d.description)
        case .choice(let s): .string(s)
        }
    }

    var count: Int? {
        if case .count(let n) = self { return n }
        return nil
    }
}

extension String {
    func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
