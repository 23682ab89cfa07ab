import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SENCore
import SENStore

/// Survey instruments, schools' survey returns, and the trust's view with small cells suppressed.
struct SurveysController {
    let surveys: SurveyStore
    let register: RegisterStore

    struct InstrumentList: ResponseEncodable {
        let instruments: [Instrument]
    }

    typealias Shown = ShownValue

    /// A count or percentage, or `c` where it is suppressed.
    enum ShownValue: Codable, Equatable, Sendable {
        case value(Double)
        case suppressed

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) { self = .value(number) } else { self = .suppressed }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .value(let v): v == v.rounded() && abs(v) < 1e15 ? try container.encode(Int(v)) : try container.encode(v)
            case .suppressed: try container.encode("c")
            }
        }

        var text: String {
            switch self {
            case .value(let v): v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
            case .suppressed: "c"
            }
        }
    }

    struct SchoolSurvey: Encodable {
        let urn: Int
        let name: String?
        let respondents: Shown
        let items: [String: [String: [String: Shown]]]
        /// primary (under 10 respondents), complementary, or absent when shown.
        let suppressed: String?
    }

    /// One school's survey as someone other than its own leaders sees it.
    struct SchoolView: Encodable {
        struct Survey: Encodable {
            let respondents: Shown
            let items: [String: [String: [String: Shown]]]
        }

        let instrument: String
        let instrumentVersion: Int
        let term: String
        let urn: Int
        let version: Int
        let minimumRespondents: Int
        let suppressed: String?
        let survey: Survey

        enum CodingKeys: String, CodingKey {
            case instrument, term, urn, version, suppressed, survey
            case instrumentVersion = "instrument_version"
            case minimumRespondents = "minimum_respondents"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(instrument, forKey: .instrument)
            try container.encode(instrumentVersion, forKey: .instrumentVersion)
            try container.encode(term, forKey: .term)
            try container.encode(urn, forKey: .urn)
            try container.encode(version, forKey: .version)
            try container.encode(minimumRespondents, forKey: .minimumRespondents)
            try container.encode(suppressed, forKey: .suppressed)
            try container.encode(survey, forKey: .survey)
        }
    }

    struct TrustView: ResponseEncodable {
        let trustID: String
        let instrument: String
        let term: String
        let minimumRespondents: Int
        let schools: [SchoolSurvey]
        let pooled: SchoolSurvey

        enum CodingKeys: String, CodingKey {
            case instrument, term, schools, pooled
            case trustID = "trust_id"
            case minimumRespondents = "minimum_respondents"
        }
    }

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("instruments") { _, context in
            _ = try context.requirePrincipal()
            return InstrumentList(instruments: try await surveys.instruments(logger: context.logger))
        }
        group.post("instruments") { request, context in
            _ = try context.require(.admin)
            var request = request
            let instrument = try await request.decodeJSON(Instrument.self)
            let problems = instrument.problems()
            guard problems.isEmpty else {
                throw APIError.validation(problems.map { .init(pointer: $0.pointer, code: "invalid", message: $0.message) })
            }
            guard try await surveys.addInstrument(instrument, logger: context.logger) else {
                throw APIError(.conflict, "\(instrument.code) version \(instrument.version) exists; instruments are versioned, add a new version")
            }
            return EditedResponse(status: .created, response: InstrumentList(instruments: [instrument]))
        }
        group.put("schools/:urn/surveys/:instrument/:term") { request, context in try await put(request, context) }
        group.get("schools/:urn/surveys/:instrument/:term") { _, context in
            let (trust, urn, term, instrument) = try await target(context)
            guard let stored = try await surveys.current(trust: trust, urn: urn, instrument: instrument.code, term: term, logger: context.logger) else {
                throw APIError.notFound("the survey return")
            }
            guard context.principal?.role == .trustExecutive else { return respond(stored, status: .ok) }
            // Only a school's own leaders see its raw counts. Anyone else sees the school as the trust view shows
            // it: fewer than 10 respondents (or the complement hidden with such a school) is `c`.
            let table = try await trustTable(trust: trust, instrument: instrument, term: term, context: context)
            guard let row = table.schools.first(where: { $0.urn == urn.value }) else { throw APIError.notFound("the survey return") }
            let view = SchoolView(
                instrument: stored.instrument, instrumentVersion: stored.instrumentVersion, term: stored.term.description, urn: urn.value,
                version: stored.version, minimumRespondents: table.minimumRespondents, suppressed: row.suppressed,
                survey: .init(respondents: row.respondents, items: row.items))
            var response = jsonResponse(String(decoding: try JSONEncoder.api.encode(view), as: UTF8.self), status: .ok)
            response.headers[.eTag] = "\"\(stored.version)\""
            return response
        }
        group.get("trusts/:trust/surveys/:instrument") { request, context in try await trustView(request, context) }
    }

    func target(_ context: AppRequestContext) async throws -> (TrustID, URN, AcademicTerm, Instrument) {
        let (trust, urn, _) = try await register.authorizedSchool(context, roles: [.trustExecutive, .schoolLeader])
        let term = try parseTerm(context.parameters.get("term"))
        guard let code = context.parameters.get("instrument"),
            let instrument = try await surveys.instrument(code, logger: context.logger)
        else { throw APIError.notFound("the instrument") }
        return (trust, urn, term, instrument)
    }

    func put(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        var (trust, urn, term, instrument) = try await target(context)
        guard term.isOpen(on: todayUTC()) else {
            throw APIError(.unprocessableContent, "returns for \(term) open on its census day, \(term.censusDay)")
        }
        let ifMatch = try parseIfMatchHeader(request.headers[.ifMatch])
        var request = request
        let buffer = try await request.collectBody(limit: 1 << 20, what: "a JSON body")
        let body = try checkedJSON(Data(buffer.readableBytesView))
        if case .object(let root) = body, let version = root["instrument_version"] {
            guard case .integer(let v) = version,
                let chosen = try await surveys.instrument(instrument.code, version: Int(v), logger: context.logger)
            else {
                throw APIError.validation([.init(pointer: "/instrument_version", code: "unknown", message: "no such version of \(instrument.code)")])
            }
            instrument = chosen
        }
        let counts: SurveyCounts
        switch SurveyValidator.validate(body, instrument: instrument) {
        case .success(let valid): counts = valid
        case .failure(let issues):
            throw APIError.validation(issues.map { .init(pointer: "/" + $0.key.replacingOccurrences(of: ".", with: "/"), code: $0.code, message: $0.message) })
        }
        do {
            let (stored, created) = try await surveys.submit(
                trust: trust, urn: urn, instrument: instrument, term: term, counts: counts, ifMatch: ifMatch,
                actor: context.principal?.tokenID, logger: context.logger)
            return respond(stored, status: created ? .created : .ok)
        } catch let error as ReturnWriteError {
            throw APIError(error)
        }
    }

    func respond(_ stored: StoredSurvey, status: HTTPResponse.Status) -> Response {
        let text = """
            {"instrument":"\(stored.instrument)","instrument_version":\(stored.instrumentVersion),"term":"\(stored.term)","urn":\(stored.urn.value),"version":\(stored.version),"survey":\(stored.payload)}
            """
        var response = jsonResponse(text, status: status)
        response.headers[.eTag] = "\"\(stored.version)\""
        return response
    }

    /// Per school and pooled, with every cell from fewer than 10 respondents shown as `c`, and one more school
    /// hidden wherever exactly one is, so that the pooled figures cannot give it away.
    func trustView(_ request: Request, _ context: AppRequestContext) async throws -> TrustView {
        let principal = try context.require(.trustExecutive)
        let trust = try context.parameters.trustID()
        guard principal.canSee(trust: trust) else { throw APIError.notFound("the trust") }
        let term = try parseTerm(request.uri.queryParameters.get("term").map { String($0) })
        guard let code = context.parameters.get("instrument"), let instrument = try await surveys.instrument(code, logger: context.logger) else {
            throw APIError.notFound("the instrument")
        }
        return try await trustTable(trust: trust, instrument: instrument, term: term, context: context)
    }

    /// The trust's schools and their pool for one instrument and term, under the trust's disclosure rule. Every
    /// view of survey data other than a school leader's own school is read from this table.
    func trustTable(trust: TrustID, instrument: Instrument, term: AcademicTerm, context: AppRequestContext) async throws -> TrustView {
        let code = instrument.code
        let stored = try await surveys.list(trust: trust, instrument: code, term: term, logger: context.logger)
        let names = Dictionary(
            uniqueKeysWithValues: try await register.schools(of: trust, only: nil, scope: .trust(trust), logger: context.logger).map { ($0.urn, $0.name) })
        var rules = DisclosureControl.Rules()
        rules.minimumSchools = 1
        rules.minimumTrusts = 1
        rules.rounding = 1
        let parsed: [(URN, JSONValue)] = stored.map { ($0.urn, (try? JSONDecoder().decode(JSONValue.self, from: Data($0.payload.utf8))) ?? .null) }
        let cells = stored.map {
            DisclosureControl.Cell(key: $0.urn.description, parent: nil, units: $0.respondents, schools: 1, trusts: 1, values: [:])
        }
        let pooledRespondents = stored.map(\.respondents).reduce(0, +)
        let total = DisclosureControl.Cell(key: "all", parent: nil, units: pooledRespondents, schools: stored.count, trusts: 1, values: [:])
        let controlled = DisclosureControl.control(cells, total: total, rules: rules)
        let hidden = Dictionary(uniqueKeysWithValues: controlled.cells.compactMap { c in c.suppression.map { (c.key, $0) } })

        func items(_ payload: JSONValue?) -> [String: [String: Int]] {
            guard case .object(let root)? = payload, case .object(let items)? = root["items"] else { return [:] }
            return items.compactMapValues { value in
                guard case .object(let options) = value else { return nil }
                return options.compactMapValues { if case .integer(let n) = $0 { return Int(n) } else { return nil } }
            }
        }
        func shown(_ respondents: Int, _ counts: [String: [String: Int]], suppressed: Bool) -> [String: [String: [String: Shown]]] {
            var result: [String: [String: [String: Shown]]] = [:]
            for item in instrument.items {
                var options: [String: [String: Shown]] = [:]
                for option in item.options {
                    let count = counts[item.code]?[option] ?? 0
                    options[option] = suppressed || respondents == 0
                        ? ["count": .suppressed, "percent": .suppressed]
                        : ["count": .value(Double(count)), "percent": .value((Double(count) / Double(respondents) * 1000).rounded() / 10)]
                }
                result[item.code] = options
            }
            return result
        }
        var pooledCounts: [String: [String: Int]] = [:]
        var schools: [SchoolSurvey] = []
        for (urn, payload) in parsed {
            let counts = items(payload)
            for (item, options) in counts { for (option, n) in options { pooledCounts[item, default: [:]][option, default: 0] += n } }
            let respondents = stored.first { $0.urn == urn }?.respondents ?? 0
            let suppression = hidden[urn.description]
            let suppressed = suppression != nil
            schools.append(
                SchoolSurvey(
                    urn: urn.value, name: names[urn], respondents: suppressed ? .suppressed : .value(Double(respondents)),
                    items: shown(respondents, counts, suppressed: suppressed), suppressed: suppression?.rawValue))
        }
        let pooledSuppressed = controlled.total?.suppression != nil
        let pooled = SchoolSurvey(
            urn: 0, name: "all schools", respondents: pooledSuppressed ? .suppressed : .value(Double(pooledRespondents)),
            items: shown(pooledRespondents, pooledCounts, suppressed: pooledSuppressed), suppressed: controlled.total?.suppression?.rawValue)
        return TrustView(
            trustID: trust.uuidString, instrument: code, term: term.description, minimumRespondents: rules.minimumUnits,
            schools: schools, pooled: pooled)
    }
}

/// `If-Match: "3"` → 3; `*` → `.some(nil)`; absent → nil.
func parseIfMatchHeader(_ header: String?) throws -> Int?? {
    guard let header = header?.trimmingASCIIWhitespace(), !header.isEmpty else { return nil }
    if header == "*" { return .some(nil) }
    let first = header.split(separator: ",").first.map { $0.trimmingASCIIWhitespace() } ?? ""
    guard first.hasPrefix("\""), first.hasSuffix("\""), first.count >= 3, let version = Int(first.dropFirst().dropLast()) else {
        throw APIError(.preconditionFailed, "If-Match must be an ETag from this API, such as \"3\"")
    }
    return .some(version)
}
