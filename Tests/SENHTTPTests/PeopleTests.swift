import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SENAPI
import SENCore
import SENHTTP
import SENStore
import SENTestSupport
import Testing

/// A trust managing its people through the API (the web app's People page calls the same handlers): invitations,
/// memberships, the people waiting for a role, sign-in sources and the audit trail — each confined to the trust.
@Suite struct PeopleTests {
    static let issuer = "https://idp.test.example"

    /// A person signing in, as the sign-in controller records one after every check of the id_token.
    static func signIn(
        _ db: TestDatabase, subject: String, email: String, verified: Bool = true, tenant: String? = nil, organisations: [String] = []
    ) async throws -> (person: UUID, accepted: Int, memberships: [Membership]) {
        try await db.withDatabase { database in
            let result = try await PeopleStore(database: database).signedIn(
                .init(issuer: issuer, subject: subject, email: email, emailVerified: verified, name: "Person \(subject)", organisations: organisations, tenant: tenant),
                logger: Logger.test)
            return (result.person, result.accepted, result.memberships)
        }
    }

    static func send(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, as who: String, _ f: Fixture, body: String? = nil
    ) async throws -> TestResponse {
        var headers = f.headers(who)
        if body != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    @Test func anExecutiveInvitesWithdrawsAndRemovesWithinItsTrustOnly() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let a = f.trustA.id.uuidString
            try await withApp(db) { client in
                let me = try await Self.send(client, .get, "/v1/me", as: "trust_executive", f).decode(Me.self)
                // Every field checked at once.
                let bad = try await Self.send(
                    client, .post, "/v1/invitations", as: "trust_executive", f,
                    body: #"{"email": "not an email", "role": "school_leader", "urns": [\#(f.foreignSchool.urn)], "expires_in_days": 0}"#)
                #expect(bad.status == .unprocessableContent)
                let pointers = Set(try bad.problem.errors?.compactMap(\.pointer) ?? [])
                #expect(pointers == ["/email", "/expires_in_days"], "\(bad.text)")
                let foreign = try await Self.send(
                    client, .post, "/v1/invitations", as: "trust_executive", f,
                    body: #"{"email": "head@pennine.sch.uk", "role": "school_leader", "urns": [\#(f.foreignSchool.urn)]}"#)
                #expect(foreign.status == .unprocessableContent)
                #expect(try foreign.problem.errors?.first?.code == "not_in_trust")
                for (role, extra) in [("admin", ""), ("researcher", "")] {
                    let refused = try await Self.send(
                        client, .post, "/v1/invitations", as: "trust_executive", f, body: #"{"email": "x@pennine.sch.uk", "role": "\#(role)"\#(extra)}"#)
                    #expect(refused.status == .forbidden, "\(role)")
                }
                // A school leader and another executive.
                let leader = try await Self.send(
                    client, .post, "/v1/invitations", as: "trust_executive", f,
                    body: #"{"email": " Head@Pennine.SCH.uk ", "role": "school_leader", "urns": [\#(f.ownSchool.urn)]}"#)
                #expect(leader.status == .created)
                let invitation = try leader.decode(InvitationBody.self)
                #expect(invitation.email == "head@pennine.sch.uk" && invitation.status == "open" && invitation.trustID == a)
                let withdrawnInvitation = try await Self.send(
                    client, .post, "/v1/invitations", as: "trust_executive", f, body: #"{"email": "deputy@pennine.sch.uk", "role": "trust_executive"}"#
                ).decode(InvitationBody.self)

                // The other trust sees none of it and cannot withdraw it.
                let otherList = try await Self.send(client, .get, "/v1/invitations", as: "other_trust_executive", f).decode(InvitationList.self)
                #expect(!otherList.invitations.contains { $0.id == invitation.id })
                #expect(try await Self.send(client, .delete, "/v1/invitations/\(invitation.id)", as: "other_trust_executive", f).status == .notFound)
                #expect(try await Self.send(client, .delete, "/v1/invitations/\(withdrawnInvitation.id)", as: "trust_executive", f).status == .noContent)
                #expect(try await Self.send(client, .delete, "/v1/invitations/\(withdrawnInvitation.id)", as: "trust_executive", f).status == .notFound)

                // Accepted by a verified sign-in: the withdrawn one is not.
                let head = try await Self.signIn(db, subject: "head-1", email: "head@pennine.sch.uk")
                #expect(head.accepted == 1 && head.memberships.map(\.role) == [.schoolLeader])
                let deputy = try await Self.signIn(db, subject: "deputy-1", email: "deputy@pennine.sch.uk")
                #expect(deputy.accepted == 0 && deputy.memberships.isEmpty)
                // Used once: another identity with the same email gets nothing.
                #expect(try await Self.signIn(db, subject: "head-2", email: "head@pennine.sch.uk").accepted == 0)
                let statuses = try await Self.send(client, .get, "/v1/invitations", as: "trust_executive", f).decode(InvitationList.self)
                    .invitations.reduce(into: [String: String]()) { $0[$1.id] = $1.status }
                #expect(statuses[invitation.id] == "accepted" && statuses[withdrawnInvitation.id] == "withdrawn")

                // The trust lists the membership; the other trust does not see it, nor remove it.
                let held = try await Self.send(client, .get, "/v1/memberships", as: "trust_executive", f).decode(MembershipList.self)
                let membership = try #require(held.memberships.first { $0.personID == head.person.uuidString })
                #expect(membership.email == "head@pennine.sch.uk" && membership.urns == [f.ownSchool.urn] && membership.name == "Person head-1")
                let otherHeld = try await Self.send(client, .get, "/v1/memberships", as: "other_trust_executive", f).decode(MembershipList.self)
                #expect(!otherHeld.memberships.contains { $0.id == membership.id })
                #expect(try await Self.send(client, .delete, "/v1/memberships/\(membership.id)", as: "other_trust_executive", f).status == .notFound)
                #expect(try await Self.send(client, .delete, "/v1/memberships/\(membership.id)", as: "trust_executive", f).status == .noContent)
                let after = try await db.withDatabase { try await PeopleStore(database: $0).memberships(of: head.person, logger: Logger.test) }
                #expect(after.isEmpty)

                // The audit trail: what happened, who did it; none of it in the other trust's.
                let events = try await Self.send(client, .get, "/v1/identity-events?limit=50", as: "trust_executive", f).decode(IdentityEventList.self).events
                let kinds = events.map(\.kind)
                for kind in ["invitation_created", "invitation_revoked", "invitation_accepted", "membership_removed"] {
                    #expect(kinds.contains(kind), "\(kind) in \(kinds)")
                }
                #expect(events.first { $0.kind == "membership_removed" }?.actor == me.tokenID)
                #expect(events.first { $0.kind == "invitation_revoked" }?.actor == me.tokenID)
                let otherEvents = try await Self.send(client, .get, "/v1/identity-events", as: "other_trust_executive", f).decode(IdentityEventList.self)
                #expect(otherEvents.events.allSatisfy { $0.trustID != a })
                #expect(try await Self.send(client, .get, "/v1/identity-events?limit=0", as: "trust_executive", f).status == .unprocessableContent)
            }
        }
    }

    @Test func anExpiredInvitationIsNotAcceptedNorOneToAnUnverifiedEmail() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            try await withApp(db) { client in
                let expiring = try await Self.send(
                    client, .post, "/v1/invitations", as: "trust_executive", f, body: #"{"email": "late@pennine.sch.uk", "role": "trust_executive"}"#
                ).decode(InvitationBody.self)
                _ = try await db.adminSQL("UPDATE invitations SET expires_at = now() - interval '1 second' WHERE invitation_id = $1", [expiring.id])
                #expect(try await Self.signIn(db, subject: "late", email: "late@pennine.sch.uk").accepted == 0)
                _ = try await Self.send(
                    client, .post, "/v1/invitations", as: "trust_executive", f, body: #"{"email": "unverified@pennine.sch.uk", "role": "trust_executive"}"#)
                #expect(try await Self.signIn(db, subject: "unverified", email: "unverified@pennine.sch.uk", verified: false).accepted == 0)
                #expect(try await Self.signIn(db, subject: "unverified", email: "unverified@pennine.sch.uk", verified: true).accepted == 1)
                let list = try await Self.send(client, .get, "/v1/invitations", as: "trust_executive", f).decode(InvitationList.self)
                #expect(list.invitations.first { $0.id == expiring.id }?.status == "expired")
            }
        }
    }

    @Test func peopleFromTheTrustsDomainsWaitForARoleAndAnExecutiveGrantsOne() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            let a = f.trustA.id.uuidString
            let tenant = "6f1d2c3b-aaaa-4bbb-8ccc-0123456789ab"
            try await withApp(db) { client in
                // Personal email services are refused, each value named.
                // The administrator sets them (a trust's executives see everyone who signs in from them).
                let byExecutive = try await Self.send(
                    client, .put, "/v1/trusts/\(a)/sign-in-sources", as: "trust_executive", f, body: #"{"email_domains": ["pennine.sch.uk"], "tenants": []}"#)
                #expect(byExecutive.status == .forbidden)
                let consumer = try await Self.send(
                    client, .put, "/v1/trusts/\(a)/sign-in-sources", as: "admin", f,
                    body: #"{"email_domains": ["pennine.sch.uk", "gmail.com", "not a domain"], "tenants": ["outlook.com", "zz"]}"#)
                #expect(consumer.status == .unprocessableContent)
                let errors = try consumer.problem.errors ?? []
                #expect(errors.map(\.pointer) == ["/email_domains/1", "/email_domains/2", "/tenants/0", "/tenants/1"])
                #expect(errors.map(\.code) == ["consumer_domain", "not_a_domain", "consumer_domain", "not_a_tenant"])
                #expect(try await Self.send(client, .get, "/v1/trusts/\(a)/sign-in-sources", as: "trust_executive", f).decode(SignInSourcesBody.self).emailDomains.isEmpty)
                let set = try await Self.send(
                    client, .put, "/v1/trusts/\(a)/sign-in-sources", as: "admin", f,
                    body: #"{"email_domains": ["@Pennine.sch.uk"], "tenants": ["\#(tenant.uppercased())"]}"#)
                #expect(set.status == .ok)
                #expect(try set.decode(SignInSourcesBody.self) == SignInSourcesBody(emailDomains: ["pennine.sch.uk"], tenants: [tenant]))
                // A domain admits people to one trust only.
                let taken = try await Self.send(
                    client, .put, "/v1/trusts/\(f.trustB.id.uuidString)/sign-in-sources", as: "admin", f,
                    body: #"{"email_domains": ["other.sch.uk", "pennine.sch.uk"], "tenants": []}"#)
                let takenPointers = try taken.problem.errors?.map(\.pointer)
                #expect(taken.status == .unprocessableContent && takenPointers == ["/email_domains/1"])
                #expect(try taken.problem.errors?.first?.code == "taken")
                #expect(try await Self.send(client, .get, "/v1/trusts/\(a)/sign-in-sources", as: "trust_executive", f).decode(SignInSourcesBody.self).tenants == [tenant])

                let fromDomain = try await Self.signIn(db, subject: "teacher", email: "teacher@pennine.sch.uk")
                let fromTenant = try await Self.signIn(db, subject: "tenant-person", email: "someone@elsewhere.example", verified: false, tenant: tenant)
                let unverified = try await Self.signIn(db, subject: "unverified", email: "claims@pennine.sch.uk", verified: false)
                let stranger = try await Self.signIn(db, subject: "stranger", email: "stranger@gmail.com")
                #expect(fromDomain.memberships.isEmpty && fromTenant.memberships.isEmpty)

                let list = try await Self.send(client, .get, "/v1/memberships", as: "trust_executive", f).decode(MembershipList.self)
                let waiting = Set(list.waiting.map(\.personID))
                #expect(waiting == [fromDomain.person.uuidString, fromTenant.person.uuidString])
                #expect(!waiting.contains(unverified.person.uuidString) && !waiting.contains(stranger.person.uuidString))
                #expect(try await Self.send(client, .get, "/v1/memberships", as: "other_trust_executive", f).decode(MembershipList.self).waiting.isEmpty)

                // Granting: the other trust cannot; nor to a stranger; a role beyond a trust's is refused.
                let grant = #"{"person_id": "\#(fromDomain.person)", "role": "school_leader", "urns": [\#(f.ownSchool.urn)]}"#
                #expect(try await Self.send(client, .post, "/v1/memberships", as: "other_trust_executive", f, body: grant).status == .unprocessableContent)
                let otherGrant = #"{"person_id": "\#(fromDomain.person)", "role": "trust_executive"}"#
                #expect(try await Self.send(client, .post, "/v1/memberships", as: "other_trust_executive", f, body: otherGrant).status == .notFound)
                let strangerGrant = #"{"person_id": "\#(stranger.person)", "role": "trust_executive"}"#
                #expect(try await Self.send(client, .post, "/v1/memberships", as: "trust_executive", f, body: strangerGrant).status == .notFound)
                let adminGrant = #"{"person_id": "\#(fromDomain.person)", "role": "admin"}"#
                #expect(try await Self.send(client, .post, "/v1/memberships", as: "trust_executive", f, body: adminGrant).status == .forbidden)

                let granted = try await Self.send(client, .post, "/v1/memberships", as: "trust_executive", f, body: grant)
                #expect(granted.status == .created, "\(granted.text)")
                let membership = try granted.decode(MembershipBody.self)
                #expect(membership.role == "school_leader" && membership.urns == [f.ownSchool.urn] && membership.trustID == a)
                let now = try await db.withDatabase { try await PeopleStore(database: $0).memberships(of: fromDomain.person, logger: Logger.test) }
                #expect(now.map(\.id.uuidString) == [membership.id])
                let after = try await Self.send(client, .get, "/v1/memberships", as: "trust_executive", f).decode(MembershipList.self)
                #expect(Set(after.waiting.map(\.personID)) == [fromTenant.person.uuidString])
                // A role change: the same membership, other schools.
                let change = #"{"person_id": "\#(fromDomain.person)", "role": "school_leader", "urns": [\#(f.siblingSchool.urn)]}"#
                let changed = try await Self.send(client, .post, "/v1/memberships", as: "trust_executive", f, body: change).decode(MembershipBody.self)
                #expect(changed.id == membership.id && changed.urns == [f.siblingSchool.urn])
                let events = try await Self.send(client, .get, "/v1/identity-events", as: "trust_executive", f).decode(IdentityEventList.self).events
                #expect(events.filter { $0.kind == "membership_granted" }.count == 2)
                #expect(events.contains { $0.kind == "sign_in_sources_changed" })
            }
        }
    }
}
