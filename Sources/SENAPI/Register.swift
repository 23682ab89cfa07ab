import Foundation
import SENCore

/// A trust (`GET /v1/trusts/{trust}`).
public struct TrustBody: Codable, Sendable, Equatable {
    public let trustID: String
    public let name: String
    public let giasCode: String?
    public let createdAt: Date
    public let schoolCount: Int

    public init(trustID: String, name: String, giasCode: String? = nil, createdAt: Date, schoolCount: Int) {
        self.trustID = trustID
        self.name = name
        self.giasCode = giasCode
        self.createdAt = createdAt
        self.schoolCount = schoolCount
    }
}

public struct TrustList: Codable, Sendable, Equatable {
    public let trusts: [TrustBody]

    public init(trusts: [TrustBody]) {
        self.trusts = trusts
    }
}

/// `POST /v1/trusts`.
public struct NewTrust: Codable, Sendable, Equatable {
    public let name: String
    public let giasCode: String?

    public init(name: String, giasCode: String? = nil) {
        self.name = name
        self.giasCode = giasCode
    }
}

/// A school as the register holds it (GIAS).
public typealias SchoolBody = SchoolRecord

public struct SchoolList: Codable, Sendable, Equatable {
    public let trustID: String
    public let schools: [SchoolBody]

    public init(trustID: String, schools: [SchoolBody]) {
        self.trustID = trustID
        self.schools = schools
    }
}

/// A row of an uploaded file that was left out, and why.
public typealias Rejection = GIASRegisterReader.Rejection

/// What a GIAS import changed in the register (`POST /v1/admin/gias-imports`).
public struct GIASImportResult: Codable, Sendable, Equatable {
    public let new, changed, closed, unchanged, rejected: Int
    public let rejections: [Rejection]
    public let trustsCreated, membershipsOpened, membershipsClosed: Int
    public let effectiveDate: String

    public init(new: Int, changed: Int, closed: Int, unchanged: Int, rejected: Int, rejections: [Rejection], trustsCreated: Int, membershipsOpened: Int, membershipsClosed: Int, effectiveDate: String) {
        self.new = new
        self.changed = changed
        self.closed = closed
        self.unchanged = unchanged
        self.rejected = rejected
        self.rejections = rejections
        self.trustsCreated = trustsCreated
        self.membershipsOpened = membershipsOpened
        self.membershipsClosed = membershipsClosed
        self.effectiveDate = effectiveDate
    }
}

/// What a DfE release changed in the national reference data (`POST /v1/admin/national-imports`).
public struct NationalImportResult: Codable, Sendable, Equatable {
    /// sen_phase_type (rates by phase and area) or primary_need (national shares by type of need).
    public let kind: String
    public let rates, new, changed, unchanged, skippedRows: Int
    public let rejections: [Rejection]

    public init(kind: String, rates: Int, new: Int, changed: Int, unchanged: Int, skippedRows: Int, rejections: [Rejection]) {
        self.kind = kind
        self.rates = rates
        self.new = new
        self.changed = changed
        self.unchanged = unchanged
        self.skippedRows = skippedRows
        self.rejections = rejections
    }
}
