/// Phase of education as GIAS names it (`PhaseOfEducation (name)`), stored in snake_case.
public enum Phase: String, CaseIterable, Sendable, Codable {
    case nursery
    case primary
    case middleDeemedPrimary = "middle_deemed_primary"
    case secondary
    case middleDeemedSecondary = "middle_deemed_secondary"
    case sixteenPlus = "16_plus"
    case allThrough = "all_through"
    case notApplicable = "not_applicable"

    /// Maps GIAS's label (for example "Middle deemed primary", "16 plus") to a phase; unknown labels are nil.
    public init?(giasName: String) {
        let normalised = giasName.trimmingASCIIWhitespace().lowercased()
        switch normalised {
        case "nursery": self = .nursery
        case "primary": self = .primary
        case "middle deemed primary": self = .middleDeemedPrimary
        case "secondary": self = .secondary
        case "middle deemed secondary": self = .middleDeemedSecondary
        case "16 plus": self = .sixteenPlus
        case "all-through", "all through": self = .allThrough
        case "not applicable", "": self = .notApplicable
        default: return nil
        }
    }
}

/// School census SEN provision: E (EHC plan), K (SEN support), N (no SEN).
public enum Provision: String, CaseIterable, Sendable, Codable {
    case ehcPlan = "ehc_plan"
    case senSupport = "sen_support"

    public var censusCode: String { self == .ehcPlan ? "E" : "K" }
}

/// Primary type of need, as coded in the school census.
public enum NeedCode: String, CaseIterable, Sendable, Codable {
    case SPLD, MLD, SLD, PMLD, SLCN, ASD, SEMH, HI, VI, MSI, PD, OTH, NSA

    public enum BroadArea: String, Sendable {
        case cognitionAndLearning = "cognition_and_learning"
        case communicationAndInteraction = "communication_and_interaction"
        case socialEmotionalMentalHealth = "social_emotional_and_mental_health"
        case sensoryPhysical = "sensory_and_or_physical"
        case none
    }

    public var label: String {
        switch self {
        case .SPLD: "Specific learning difficulty"
        case .MLD: "Moderate learning difficulty"
        case .SLD: "Severe learning difficulty"
        case .PMLD: "Profound and multiple learning difficulty"
        case .SLCN: "Speech, language and communication needs"
        case .ASD: "Autistic spectrum disorder"
        case .SEMH: "Social, emotional and mental health"
        case .HI: "Hearing impairment"
        case .VI: "Vision impairment"
        case .MSI: "Multi-sensory impairment"
        case .PD: "Physical disability"
        case .OTH: "Other difficulty or disability"
        case .NSA: "SEN support but no specialist assessment of type of need"
        }
    }

    public var broadArea: BroadArea {
        switch self {
        case .SPLD, .MLD, .SLD, .PMLD: .cognitionAndLearning
        case .SLCN, .ASD: .communicationAndInteraction
        case .SEMH: .socialEmotionalMentalHealth
        case .HI, .VI, .MSI, .PD: .sensoryPhysical
        case .OTH, .NSA: .none
        }
    }

    /// NSA (no specialist assessment) is recorded only for pupils on SEN support.
    public func allowed(for provision: Provision) -> Bool { self != .NSA || provision == .senSupport }

    /// Long series before 2014 call SEMH "BESD".
    public init?(censusCode: String) {
        let code = censusCode.trimmingASCIIWhitespace().uppercased()
        if code == "BESD" {
            self = .SEMH
        } else if let need = NeedCode(rawValue: code) {
            self = need
        } else {
            return nil
        }
    }
}

/// `EstablishmentStatus (name)` in GIAS.
public enum EstablishmentStatus: String, CaseIterable, Sendable, Codable {
    case open
    case closed
    case openProposedToClose = "open_proposed_to_close"
    case proposedToOpen = "proposed_to_open"

    public init?(giasName: String) {
        switch giasName.trimmingASCIIWhitespace().lowercased() {
        case "open": self = .open
        case "closed": self = .closed
        case "open, but proposed to close": self = .openProposedToClose
        case "proposed to open": self = .proposedToOpen
        default: return nil
        }
    }
}

extension StringProtocol {
    /// Trims spaces, tabs, CR and LF without Foundation.
    /// The length PostgreSQL's `length()` and `char_length()` give: code points, not the grapheme clusters that
    /// `count` gives ("e" with 600 combining accents is one Character and 601 code points).
    public var databaseLength: Int { unicodeScalars.count }

    public func trimmingASCIIWhitespace() -> String {
        // Most cells have nothing to trim: when neither end is one of the four, the string is its own answer,
        // without walking its characters.
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        if let first, let last, !isSpace(first), !isSpace(last) { return String(self) }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[start...end])
    }
}
