import Hummingbird
import NIOCore
import SENAPI
import SENCore
import SENStore
import Synchronization

/// Trust comparisons already computed, each kept under everything it was computed from (`ComparisonKey`).
///
/// A comparison is a pure function of what its transaction read (the trust's schools and their figures this term,
/// last year's and the pooled terms'), the published rates and the request's term, comparator level and measure.
/// Its statistics (exact binomial limits for every school, overdispersion, the standardised ratio) and its JSON
/// took a third of the server's CPU for each request (Docs/performance.md, "The tenth pass"), and a trust's
/// comparison is asked for again and again between two writes: by the home page, the comparison page, the funnel,
/// the CSV, and every executive of the trust who opens them.
///
/// So every request still reads the figures from PostgreSQL, under its own tenant, in its own transaction; only
/// the arithmetic on them is reused, and only when every input is equal, compared in full (not by hash alone). A
/// changed return, membership, school name or rate makes a different key, so nothing is ever invalidated and
/// nothing can be stale: an old entry is simply not asked for again and leaves when newer ones push it out.
/// The key holds the trust, so one trust's entry can answer only a request that read that trust's own rows.
typealias ComparisonMemo = KeptResults<ComparisonKey, ComparedEntry>

/// Everything a trust comparison is computed from (`ComparisonMemo`).
struct ComparisonKey: Hashable, Sendable {
    let trust: TrustID
    let term: AcademicTerm
    let level: ComparatorLevel
    let measure: Provision
    /// Which reading of the published rates (`ComparatorRates.reading`); a new reading is a new key.
    let ratesReading: UInt64
    let schools: [SchoolFigures]
    let lastYear: [Figures]
    let pooled: [Figures]

    struct Figures: Hashable, Sendable {
        let urn: URN?
        let term: AcademicTerm?
        let roll: Int
        let senSupport: Int
        let ehcPlan: Int
    }

    init(
        trust: TrustID, term: AcademicTerm, level: ComparatorLevel, measure: Provision, rates: ComparatorRates,
        inputs: ComparisonInputs
    ) {
        self.trust = trust
        self.term = term
        self.level = level
        self.measure = measure
        ratesReading = rates.reading
        schools = inputs.schools
        lastYear = inputs.lastYear.map { Figures(urn: $0.key, term: nil, roll: $0.value.roll, senSupport: $0.value.senSupport, ehcPlan: $0.value.ehcPlan) }
            .sorted { $0.urn! < $1.urn! }
        pooled = inputs.pooled.map { Figures(urn: nil, term: $0.key, roll: $0.value.roll, senSupport: $0.value.senSupport, ehcPlan: $0.value.ehcPlan) }
            .sorted { $0.term! < $1.term! }
    }
}

/// A computed comparison, and its JSON once a request has asked for it.
final class ComparedEntry: Sendable {
    let comparison: Comparison
    private let body = Mutex<ByteBuffer?>(nil)

    private let drawings = Mutex<[String: String]>([:])

    init(_ comparison: Comparison) { self.comparison = comparison }

    /// A drawing of the comparison (a funnel plot), made by the first request that wants it and shared by the rest.
    func drawing(_ name: String, _ draw: () -> String) -> String {
        if let kept = drawings.withLock({ $0[name] }) { return kept }
        let drawn = draw()
        drawings.withLock { $0[name] = drawn }
        return drawn
    }

    /// The JSON body; encoded by the first request that wants it, shared (not copied) by the rest.
    var json: ByteBuffer {
        if let kept = body.withLock({ $0 }) { return kept }
        let encoded = ByteBuffer(bytes: comparison.json.bytes)
        body.withLock { $0 = encoded }
        return encoded
    }

    var jsonResponse: Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: json))
    }
}

/// At most `capacity` values by key; keeping one more sends the least recently used away.
final class KeptResults<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    let capacity: Int

    private struct State {
        var entries: [Key: (value: Value, used: UInt64)] = [:]
        var clock: UInt64 = 0
    }
    private let state = Mutex(State())

    /// A 100-school trust's comparison is about 0.4 MB with its JSON, so 32 of them at most about 13 MB.
    init(capacity: Int = 32) { self.capacity = capacity }

    func value(for key: Key) -> Value? {
        state.withLock { state in
            guard let found = state.entries[key] else { return nil }
            state.clock += 1
            state.entries[key]?.used = state.clock
            return found.value
        }
    }

    func keep(_ value: Value, for key: Key) {
        guard capacity > 0 else { return }
        state.withLock { state in
            state.clock += 1
            if state.entries[key] == nil, state.entries.count >= capacity,
                let oldest = state.entries.min(by: { $0.value.used < $1.value.used })?.key
            {
                state.entries[oldest] = nil
            }
            state.entries[key] = (value, state.clock)
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
