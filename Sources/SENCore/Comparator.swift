/// The national figures a school is compared with: which phase of DfE's series, at which level, for which year.
public enum ComparatorPhase: String, Sendable, Codable, CaseIterable {
    case allSchools = "all"
    case stateFundedPrimary = "state_funded_primary"
    case stateFundedSecondary = "state_funded_secondary"
    /// State-funded special schools (DfE's `phase_type_grouping` "State-funded special school").
    case special
    /// Pupil referral units and alternative provision ("Pupil referral unit", from 2024/25 "State-funded
    /// alternative provision").
    case alternativeProvision = "alternative_provision"

    public var label: String {
        switch self {
        case .allSchools: "all schools"
        case .stateFundedPrimary: "state-funded primary"
        case .stateFundedSecondary: "state-funded secondary"
        case .special: "state-funded special schools"
        case .alternativeProvision: "alternative provision"
        }
    }

    /// Which schools a comparator describes: special schools and alternative provision are compared only with
    /// their own kind, shown apart, and left out of the mainstream schools' over-dispersion.
    public enum Setting: String, Sendable, Codable, CaseIterable {
        case mainstream
        case special
        case alternativeProvision = "alternative_provision"
    }

    public var setting: Setting {
        switch self {
        case .special: .special
        case .alternativeProvision: .alternativeProvision
        default: .mainstream
        }
    }

    /// Primary and middle-deemed-primary schools against state-funded primary; secondary, middle-deemed-secondary
    /// and 16-plus against state-funded secondary; special schools against state-funded special schools and
    /// pupil referral units / alternative provision against alternative provision (where those rates are loaded:
    /// the shipped LAIT series has none, DfE's sen_phase_type file has them); all-through and the rest against
    /// all schools, since DfE's phase series do not describe them.
    public static func forSchool(phase: String, establishmentType: String) -> (phase: ComparatorPhase, reason: String) {
        // Every school of every comparison passes here: a byte search, not lowercased() + contains (the latter was
        // a tenth of a comparison's CPU time).
        let type = establishmentType
        if type.containsIgnoringASCIICase("special") {
            return (.special, "special schools are compared with state-funded special schools")
        }
        if type.containsIgnoringASCIICase("pupil referral") || type.containsIgnoringASCIICase("alternative provision") {
            return (.alternativeProvision, "alternative provision is compared with alternative provision")
        }
        switch Phase(rawValue: phase) {
        case .primary, .middleDeemedPrimary:
            return (.stateFundedPrimary, "primary phase")
        case .secondary, .middleDeemedSecondary, .sixteenPlus:
            return (.stateFundedSecondary, "secondary phase")
        case .allThrough:
            return (.allSchools, "all-through schools are compared with all schools")
        default:
            return (.allSchools, "schools of phase '\(phase)' are compared with all schools")
        }
    }
}

public enum ComparatorLevel: String, Sendable, Codable, CaseIterable {
    case national, regional, la
}

extension String {
    /// Whether `needle` (lower-case ASCII) occurs in this string, ignoring the case of ASCII letters.
    func containsIgnoringASCIICase(_ needle: String) -> Bool {
        let haystack = Array(utf8), pattern = Array(needle.utf8)
        guard pattern.count <= haystack.count else { return pattern.isEmpty }
        for start in 0...(haystack.count - pattern.count) {
            var index = 0
            while index < pattern.count {
                var byte = haystack[start + index]
                if byte >= 0x41 && byte <= 0x5A { byte += 0x20 }
                if byte != pattern[index] { break }
                index += 1
            }
            if index == pattern.count { return true }
        }
        return false
    }
}
