// libFuzzer entry point over SENCore's readers of untrusted input (Tests/fuzz/run; Docs/reliability.md).
// Built with `swiftc -sanitize=fuzzer,address` straight from Sources/SENCore, which has no dependencies.
// The first input byte chooses the reader; the rest is the input. Any trap, overflow or memory error is a crash.
import Foundation

let survey = Instrument(
    code: "fuzz", version: 1, title: "Fuzz", audience: "pupils",
    items: [
        .init(code: "one", text: "One", options: ["a", "b", "c"]),
        .init(code: "many", text: "Many", options: ["x", "y"], multiple: true),
    ])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch selector % 6 {
    case 0:
        // The CSV reader, then the returns importer's reader and validator.
        _ = try? CSVReader(utf8: bytes).rows()
        if case .success(let rows) = ReturnsCSV.read(bytes) {
            for row in rows { _ = row }
        }
    case 1:
        // A JSON body as every endpoint reads it: the text check, the decoder, the return's validator.
        _ = JSONTextCheck.scan(bytes)
        if let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) {
            let (raw, structural) = SENReturnValidator.fields(fromJSON: value)
            _ = SENReturnValidator.validate(raw, earlierIssues: structural)
        }
    case 2:
        if let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) {
            _ = SurveyValidator.validate(value, instrument: survey)
        }
    case 3:
        _ = try? GIASRegisterReader.read(bytes)
    case 4:
        _ = try? NationalReleaseReader.read(bytes)
    default:
        // Query values: ε, terms, URNs, trust ids.
        let text = String(decoding: bytes, as: UTF8.self)
        _ = Epsilon(parsing: text)
        _ = AcademicTerm(text)
        _ = URN(text)
        _ = TrustID(text)
        _ = CalendarDate(iso: text)
        _ = CSVWriter.cell(text)
    }
    return 0
}
