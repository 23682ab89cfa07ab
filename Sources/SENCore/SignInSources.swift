/// The email domains and identity-provider tenants a trust signs in from (Docs/security.md "People, memberships and
/// tokens"): each value checked alone, so that a form or an API body names the one at fault.
public enum SignInSourceCheck {
    public enum Problem: Error, Equatable, Sendable {
        case notADomain
        case consumerDomain
        case notATenant
        case tooMany

        public var code: String {
            switch self {
            case .notADomain: "not_a_domain"
            case .consumerDomain: "consumer_domain"
            case .notATenant: "not_a_tenant"
            case .tooMany: "too_many"
            }
        }

        public func message(_ value: String) -> String {
            switch self {
            case .notADomain: "'\(value)' is not an email domain such as pennine.sch.uk"
            case .consumerDomain: "'\(value)' is a personal email service: anyone can have an address there, so it cannot admit people to a trust"
            case .notATenant: "'\(value)' is neither a Microsoft Entra tenant id (a GUID) nor a Google Workspace domain"
            case .tooMany: "a trust lists at most \(SignInSourceCheck.limit) domains and \(SignInSourceCheck.limit) tenants"
            }
        }
    }

    public static let limit = 50

    /// A lower-cased domain, or why it cannot be one: letters, digits and hyphens in dot-separated labels of 1-63
    /// characters, at least two labels, the last alphabetic, 253 characters at most.
    public static func domain(_ text: String) -> Result<String, Problem> {
        var value = trimmed(text)
        if value.hasPrefix("@") { value.removeFirst() }
        guard isDomain(value) else { return .failure(.notADomain) }
        guard !ConsumerEmailDomains.all.contains(value) else { return .failure(.consumerDomain) }
        return .success(value)
    }

    /// A tenant: an Entra `tid` (a GUID, lower-cased) or a Google `hd` (a domain, not a consumer one).
    public static func tenant(_ text: String) -> Result<String, Problem> {
        let value = trimmed(text)
        if isGUID(value) { return .success(value) }
        guard isDomain(value) else { return .failure(.notATenant) }
        guard !ConsumerEmailDomains.all.contains(value) else { return .failure(.consumerDomain) }
        return .success(value)
    }

    static func trimmed(_ text: String) -> String {
        String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()).lowercased()
    }

    static func isDomain(_ value: String) -> Bool {
        let labels = value.split(separator: ".", omittingEmptySubsequences: false)
        guard value.utf8.count <= 253, labels.count >= 2, let last = labels.last, last.allSatisfy({ $0.isASCII && $0.isLetter }) else { return false }
        return labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        }
    }

    static func isGUID(_ value: String) -> Bool {
        let groups = value.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.utf8.count) == [8, 4, 4, 4, 12]
            && groups.allSatisfy { $0.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) } }
    }
}
