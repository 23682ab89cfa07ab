import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SENAPI
import NIOCore
import SENCore
import SENStore

/// Survey instruments, schools' survey returns, and the trust's view with small cells suppressed.
struct SurveysController {
    let surveys: SurveyStore
    let register: RegisterStore
    let replica: ReplicaReadMiddleware<TrustContext>

    var routes: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.get("instruments", use: instruments)
        routes.post("instruments", use: addInstrument)
        routes.school("schools/:urn/surveys/:instrument/:term", .trustExecutive, .schoolLeader, register: register)
            .put(use: put)
            .get(use: get)
        routes.trust("trusts/:trust", .trustExecutive).add(middleware: replica)
            .get("surveys/:instrument", use: trustView)
        return routes
    }

    @Sendable func instruments(_ request: Request, context: AuthenticatedContext) async throws -> InstrumentList {
        InstrumentList(instruments: try await surveys.instruments(logger: context.logger))
    }

    @Sendable func addInstrument(_ request: Request, context: AuthenticatedContext) async throws -> EditedResponse<InstrumentList> {
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

    @Sendable func get(_ request: Request, context: SchoolContext) async throws -> Response {
        let (trust, urn) = (context.school.trust, context.school.urn)
        let (term, instrument) = try await termAndInstrument(context)
        guard let stored = try await surveys.current(trust: trust, urn: urn, instrument: instrument.code, term: term, logger: context.logger) else {
            throw APIError.notFound("the survey return")
        }
        guard context.principal.role == .trustExecutive else { return respond(stored, status: .ok) }
        // Only a school's own leaders see its raw counts. Anyone else sees the school as the trust view shows
        // it: fewer than 10 respondents (or the complement hidden with such a school) is `c`.
        let table = try await trustTable(trust: trust, instrument: instrument, term: term, logger: context.logger)
        guard let row = table.schools.first(where: { $0.urn == urn.value }) else { throw APIError.notFound("the survey return") }
        let view = SchoolSurveyView(
            instrument: stored.instrument, instrumentVersion: stored.instrumentVersion, term: stored.term.description, urn: urn.value,
            version: stored.version, minimumRespondents: table.minimumRespondents, suppressed: row.suppressed,
            survey: .init(respondents: row.respondents, items: row.items))
        return try EditedResponse(headers: [.eTag: "\"\(stored.version)\""], response: view).response(from: request, context: context)
    }

    /// `:term` and `:instrument` of the path (404 for an instrument that does not exist).
    func termAndInstrument(_ context: SchoolContext) async throws -> (AcademicTerm, Instrument) {
        let term = try context.term()
        guard let code = context.parameters.get("instrument"),
            let instrument = try await surveys.instrument(code, logger: context.logger)
        else { throw APIError.notFound("the instrument") }
        return (term, instrument)
    }

    @Sendable func put(_ request: Request, context: SchoolContext) async throws -> Response {
        let ifMatch = try parseIfMatchHeader(request.headers[.ifMatch])
        var request = request
        let buffer = try await request.collectBody(limit: 1 << 20, what: "a JSON body")
        let body = try checkedJSON(Data(buffer.readableBytesView))
        let (stored, created) = try await submit(body, ifMatch: ifMatch, context: context)
        return respond(stored, status: created ? .created : .ok)
    }

    /// Validates and writes a new version of the school's survey return at `:instrument/:term` (the API's PUT and
    /// the web app's form): the term must be open, every count valid for the instrument, `ifMatch` the version
    /// amended.
    func submit(_ body: JSONValue, ifMatch: Int??, context: SchoolContext) async throws -> (stored: StoredSurvey, created: Bool) {
        let (trust, urn) = (context.school.trust, context.school.urn)
        var (term, instrument) = try await termAndInstrument(context)
        guard term.isOpen(on: todayUTC()) else {
            throw APIError(.unprocessableContent, "returns for \(term) open on its census day, \(term.censusDay)")
        }
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
            return try await surveys.submit(
                trust: trust, urn: urn, instrument: instrument, term: term, counts: counts, ifMatch: ifMatch,
                actor: context.principal.tokenID, logger: context.logger)
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
    @Sendable func trustView(_ request: Request, context: TrustContext) async throws -> TrustSurveyView {
        let trust = context.trust
        let term = try parseTerm(request.uri.queryParameters.get("term").map { String($0) })
        guard let code = context.parameters.get("instrument"), let instrument = try await surveys.instrument(code, logger: context.logger) else {
            throw APIError.notFound("the instrument")
        }
        return try await trustTable(trust: trust, instrument: instrument, term: term, logger: context.logger)
    }

    /// The trust's schools and their pool for one instrument and term, under the trust's disclosure rule. Every
    /// view of survey data other than a school leader's own school is read from this table.
    func trustTable(trust: TrustID, instrument: Instrument, term: AcademicTerm, logger: Logger) async throws -> TrustSurveyView {
        let code = instrument.code
        let stored = try await surveys.list(trust: trust, instrument: code, term: term, logger: logger)
        let names = Dictionary(
            uniqueKeysWithValues: try await register.schools(of: trust, only: nil, scope: .trust(trust), logger: logger).map { ($0.urn, $0.name) })
        var rules = DisclosureControl.Rules()
        rules.minimumSchools = 1
        rules.minimumTrusts = 1
        rules.rounding = 1
        let parsed: [(URN, JSONValue)] = try stored.map { survey in
            guard let payload = try? JSONDecoder().decode(JSONValue.self, from: Data(survey.payload.utf8)) else {
                throw CorruptRow(table: "survey_returns", detail: "the payload of \(survey.urn) for \(term) is not JSON")
            }
            return (survey.urn, payload)
        }
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
        func shown(_ respondents: Int, _ counts: [String: [String: Int]], suppressed: Bool) -> ShownItems {
            var result: ShownItems = [:]
            for item in instrument.items {
                var options: [String: [String: ShownValue]] = [:]
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
        return TrustSurveyView(
            trustID: trust.uuidString, instrument: code, term: term.description, minimumRespondents: rules.minimumUnits,
            schools: schools, pooled: pooled)
    }
}
