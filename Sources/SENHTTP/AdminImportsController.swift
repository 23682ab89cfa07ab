import Foundation
import Hummingbird
import Logging
import NIOCore
import SENAPI
import SENCore
import SENStore

/// The admin's uploads of reference data: a GIAS register export, and a DfE release of SEN rates or of national
/// shares by type of need. Each reads the whole file, checks it, and writes it in one transaction.
struct AdminImportsController {
    let giasImporter: GIASImporter
    let benchmarks: BenchmarkStore

    /// A national GIAS export is about 60 MB.
    static let giasUploadLimit = 128 << 20
    static let nationalUploadLimit = 64 << 20

    var routes: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.post("admin/gias-imports", use: importGIAS)
        routes.post("admin/national-imports", use: importNational)
        return routes
    }

    @Sendable func importGIAS(_ request: Request, context: AuthenticatedContext) async throws -> GIASImportResult {
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
        return try await importGIAS(Array(buffer: body), createTrusts: createTrusts, encoding: encoding, context: context)
    }

    /// Reads a GIAS export, checks it, and writes the register in one transaction (the API's upload and the web
    /// app's form).
    func importGIAS(_ bytes: [UInt8], createTrusts: Bool, encoding: TextEncoding?, context: AuthenticatedContext) async throws -> GIASImportResult {
        _ = try context.require(.admin)
        let register: GIASRegisterReader.Result
        do {
            register = try GIASRegisterReader.read(bytes, encoding: encoding)
        } catch let failure as GIASRegisterReader.Failure {
            throw APIError(.unprocessableContent, failure.description)
        }
        let date = todayUTC()
        let summary = try await giasImporter.importRegister(register, createTrusts: createTrusts, effectiveDate: date, logger: context.logger)
        return GIASImportResult(
            new: summary.new, changed: summary.changed, closed: summary.closed, unchanged: summary.unchanged,
            rejected: summary.rejected.count, rejections: summary.rejected, trustsCreated: summary.trustsCreated,
            membershipsOpened: summary.membershipsOpened, membershipsClosed: summary.membershipsClosed,
            effectiveDate: date.description)
    }

    @Sendable func importNational(_ request: Request, context: AuthenticatedContext) async throws -> NationalImportResult {
        _ = try context.require(.admin)
        var request = request
        let body = try await request.collectBody(limit: Self.nationalUploadLimit, what: "a DfE release file")
        return try await importNational(Array(body.readableBytesView), context: context)
    }

    /// Reads a DfE release (SEN rates, or shares by type of need) and writes it in one transaction.
    func importNational(_ bytes: [UInt8], context: AuthenticatedContext) async throws -> NationalImportResult {
        _ = try context.require(.admin)
        do {
            let imported = try await NationalImport.run(bytes, store: benchmarks, logger: context.logger)
            return NationalImportResult(
                kind: imported.kind, rates: imported.rows, new: imported.counts.new, changed: imported.counts.changed,
                unchanged: imported.counts.unchanged, skippedRows: imported.skippedRows, rejections: imported.rejections)
        } catch let failure as NationalReleaseReader.Failure {
            throw APIError(.unprocessableContent, failure.description)
        }
    }
}
