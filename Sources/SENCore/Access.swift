/// Who may use senstat, and for what.
public enum Role: String, CaseIterable, Sendable, Codable {
    /// Runs the platform: trusts, tokens, the register and national data.
    case admin
    /// One trust: every school of it; approves returns; issues school-leader tokens for its schools.
    case trustExecutive = "trust_executive"
    /// One or more schools of one trust: submits and reads their returns.
    case schoolLeader = "school_leader"
    /// No trust: aggregate research endpoints only.
    case researcher

    /// Trust roles are bound to exactly one trust; the others to none.
    public var needsTrust: Bool { self == .trustExecutive || self == .schoolLeader }
}

/// The authenticated caller, resolved from a bearer token.
public struct Principal: Sendable, Equatable {
    public let tokenID: TokenID
    public let role: Role
    public let trustID: TrustID?
    /// Schools a school leader may act for; empty for other roles.
    public let urns: Set<URN>

    public init(tokenID: TokenID, role: Role, trustID: TrustID?, urns: Set<URN>) {
        self.tokenID = tokenID
        self.role = role
        self.trustID = trustID
        self.urns = urns
    }

    /// Whether the caller may see `trust` at all (its own trust, or any trust for an admin).
    public func canSee(trust: TrustID) -> Bool {
        role == .admin || (role.needsTrust && trustID == trust)
    }

    /// Whether the caller may see a school that currently belongs to `trust` (nil: in no trust).
    public func canSee(school urn: URN, currentTrust trust: TrustID?) -> Bool {
        switch role {
        case .admin: true
        case .trustExecutive: trust != nil && trust == trustID
        case .schoolLeader: trust != nil && trust == trustID && urns.contains(urn)
        case .researcher: false
        }
    }

    /// Tokens an issuer may create: an admin any; a trust executive school leaders of its own trust's schools.
    public func mayIssue(role newRole: Role, trust: TrustID?) -> Bool {
        switch role {
        case .admin: true
        case .trustExecutive: newRole == .schoolLeader && trust == trustID
        case .schoolLeader, .researcher: false
        }
    }

    /// Roles a person may give other people (invitations, memberships): an admin any; a trust executive school
    /// leaders and other executives of its own trust.
    public func mayInvite(role newRole: Role, trust: TrustID?) -> Bool {
        switch role {
        case .admin: true
        case .trustExecutive: (newRole == .schoolLeader || newRole == .trustExecutive) && trust != nil && trust == trustID
        case .schoolLeader, .researcher: false
        }
    }
}

/// Bearer tokens: `sst_` and 43 base64url characters (32 random bytes from the system's cryptographic source).
/// Only a SHA-256 digest is ever stored.
public enum BearerToken {
    public static let prefix = "sst_"
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// A new token. `SystemRandomNumberGenerator` reads the kernel's CSPRNG (getrandom on Linux).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + base64url(bytes)
    }

    /// Whether `text` has the shape of a token (so malformed headers are refused before any lookup).
    public static func isWellFormed(_ text: some StringProtocol) -> Bool {
        guard text.hasPrefix(prefix) else { return false }
        let body = text.utf8.dropFirst(prefix.utf8.count)
        return body.count == 43 && body.allSatisfy { alphabet.contains($0) }
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [18, 12, 6, 0].map { alphabet[Int((n >> $0) & 63)] }
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [18, 12].map { alphabet[Int((n >> $0) & 63)] }
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [18, 12, 6].map { alphabet[Int((n >> $0) & 63)] }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compares two digests in time that does not depend on where they differ.
    public static func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
