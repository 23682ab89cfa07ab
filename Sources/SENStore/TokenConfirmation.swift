import Logging
import NIOCore
import PostgresNIO
import SENCore
import Synchronization

/// A token that authenticated a little while ago and that this request uses again without a statement of its own.
/// It is confirmed in the database before the request's answer: by the first transaction the request runs on the
/// primary, in the statement that sets the tenant (`Database`), before any of the handler's statements; or, when the
/// request ran none, by `TokenStore.confirm` once the handler is done. Refuted (revoked, expired, or no longer the
/// same role, trust or schools: migration 0020), the transaction fails with `TokenRefuted` and the caller
/// authenticates the token afresh.
public final class TokenConfirmation: Sendable {
    public enum State: UInt8, Sendable { case pending, confirmed, refuted }

    let digest: ByteBuffer
    let tokenID: TokenID
    let role: String
    let trustID: TrustID?
    let urns: [Int32]
    private let settled = Atomic<UInt8>(State.pending.rawValue)

    init(digest: [UInt8], principal: Principal, storedURNs: [URN]) {
        self.digest = ByteBuffer(bytes: digest)
        self.tokenID = principal.tokenID
        self.role = principal.role.rawValue
        self.trustID = principal.trustID
        self.urns = storedURNs.map { Int32($0.value) }
    }

    /// The check alone, as one statement.
    var statement: PostgresQuery {
        "SELECT confirm_token(\(digest), \(tokenID), \(role), \(trustID), \(urns)::integer[])"
    }

    public var state: State { State(rawValue: settled.load(ordering: .acquiring))! }

    /// Records the database's answer; a refutation is never undone.
    func settle(_ confirmed: Bool) {
        if confirmed {
            _ = settled.compareExchange(expected: State.pending.rawValue, desired: State.confirmed.rawValue, ordering: .acquiringAndReleasing)
        } else {
            settled.store(State.refuted.rawValue, ordering: .releasing)
        }
    }
}

/// The request's token was revoked, expired or changed since this server last authenticated it: nothing of the
/// transaction ran.
public struct TokenRefuted: Error, CustomStringConvertible {
    public var description: String { "the request's token is no longer what this server last saw" }
}

extension TokenStore {
    /// Confirms `confirmation` with a statement of its own (a request that ran no transaction on the primary).
    /// Returns whether the token still stands.
    @discardableResult
    public func confirm(_ confirmation: TokenConfirmation, logger: Logger) async throws -> Bool {
        let client = database.client
        let confirmed = try await database.withDeadline {
            let rows = try await client.collect(confirmation.statement, logger: logger)
            for try await confirmed in rows.decode(Bool.self) { return confirmed }
            return false
        }
        confirmation.settle(confirmed)
        return confirmed
    }
}
