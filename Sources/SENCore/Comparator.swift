/// The national figures a school is compared with: which phase of DfE's series, at which level, for which year.
public enum ComparatorPhase: String, Sendable, Codable, CaseIterable {
    case allSchools = "all"
    case stateFundedPrimary = "state_funded_primary"
    case stateFundedSecondary = "state_funded_secondary"

    public var label: String {
        switch self {
        case .allSchools: "all schools"
        case .stateFundedPrimary: "state-funded primary"
        case .stateFundedSecondary: "state-funded secondary"
        }
    }

    /// Primary and middle-deemed-primary schools against state-funded primary; secondary, middle-deemed-secondary
    /// and 16-plus against state-funded secondary; special schools, alternative provision, all-through and the
    /// rest against all schools, since DfE's phase series do not describe them.
    public static func forSchool(phase: String, establishmentType: String) -> (phase: ComparatorPhase, reason: String) {
        // Every school of every comparison passes here: a byte search, not lowercased() + contains (the latter was
        // a tenth of a comparison's CPU time).
        let type = establishmentType
        if type.containsIgnoringASCIICase("special") {
            return (.allSchools, "special schools are compared with all schools")
        }
        if type.containsIgnoringASCIICase("pupil referral") || type.containsIgnoringASCIICase("alternative provision") {
            return (.allSchools, "alternative provision is compared with all schools")
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
