import Foundation
import Logging
import PostgresNIO
import SENCore

/// The demo: three trusts and sixteen schools of mixed phases with synthetic URNs (99xxxx, not used by DfE) in real
/// local authorities. Loading is idempotent, and goes through the server's own role and RLS (platform scope).
public enum DemoData {
    public struct School: Sendable {
        public let urn: Int
        public let name: String
        public let phase: Phase
        public let establishmentType: String
        public let laCode: Int
        public let laName: String
        public let region: String
        public let pupils: Int
    }

    public struct Trust: Sendable {
        public let id: TrustID
        public let name: String
        public let giasCode: String
        public let schools: [School]
    }

    public static let trusts: [Trust] = [
        Trust(
            id: TrustID("0d6f1a7e-3c1b-4c5e-9a57-1b8f0e6a2c01")!, name: "Pennine Learning Trust", giasCode: "TR99001",
            schools: [
                School(urn: 990_101, name: "Moorside Primary Academy", phase: .primary, establishmentType: "Academy converter", laCode: 352, laName: "Manchester", region: "North West", pupils: 420),
                School(urn: 990_102, name: "St Aidan's Church of England Primary", phase: .primary, establishmentType: "Academy converter", laCode: 350, laName: "Bolton", region: "North West", pupils: 210),
                School(urn: 990_103, name: "Heaton Brook Primary", phase: .primary, establishmentType: "Academy sponsor led", laCode: 380, laName: "Bradford", region: "Yorkshire and the Humber", pupils: 630),
                School(urn: 990_104, name: "Kirkgate Infant School", phase: .primary, establishmentType: "Academy converter", laCode: 383, laName: "Leeds", region: "Yorkshire and the Humber", pupils: 180),
                School(urn: 990_105, name: "Pennine High School", phase: .secondary, establishmentType: "Academy converter", laCode: 352, laName: "Manchester", region: "North West", pupils: 1150),
                School(urn: 990_106, name: "Aire Valley Academy", phase: .secondary, establishmentType: "Academy sponsor led", laCode: 380, laName: "Bradford", region: "Yorkshire and the Humber", pupils: 980),
                School(urn: 990_107, name: "Calder Bridge School", phase: .notApplicable, establishmentType: "Academy special converter", laCode: 383, laName: "Leeds", region: "Yorkshire and the Humber", pupils: 120),
            ]),
        Trust(
            id: TrustID("7c2e9b44-81d3-4f0a-b6e2-5d4c3a1f9e02")!, name: "Fenland Shores Academy Trust", giasCode: "TR99002",
            schools: [
                School(urn: 990_201, name: "Wensum Meadows Primary", phase: .primary, establishmentType: "Academy converter", laCode: 926, laName: "Norfolk", region: "East of England", pupils: 390),
                School(urn: 990_202, name: "Ely Fields Junior School", phase: .primary, establishmentType: "Academy converter", laCode: 873, laName: "Cambridgeshire", region: "East of England", pupils: 240),
                School(urn: 990_203, name: "Broadland Middle School", phase: .middleDeemedSecondary, establishmentType: "Academy converter", laCode: 926, laName: "Norfolk", region: "East of England", pupils: 520),
                School(urn: 990_204, name: "Chelmer Vale Academy", phase: .secondary, establishmentType: "Academy sponsor led", laCode: 881, laName: "Essex", region: "East of England", pupils: 1320),
                School(urn: 990_205, name: "Saltmarsh All-Through School", phase: .allThrough, establishmentType: "Free schools", laCode: 881, laName: "Essex", region: "East of England", pupils: 1480),
            ]),
        // A third trust in the same regions as the first, so regional research cells draw on two trusts.
        Trust(
            id: TrustID("3b8d5c12-6a4e-4f7b-9c21-8e0f2d7a4b03")!, name: "Northern Lights Partnership", giasCode: "TR99003",
            schools: [
                School(urn: 990_301, name: "Deane Valley Primary", phase: .primary, establishmentType: "Academy converter", laCode: 350, laName: "Bolton", region: "North West", pupils: 310),
                School(urn: 990_302, name: "Irwell Park High School", phase: .secondary, establishmentType: "Academy converter", laCode: 352, laName: "Manchester", region: "North West", pupils: 905),
                School(urn: 990_303, name: "Roundhay Fields Primary", phase: .primary, establishmentType: "Academy sponsor led", laCode: 383, laName: "Leeds", region: "Yorkshire and the Humber", pupils: 265),
                School(urn: 990_304, name: "Wharfedale Primary Academy", phase: .primary, establishmentType: "Academy converter", laCode: 380, laName: "Bradford", region: "Yorkshire and the Humber", pupils: 355),
            ]),
    ]

    /// Schools join their trust on 1 September 2020, before every demo term.
    public static let membershipStart = "2020-09-01"

    public static func load(into database: Database, logger: Logger) async throws {
        try await database.transaction(.platform, logger: logger) { connection in
            for trust in trusts {
                try await connection.query(
                    """
                    INSERT INTO trusts (trust_id, name, gias_code) VALUES (\(trust.id), \(trust.name), \(trust.giasCode))
                    ON CONFLICT (trust_id) DO NOTHING
                    """, logger: logger)
                for school in trust.schools {
                    try await connection.query(
                        """
                        INSERT INTO schools (urn, name, phase, establishment_type, la_code, la_name, region, status, number_of_pupils)
                        VALUES (\(school.urn), \(school.name), \(school.phase.rawValue), \(school.establishmentType),
                                \(school.laCode), \(school.laName), \(school.region), 'open', \(school.pupils))
                        ON CONFLICT (urn) DO NOTHING
                        """, logger: logger)
                    try await connection.query(
                        """
                        INSERT INTO trust_memberships (trust_id, urn, valid_from)
                        VALUES (\(trust.id), \(school.urn), \(membershipStart)::date)
                        ON CONFLICT DO NOTHING
                        """, logger: logger)
                }
            }
        }
        logger.info("demo data loaded", metadata: ["trusts": "\(trusts.count)", "schools": "\(trusts.map(\.schools.count).reduce(0, +))"])
    }
}

extension DemoData {
    /// A demo token, as written to `<data dir>/demo-tokens.json`.
    public struct Token: Sendable {
        public let token: String
        public let trustID: TrustID?
        public let urns: [URN]
    }

    /// One token per role, plus an executive of the second trust. Earlier demo tokens are revoked first, since a
    /// token is shown only once and the file is rewritten at every demo start.
    public static func issueTokens(store: TokenStore, logger: Logger) async throws -> [String: Token] {
        _ = try await store.database.transaction(.platform, logger: logger) { connection in
            try await connection.query(
                "UPDATE api_tokens SET revoked_at = now() WHERE label LIKE 'demo:%' AND revoked_at IS NULL", logger: logger)
        }
        let first = trusts[0]
        let second = trusts[1]
        let leaderSchools = [URN(first.schools[0].urn)!]
        let plan: [(String, Role, TrustID?, [URN])] = [
            ("admin", .admin, nil, []),
            ("trust_executive", .trustExecutive, first.id, []),
            ("school_leader", .schoolLeader, first.id, leaderSchools),
            ("researcher", .researcher, nil, []),
            ("other_trust_executive", .trustExecutive, second.id, []),
        ]
        var result: [String: Token] = [:]
        for (name, role, trust, urns) in plan {
            let issued = try await store.issue(
                role: role, trustID: trust, urns: urns, label: "demo:\(name)", expiresAt: nil, createdBy: nil,
                scope: .platform, logger: logger)
            let schools = role == .trustExecutive ? trusts.first { $0.id == trust }!.schools.compactMap { URN($0.urn) } : urns
            result[name] = Token(token: issued.token, trustID: trust, urns: schools)
        }
        return result
    }
}

extension DemoData {
    /// The demo's people: one per role (and an executive of the second trust), as if each had signed in with an
    /// identity provider and accepted an invitation — the real path (`PeopleStore.invite`, `signedIn`). Their
    /// memberships are what the demo's sign-in buttons act in, so the demo shows people, not tokens.
    public struct Person: Sendable {
        public let person: UUID
        public let membership: TokenID
        public let name: String
    }

    public static let demoIssuer = "https://demo.senstat.invalid"

    public static func seedPeople(store: PeopleStore, logger: Logger) async throws -> [String: Person] {
        let first = trusts[0]
        let second = trusts[1]
        let plan: [(String, String, Role, TrustID?, [URN])] = [
            ("admin", "Robin Admin", .admin, nil, []),
            ("trust_executive", "Alex Morgan", .trustExecutive, first.id, []),
            ("school_leader", "Sam Patel", .schoolLeader, first.id, [URN(first.schools[0].urn)!]),
            ("researcher", "Jo Researcher", .researcher, nil, []),
            ("other_trust_executive", "Chris Okafor", .trustExecutive, second.id, []),
        ]
        var result: [String: Person] = [:]
        for (name, display, role, trust, urns) in plan {
            let email = display.lowercased().replacingOccurrences(of: " ", with: ".") + "@demo.senstat.invalid"
            let who = PeopleStore.SignedIn(issuer: demoIssuer, subject: "demo-" + name, email: email, emailVerified: true, name: display, organisations: [])
            var signedIn = try await store.signedIn(who, logger: logger)
            if !signedIn.memberships.contains(where: { $0.role == role && $0.trustID == trust }) {
                _ = try await store.invite(
                    email: email, role: role, trust: trust, urns: urns, organisation: nil, days: 1, invitedBy: nil, scope: .platform, logger: logger)
                signedIn = try await store.signedIn(who, logger: logger)
            }
            guard let membership = signedIn.memberships.first(where: { $0.role == role && $0.trustID == trust }) else { continue }
            result[name] = Person(person: signedIn.person, membership: membership.id, name: display)
        }
        return result
    }
}
