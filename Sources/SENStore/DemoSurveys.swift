import Foundation
import Logging
import SENCore

/// Survey returns for the demo schools in the same terms as their SEN returns, and releases of every demo term
/// but the latest, so that researchers have something to query and something they cannot.
extension DemoData {
    static func demoSurvey(_ instrument: Instrument, school: School, term: AcademicTerm, index: Int) -> JSONValue {
        var noise = SplitMix64(seed: UInt64(school.urn) &* 131 &+ UInt64(index) &* 7 &+ UInt64(instrument.code.count))
        let respondents = instrument.audience == "pupils" ? max(12, school.pupils / 3 + Int(noise.unit() * 20)) : 2 + Int(noise.unit() * 3)
        var items: [String: JSONValue] = [:]
        for item in instrument.items {
            var counts: [String: JSONValue] = [:]
            if item.isMultiple {
                for option in item.options {
                    counts[option] = .integer(Int64(Double(respondents) * noise.unit() * 0.8))
                }
            } else {
                // Leaders worry most about mental health; pupils mostly agree with the positive statements.
                let lean = item.code == "concern_mental_health" ? 0.75 : item.code.hasPrefix("concern_") ? 0.45 : 0.7
                var left = respondents
                for (position, option) in item.options.enumerated().reversed() {
                    let share = position == 0 ? 1.0 : min(1, lean * (0.55 + noise.unit() * 0.3))
                    let n = position == 0 ? left : Int((Double(left) * share).rounded())
                    counts[option] = .integer(Int64(n))
                    left -= n
                }
            }
            items[item.code] = .object(counts)
        }
        return .object(["respondents": .integer(Int64(respondents)), "items": .object(items)])
    }

    public static func loadSurveys(into store: SurveyStore, logger: Logger) async throws {
        let instruments = try await store.instruments(logger: logger)
        for (index, term) in returnTerms.enumerated() {
            let latest = term == returnTerms.last
            for trust in trusts {
                for school in trust.schools where !(latest && missingLatest.contains(school.urn)) {
                    for instrument in instruments {
                        let urn = URN(school.urn)!
                        if try await store.current(trust: trust.id, urn: urn, instrument: instrument.code, term: term, logger: logger) != nil {
                            continue
                        }
                        guard case .success(let counts) = SurveyValidator.validate(demoSurvey(instrument, school: school, term: term, index: index), instrument: instrument) else {
                            fatalError("demo survey for \(school.urn) does not validate")
                        }
                        _ = try await store.submit(
                            trust: trust.id, urn: urn, instrument: instrument, term: term, counts: counts,
                            ifMatch: nil, actor: nil, logger: logger)
                    }
                }
            }
        }
        logger.info("demo surveys loaded")
    }

    /// Releases every demo term but the latest (idempotent).
    public static func releaseTerms(into research: ResearchStore, logger: Logger) async throws {
        let released = Set(try await research.releases(logger: logger).map(\.term))
        for term in returnTerms.dropLast() where !released.contains(term) {
            _ = try await research.release(term: term, actor: nil, logger: logger)
        }
    }
}
