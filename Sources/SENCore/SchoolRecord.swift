/// A school as the register holds it (GIAS), and as the API answers it (`GET /v1/schools/{urn}`): the URN is
/// written as a number and the trust as its id.
public struct SchoolRecord: Sendable, Equatable, Codable {
    public let urn: URN
    public let name: String
    public let phase: String
    public let establishmentType: String
    public let laCode: Int?
    public let laName: String
    public let region: String
    public let status: String
    public let openedOn: String?
    public let closedOn: String?
    public let numberOfPupils: Int?
    /// The trust the school belongs to now, as far as the caller's scope can see.
    public let trustID: TrustID?

    public init(urn: URN, name: String, phase: String, establishmentType: String, laCode: Int? = nil, laName: String, region: String, status: String, openedOn: String? = nil, closedOn: String? = nil, numberOfPupils: Int? = nil, trustID: TrustID? = nil) {
        self.urn = urn
        self.name = name
        self.phase = phase
        self.establishmentType = establishmentType
        self.laCode = laCode
        self.laName = laName
        self.region = region
        self.status = status
        self.openedOn = openedOn
        self.closedOn = closedOn
        self.numberOfPupils = numberOfPupils
        self.trustID = trustID
    }
}
