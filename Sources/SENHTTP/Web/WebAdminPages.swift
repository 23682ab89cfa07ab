import Foundation
import HTTPTypes
import Hummingbird
import SENAPI
import SENCore
import SENStore

/// An administrator's page: trusts, the GIAS register import with its report, DfE's national rates, and releases
/// for research, through the API controllers' own functions.
extension WebController {
    struct AdminView {
        struct Trust { let id: String; let name: String; let code: String; let schools: Int; let created: String }
        struct Release { let label: String; let released: String; let schools: Int }
        struct Option { let value: String; let label: String }
        struct Rejection { let row: Int; let column: String; let reason: String }
        let chrome: Chrome
        let trusts: [Trust]
        let releases: [Release]
        let releasable: [Option]
        let hasReleasable: Bool
        let notice: String?
        let error: String?
        let errorField: String
        let rejections: [Rejection]
        let hasRejections: Bool
    }

    func adminView(_ context: AuthenticatedContext, notice: String? = nil, error: (field: String, message: String)? = nil, rejections: [Rejection] = [])
        async throws -> AdminView
    {
        _ = try context.require(.admin)
        let trusts = try await register.trusts(scope: .platform, logger: context.logger)
        let releases = try await research.releaseList(context).releases
        let released = Set(releases.map(\.term))
        // Terms past their deadline and not released yet, latest first.
        let current = AcademicTerm.current(on: todayUTC())!
        let releasable = current.lastTerms(9).reversed().filter { todayUTC() > $0.deadline && !released.contains($0.description) }
        return AdminView(
            chrome: Chrome("Administration", context, section: "Administration"),
            trusts: trusts.map { .init(id: $0.id.uuidString, name: $0.name, code: $0.giasCode ?? "", schools: $0.schoolCount, created: Show.date($0.createdAt)) },
            releases: releases.reversed().map { .init(label: Show.term($0.term), released: Show.date($0.releasedAt), schools: $0.schools) },
            releasable: releasable.map { .init(value: $0.description, label: Show.term($0.description)) }, hasReleasable: !releasable.isEmpty,
            notice: notice, error: error?.message, errorField: error?.field ?? "gias-file",
            rejections: rejections.prefix(200).map { .init(row: $0.row, column: $0.column ?? "", reason: $0.reason) }, hasRejections: !rejections.isEmpty)
    }

    @Sendable func adminPage(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        renderer.page("admin", try await adminView(context))
    }

    @Sendable func adminGIAS(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await adminUpload(request, context, field: "gias-file", missing: "Choose a GIAS export (CSV)") { form, bytes in
            let r = try await adminImports.importGIAS(
                bytes, createTrusts: form["create_trusts"] == "true", encoding: TextEncoding(rawValue: form["encoding"] ?? ""), context: context)
            return (
                "GIAS register imported (effective \(r.effectiveDate)): \(r.new) new, \(r.changed) changed, \(r.closed) closed, \(r.unchanged) unchanged schools; \(r.trustsCreated) trusts created; \(r.membershipsOpened) memberships opened and \(r.membershipsClosed) closed; \(r.rejected) rows left out.",
                r.rejections
            )
        }
    }

    @Sendable func adminNational(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await adminUpload(request, context, field: "national-file", missing: "Choose a DfE release file (CSV)") { _, bytes in
            let r = try await adminImports.importNational(bytes, context: context)
            return (
                "DfE release imported (\(r.kind)): \(r.rates) figures, \(r.new) new, \(r.changed) changed, \(r.unchanged) unchanged; \(r.skippedRows) rows skipped.",
                r.rejections
            )
        }
    }

    /// An administrator's upload: the file of the form's `file` field through `run` (an API controller's import),
    /// answered with its summary and the rows left out, or the API's 422 as an error on the form's `field`.
    func adminUpload(
        _ request: Request, _ context: AuthenticatedContext, field: String, missing: String,
        run: (WebForm, [UInt8]) async throws -> (notice: String, rejections: [Rejection])
    ) async throws -> Response {
        _ = try context.require(.admin)
        var request = request
        let form = try await WebForm.read(&request)
        guard let file = form.files["file"], !file.bytes.isEmpty else {
            return renderer.page("admin", try await adminView(context, error: (field, missing)), status: .unprocessableContent)
        }
        do {
            let (notice, rejections) = try await run(form, file.bytes)
            return renderer.page("admin", try await adminView(context, notice: notice, rejections: rejections))
        } catch let error as APIError where error.status == .unprocessableContent {
            return renderer.page(
                "admin", try await adminView(context, error: (field, ReturnFormView.capitalised(error.detail))), status: .unprocessableContent)
        }
    }

    @Sendable func adminRelease(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        _ = try context.require(.admin)
        var request = request
        let form = try await WebForm.read(&request)
        do {
            let release = try await research.release(term: try parseTerm(form["term"]), context: context)
            return renderer.page(
                "admin", try await adminView(context, notice: "\(Show.term(release.term)) is released for research and frozen: \(release.schools) school\(release.schools == 1 ? "" : "s")."))
        } catch let error as APIError where error.status == .unprocessableContent || error.status == .conflict || error.status == .badRequest {
            return renderer.page("admin", try await adminView(context, error: ("term", ReturnFormView.capitalised(error.detail))), status: error.status)
        }
    }
}

// MARK: A trust's schools, and adding a trust

extension WebController {
    struct AdminTrustView {
        struct School { let urn: Int; let name: String; let phase: String; let type: String; let la: String; let region: String; let status: String; let pupils: String }
        let chrome: Chrome
        let name: String
        let code: String
        let schools: [School]
        let hasSchools: Bool
        /// The email domains and tenants the trust's staff sign in from (set here, by the administrator).
        let domainsText: String
        let tenantsText: String
        let errors: [ErrorLink]
        let hasErrors: Bool
        let domainsError: String?
        let tenantsError: String?
        let notice: String?
        let trustID: String
    }

    /// A trust's schools as the register holds them (`GET /v1/trusts/{trust}` and `…/schools`), and what its staff
    /// sign in from.
    @Sendable func adminTrust(_ request: Request, context: TrustContext) async throws -> Response {
        renderer.page("admin-trust", try await adminTrustView(request, context: context))
    }

    func adminTrustView(_ request: Request, context: TrustContext, form: WebForm? = nil, errors: FieldErrors = []) async throws -> AdminTrustView {
        let trust = try await registerAPI.trust(request, context: context)
        let list = try await registerAPI.schools(request, context: context)
        let sources = try await peopleAPI.sources(request, context: context)
        var byField: [String: String] = [:]
        for error in errors where byField[error.field] == nil { byField[error.field] = error.message }
        return AdminTrustView(
            chrome: Chrome(trust.name, context, section: "Administration"), name: trust.name, code: trust.giasCode ?? "",
            schools: list.schools.map {
                .init(
                    urn: $0.urn.value, name: $0.name, phase: Show.phase($0.phase), type: $0.establishmentType, la: $0.laName, region: $0.region,
                    status: $0.status, pupils: $0.numberOfPupils.map(String.init) ?? "")
            },
            hasSchools: !list.schools.isEmpty,
            domainsText: form?["domains"] ?? sources.emailDomains.joined(separator: "\n"), tenantsText: form?["tenants"] ?? sources.tenants.joined(separator: "\n"),
            errors: errors.map { .init(href: "#" + $0.field, message: $0.message) }, hasErrors: !errors.isEmpty, domainsError: byField["domains"],
            tenantsError: byField["tenants"],
            notice: request.uri.queryParameters.get("done") == "sources" ? "Sign-in domains and tenants saved." : nil,
            trustID: context.target.uuidString)
    }

    @Sendable func adminCreateTrust(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var request = request
        let form = try await WebForm.read(&request)
        let code = (form["gias_code"] ?? "").trimmingCharacters(in: .whitespaces)
        do {
            let trust = try await registerAPI.createTrust(NewTrust(name: form["name"] ?? "", giasCode: code.isEmpty ? nil : code), context: context)
            return renderer.page("admin", try await adminView(context, notice: "\(trust.name) is added. Import the GIAS register to give it its schools."))
        } catch let error as APIError where error.status == .unprocessableContent {
            let first = error.errors.first
            let field = first?.pointer == "/gias_code" ? "gias_code" : "name"
            return renderer.page(
                "admin", try await adminView(context, error: (field, ReturnFormView.capitalised(first?.message ?? error.detail))), status: .unprocessableContent)
        }
    }
}
