import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SENAPI
import SENCore
import SENHTTP
import SENStore
import SENTestSupport
import Testing

/// The People page: a trust executive invites, sees who waits, gives a role, removes one — in a browser's forms,
/// through the API's own handlers.
@Suite struct WebPeopleTests {
    @Test func anExecutiveInvitesGivesARoleAndRemovesItFromThePeoplePage() async throws {
        try await withTestDatabase { db in
            let f = try await Fixture.load(db)
            try await withApp(db) { client in
                var executive = WebVisitor(client)
                try await executive.signIn(f.tokens["trust_executive"]!.token)
                let page = try await executive.get("/people")
                #expect(page.status == .ok && page.text.contains("Invite someone") && page.text.contains(#"href="/people""#))
                #expect(!page.text.contains(#"value="admin""#), "a trust executive is offered its trust's roles only")

                // Every problem named on its field; nothing stored.
                let bad = try await executive.post("/people/invitations", [("email", "head at pennine"), ("role", "school_leader")])
                #expect(bad.status == .unprocessableContent)
                #expect(bad.text.contains(##"href="#email""##) && bad.text.contains(##"href="#urns""##))
                #expect(try await db.adminSQL("SELECT count(*) FROM invitations").first?.first == "0")
                let foreign = try await executive.post(
                    "/people/invitations", [("email", "head@pennine.sch.uk"), ("role", "school_leader"), ("urns", String(f.foreignSchool.urn))])
                #expect(foreign.status == .unprocessableContent && foreign.text.contains("not in this trust"))

                let sent = try await executive.post(
                    "/people/invitations", [("email", "head@pennine.sch.uk"), ("role", "school_leader"), ("urns", String(f.ownSchool.urn))])
                #expect(sent.status == .seeOther && sent.headers[.location] == "/people?done=invited")
                let listed = try await executive.get("/people?done=invited")
                #expect(listed.text.contains("Invitation sent") && listed.text.contains("head@pennine.sch.uk"))
                let invitation = try #require(try await db.adminSQL("SELECT invitation_id::text FROM invitations").first?.first ?? nil)
                #expect(try await executive.post("/people/invitations/\(invitation)/withdraw", []).headers[.location] == "/people?done=withdrawn")
                #expect(try await db.adminSQL("SELECT revoked_at IS NOT NULL FROM invitations").first?.first == "t")

                // Domains, set by the administrator: a personal email service is refused by name; the trust's own is kept.
                var admin = WebVisitor(client)
                try await admin.signIn(f.tokens["admin"]!.token)
                let trustPage = try await admin.get("/admin/trusts/\(f.trustA.id)")
                #expect(trustPage.status == .ok && trustPage.text.contains("Email domains"))
                let consumer = try await admin.post("/admin/trusts/\(f.trustA.id)/sign-in-sources", [("domains", "pennine.sch.uk\ngmail.com"), ("tenants", "")])
                #expect(consumer.status == .unprocessableContent && consumer.text.contains("personal email service"))
                #expect(try await admin.post("/admin/trusts/\(f.trustA.id)/sign-in-sources", [("domains", "pennine.sch.uk"), ("tenants", "")]).status == .seeOther)
                #expect(try await executive.get("/people").text.contains("<li>pennine.sch.uk</li>"), "the executive sees the trust's domains")
                let person = try await db.withDatabase { database in
                    try await PeopleStore(database: database).signedIn(
                        .init(issuer: "https://idp.test.example", subject: "t1", email: "teacher@pennine.sch.uk", emailVerified: true, name: "Tess Teacher", organisations: []),
                        logger: Logger.test
                    ).person
                }
                let waiting = try await executive.get("/people")
                #expect(waiting.text.contains("Tess Teacher") && waiting.text.contains("/people/waiting/\(person.uuidString)"))
                var other = WebVisitor(client)
                try await other.signIn(f.tokens["other_trust_executive"]!.token)
                #expect(!(try await other.get("/people").text.contains("Tess Teacher")))
                #expect(try await other.get("/people/waiting/\(person.uuidString)").status == .notFound)

                let form = try await executive.get("/people/waiting/\(person.uuidString)")
                #expect(form.status == .ok && form.text.contains("Give a role"))
                let noSchool = try await executive.post("/people/waiting/\(person.uuidString)", [("role", "school_leader")])
                #expect(noSchool.status == .unprocessableContent && noSchool.text.contains("Choose at least one school for a school leader"))
                let given = try await executive.post("/people/waiting/\(person.uuidString)", [("role", "school_leader"), ("urns", String(f.ownSchool.urn))])
                #expect(given.headers[.location] == "/people?done=granted")
                let membership = try #require(
                    try await db.adminSQL("SELECT token_id::text FROM api_tokens WHERE kind = 'membership' AND revoked_at IS NULL").first?.first ?? nil)
                let members = try await executive.get("/people")
                #expect(members.text.contains("/people/memberships/\(membership)/remove"))
                #expect(try await other.post("/people/memberships/\(membership)/remove", []).status == .notFound)
                #expect(try await executive.post("/people/memberships/\(membership)/remove", []).headers[.location] == "/people?done=removed")
                let trail = try await executive.get("/people")
                #expect(trail.text.contains("<td>You</td>"), "the trail says who acted")
                #expect(trail.text.contains("<td>The administrator</td>"), "an administrator's change is named as theirs")
                for line in ["Given the role of school leader", "Role of school leader removed", "Invited as school leader", "Invitation as school leader withdrawn"] {
                    #expect(trail.text.contains(line), "\(line)")
                }

                // A school leader has no People page.
                var leader = WebVisitor(client)
                try await leader.signIn(f.tokens["school_leader"]!.token)
                #expect(try await leader.get("/people").status == .forbidden)
            }
        }
    }
}
