import Hummingbird
import SENAPI
import SENCore

// The API's bodies (SENAPI) are what the handlers return: Hummingbird encodes them with the context's
// `responseEncoder`, `JSONEncoder.api`.
extension Me: ResponseEncodable {}
extension TokenBody: ResponseEncodable {}
extension TokenList: ResponseEncodable {}
extension TrustBody: ResponseEncodable {}
extension TrustList: ResponseEncodable {}
extension SchoolBody: ResponseEncodable {}
extension SchoolList: ResponseEncodable {}
extension GIASImportResult: ResponseEncodable {}
extension NationalImportResult: ResponseEncodable {}
extension ReturnBody: ResponseEncodable {}
extension ReturnVersions: ResponseEncodable {}
extension TrustReturns: ResponseEncodable {}
extension Completeness: ResponseEncodable {}
extension ImportReceipt: ResponseEncodable {}
extension SchoolBenchmark: ResponseEncodable {}
extension InstrumentList: ResponseEncodable {}
extension SchoolSurveyView: ResponseEncodable {}
extension TrustSurveyView: ResponseEncodable {}
extension ReleaseBody: ResponseEncodable {}
extension ReleaseList: ResponseEncodable {}
extension InvitationBody: ResponseEncodable {}
extension InvitationList: ResponseEncodable {}
extension MembershipBody: ResponseEncodable {}
extension MembershipList: ResponseEncodable {}
extension SignInSourcesBody: ResponseEncodable {}
extension IdentityEventList: ResponseEncodable {}
