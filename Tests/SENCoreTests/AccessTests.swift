import SENCore
import Testing

@Suite struct BearerTokenTests {
    @Test func generatedTokensAreWellFormedAndDistinct() {
        let tokens = (0..<200).map { _ in BearerToken.generate() }
        #expect(Set(tokens).count == 200)
        for token in tokens {
            #expect(token.hasPrefix("sst_"))
            #expect(token.count == 4 + 43)
            #expect(BearerToken.isWellFormed(token))
        }
    }

    @Test(arguments: ["", "sst_", "sst_short", "xyz_" + String(repeating: "A", count: 43), "sst_" + String(repeating: "A", count: 42) + "=", "sst_" + String(repeating: "A", count: 44)])
    func malformedTokensAreRecognised(_ text: String) {
        #expect(!BearerToken.isWellFormed(text))
    }

    @Test func constantTimeComparison() {
        #expect(BearerToken.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!BearerToken.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!BearerToken.constantTimeEqual([1, 2, 3], [1, 2]))
    }
}

@Suite struct PrincipalTests {
    let trustA = TrustID("aaaaaaaa-0000-4000-8000-000000000001")!
    let trustB = TrustID("bbbbbbbb-0000-4000-8000-000000000002")!
    let own = URN(100001)!
    let sibling = URN(100002)!

    @Test func whoSeesWhichSchool() {
        let admin = Principal(tokenID: TokenID("00000000-0000-4000-8000-000000000001")!, role: .admin, trustID: nil, urns: [])
        let executive = Principal(tokenID: TokenID("00000000-0000-4000-8000-000000000002")!, role: .trustExecutive, trustID: trustA, urns: [])
        let leader = Principal(tokenID: TokenID("00000000-0000-4000-8000-000000000003")!, role: .schoolLeader, trustID: trustA, urns: [own])
        let researcher = Principal(tokenID: TokenID("00000000-0000-4000-8000-000000000004")!, role: .researcher, trustID: nil, urns: [])
        #expect(admin.canSee(school: own, currentTrust: nil))
        #expect(executive.canSee(school: sibling, currentTrust: trustA))
        #expect(!executive.canSee(school: sibling, currentTrust: trustB))
        #expect(!executive.canSee(school: sibling, currentTrust: nil))
        #expect(leader.canSee(school: own, currentTrust: trustA))
        #expect(!leader.canSee(school: sibling, currentTrust: trustA))
        #expect(!leader.canSee(school: own, currentTrust: trustB), "a school that left the trust is out of reach")
        #expect(!researcher.canSee(school: own, currentTrust: trustA))
        #expect(executive.canSee(trust: trustA) && !executive.canSee(trust: trustB))
        #expect(!researcher.canSee(trust: trustA))
    }

    @Test func whoIssuesWhichTokens() {
        let executive = Principal(tokenID: TokenID("00000000-0000-4000-8000-000000000002")!, role: .trustExecutive, trustID: trustA, urns: [])
        #expect(executive.mayIssue(role: .schoolLeader, trust: trustA))
        #expect(!executive.mayIssue(role: .schoolLeader, trust: trustB))
        #expect(!executive.mayIssue(role: .trustExecutive, trust: trustA))
        #expect(!executive.mayIssue(role: .admin, trust: nil))
        #expect(Principal(tokenID: TokenID("00000000-0000-4000-8000-000000000001")!, role: .admin, trustID: nil, urns: []).mayIssue(role: .admin, trust: nil))
        #expect(!Principal(tokenID: TokenID("00000000-0000-4000-8000-000000000003")!, role: .schoolLeader, trustID: trustA, urns: [URN(100001)!]).mayIssue(role: .schoolLeader, trust: trustA))
    }
}
