import Foundation
import SENCore
import Testing

@testable import SENHTTP
@testable import SENStore

/// What `RecentTokens` remembers: tokens that may skip the failure limit (ten minutes), and the sessions of tokens
/// that authenticated in the last five minutes, at most `sessionsKept` of them (`AuthMiddleware`).
@Suite struct RecentTokensTests {
    let start = ContinuousClock.now

    func digest(_ n: Int) -> [UInt8] { TokenStore.digest("sst_token_\(n)") }

    func session(_ n: Int) -> TokenStore.Session {
        let id = TokenID("00000000-0000-4000-8000-\(String(format: "%012d", n))")!
        return TokenStore.Session(
            principal: Principal(tokenID: id, role: .researcher, trustID: nil, urns: []), lastWritePosition: nil, storedURNs: [])
    }

    @Test func aSessionIsKeptForFiveMinutesAndTheTokenRecentForTen() {
        let recent = RecentTokens(sessionsKept: 10)
        recent.insert(digest(1), session: session(1), now: start)
        #expect(recent.session(digest(1), now: start + .seconds(299))?.principal.tokenID == session(1).principal.tokenID)
        #expect(recent.session(digest(1), now: start + .seconds(300)) == nil)
        #expect(recent.contains(digest(1), now: start + .seconds(599)))
        #expect(!recent.contains(digest(1), now: start + .seconds(600)))
        #expect(recent.session(digest(2), now: start) == nil)
    }

    @Test func atMostSessionsKeptAndExpiredOnesMakeRoom() {
        let recent = RecentTokens(sessionsKept: 2)
        for n in 1...3 { recent.insert(digest(n), session: session(n), now: start) }
        #expect(recent.sessionCount == 2)
        #expect(recent.session(digest(3), now: start) == nil, "the third is not kept")
        #expect(recent.contains(digest(3), now: start), "but is recent")
        // The same token again counts once.
        recent.insert(digest(1), session: session(1), now: start + .seconds(1))
        #expect(recent.sessionCount == 2)
        // Once the first two are older than five minutes, a new one sweeps them out and is kept.
        recent.insert(digest(4), session: session(4), now: start + .seconds(400))
        #expect(recent.sessionCount == 1)
        #expect(recent.session(digest(4), now: start + .seconds(400)) != nil)
        #expect(recent.contains(digest(2), now: start + .seconds(400)), "still recent for the failure limit")
    }

    @Test func forgetDropsTheSessionAndRemoveDropsBoth() {
        let recent = RecentTokens(sessionsKept: 10)
        recent.insert(digest(1), session: session(1), now: start)
        recent.insert(digest(2), session: session(2), now: start)
        recent.forget(digest(1))
        #expect(recent.session(digest(1), now: start) == nil)
        #expect(recent.contains(digest(1), now: start))
        #expect(recent.sessionCount == 1)
        recent.forget(digest(1))
        #expect(recent.sessionCount == 1, "forgetting twice counts once")
        recent.remove(digest(2))
        #expect(!recent.contains(digest(2), now: start))
        #expect(recent.sessionCount == 0)
    }

    @Test func nothingKeptWithACapacityOfNone() {
        let recent = RecentTokens(sessionsKept: 0)
        recent.insert(digest(1), session: session(1), now: start)
        #expect(recent.session(digest(1), now: start) == nil)
        #expect(recent.sessionCount == 0)
        #expect(recent.contains(digest(1), now: start))
    }
}
