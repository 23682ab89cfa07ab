import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SENCore
import SENStore

/// Trusts, their schools, the register, and the GIAS import.
struct RegisterController {
    let register: RegisterStore
    let importer: GIASImporter

    struct TrustBody: ResponseEncodable {
        let trustID: String
        let name: String
        let giasCode: String?
        let createdAt: Date
        let schoolCount: Int

        enum CodingKeys: String, CodingKey {
            case name
            case trustID = "trust_id"
            case giasCode = "gias_code"
            case createdAt = "created_at"
            case schoolCount = "school_count"
        }

        init(_ record: TrustRecord) {
            trustID = record.id.uuidString
            name = record.name
            giasCode = record.giasCode
            createdAt = record.createdAt
            schoolCount = record.schoolCount
        }
    }

    struct TrustList: ResponseEncodable {
        let trusts: [TrustBody]
    }

    struct NewTrust: Decodable {
        let name: String
        let giasCode: String?

        enum CodingKeys: String, CodingKey {
            case name
            case giasCode = "gias_code"
        }
    }

    struct SchoolBody: ResponseEncodable {
        let urn: Int
        let name: String
        let phase: String
        let establishmentType: String
        let laCode: Int?
        let laName: String
        let region: String
        let status: String
        let openedOn: String?
        let closedOn: String?
        let numberOfPupils: Int?
        let trustID: String?

        enum CodingKeys: String, CodingKey {
            case urn, name, phase, region, status
            case establishmentType = "establishment_type"
            case laCode = "la_code"
            case laName = "la_name"
            case openedOn = "opened_on"
            case closedOn = "closed_on"
            case numberOfPupils = "number_of_pupils"
            case trustID = "trust_id"
        }

        init(_ record: SchoolRecord) {
            urn = record.urn.value
            name = record.name
            phase = record.phase
            establishmentType = record.establishmentType
            laCode = record.laCode
            laName = record.laName
            region = record.region
            status = record.status
            openedOn = record.openedOn
            closedOn = record.closedOn
            numberOfPupils = record.numberOfPupils
            trustID = record.trustID?.uuidString
        }
    }

    struct SchoolList: ResponseEncodable {
        let trustID: String
        let schools: [SchoolBody]

        enum CodingKeys: String, CodingKey {
            case schools
            case trustID = "trust_id"
        }
    }

    struct ImportBody: ResponseEncodable {
        struct Rejection: Encodable {
            let row: Int
            let column: String?
            let reason: String
        }

        let new, changed, closed, unchanged, rejected: Int
        let rejections: [Rejection]
        let trustsCreated, membershipsOpened, membershipsClosed: Int
        let effectiveDate: String

        enum CodingKeys: String, CodingKey {
            case new, changed, closed, unchanged, rejected, rejections
            case trustsCreated = "trusts_created"
            case membershipsOpened = "memberships_opened"
            case membershipsClosed = "memberships_closed"
            case effectiveDate = "effective_date"
        }
    }

    /// A national GIAS export is about 60 MB.
    static let giasUploadLimit = 128 << 20

    func register(on group: RouterGroup<AppRequestContext>) {
        group.post("trusts") { request, context in
            _ = try context.require(.admin)
            var request = request
            let body = try await request.decodeJSON(NewTrust.self)
            var errors: [ProblemDetails.FieldError] = []
            let name = body.name.trimmingASCIIWhitespace()
            if name.isEmpty || name.databaseLength > 200 {
                errors.append(.init(pointer: "/name", code: "length", message: "a trust name has 1 to 200 characters"))
            }
            if let code = body.giasCode, !GIASRegisterReader.isTrustCode(code) {
                errors.append(.init(pointer: "/gias_code", code: "format", message: "a GIAS trust code looks like TR01234"))
            }
            guard errors.isEmpty else { throw APIError.validation(errors) }
            let trust = try await register.createTrust(name: name, giasCode: body.giasCode, logger: context.logger)
            return EditedResponse(status: .created, response: TrustBody(trust))
        }
        group.get("trusts") { _, context in
            let principal = try context.require(.admin, .trustExecutive, .schoolLeader)
            return TrustList(trusts: try await register.trusts(scope: principal.scope, logger: context.logger).map(TrustBody.init))
        }
        group.get("trusts/:trust") { _, context in
            let principal = try context.require(.admin, .trustExecutive, .schoolLeader)
            let id = try context.parameters.trustID()
            guard principal.canSee(trust: id),
                let trust = try await register.trust(id, scope: principal.scope, logger: context.logger)
            else { throw APIError.notFound("the trust") }
            return TrustBody(trust)
        }
        group.get("trusts/:trust/schools") { _, context in
            let principal = try context.require(.admin, .trustExecutive, .schoolLeader)
            let id = try context.parameters.trustID()
            guard principal.canSee(trust: id),
                try await register.trust(id, scope: principal.scope, logger: context.logger) != nil
            else { throw APIError.notFound("the trust") }
            let only = principal.role == .schoolLeader ? principal.urns : nil
            let schools = try await register.schools(of: id, only: only, scope: principal.scope, logger: context.logger)
            return SchoolList(trustID: id.uuidString, schools: schools.map(SchoolBody.init))
        }
        group.get("schools/:urn") { _, context in
            let principal = try context.require(.admin, .trustExecutive, .schoolLeader)
            let urn = try context.parameters.urn()
            guard let school = try await register.school(urn, scope: principal.scope, logger: context.logger),
                principal.canSee(school: urn, currentTrust: school.trustID)
            else { throw APIError.notFound("the school") }
            return SchoolBody(school)
        }
        group.post("admin/gias-imports") { request, context in
            _ = try context.require(.admin)
            let query = request.uri.queryParameters
            let createTrusts = ["true", "1", "yes"].contains(query.get("create_trusts")?.lowercased() ?? "false")
            var encoding: TextEncoding?
            if let name = query.get("encoding") {
                guard let known = TextEncoding(rawValue: name.lowercased()) else {
                    throw APIError(.badRequest, "encoding must be utf-8 or windows-1252")
                }
                encoding = known
            }
            var request = request
            let body = try await request.collectBody(limit: Self.giasUploadLimit, what: "a GIAS file")
            let register: GIASRegisterReader.Result
            do {
                register = try GIASRegisterReader.read(Array(buffer: body), encoding: encoding)
            } catch let failure as GIASRegisterReader.Failure {
                throw APIError(.unprocessableContent, failure.description)
            }
            let date = todayUTC()
            let summary = try await importer.importRegister(
                register, createTrusts: createTrusts, effectiveDate: date, logger: context.logger)
            return ImportBody(
                new: summary.new, changed: summary.changed, closed: summary.closed, unchanged: summary.unchanged,
                rejected: summary.rejected.count,
                rejections: summary.rejected.map { .init(row: $0.row, column: $0.column, reason: $0.reason) },
                trustsCreated: summary.trustsCreated, membershipsOpened: summary.membershipsOpened,
                membershipsClosed: summary.membershipsClosed, effectiveDate: date.description)
        }
    }
}
