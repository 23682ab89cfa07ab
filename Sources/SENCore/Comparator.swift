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
        let type = establishmentType.lowercased()
        if type.contains("special") {
            return (.allSchools, "special schools are compared with all schools")
        }
        if type.contains("pupil referral") || type.contains("alternative provision") {
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
