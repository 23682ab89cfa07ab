import Hummingbird
import NIOCore
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
/// Written by `ImportReceipt.jsonText`, byte for byte what `JSONEncoder.api` writes (`FastJSONTests`).
extension ImportReceipt: ResponseGenerator {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: jsonText)))
    }
}
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
