import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Whether the client asked for CSV (`Accept: text/csv`) rather than the API's JSON.
func wantsCSV(_ request: Request) -> Bool {
    request.headers[.accept]?.lowercased().contains("text/csv") == true
}

/// A CSV download: UTF-8, with the file name a browser saves it under.
func csvResponse(_ text: String, name: String) -> Response {
    Response(
        status: .ok,
        headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(name)\""],
        body: .init(byteBuffer: ByteBuffer(string: text)))
}

/// A body already written as JSON (the comparison's `JSONOutput`, a stored survey payload).
func jsonResponse(_ text: String, status: HTTPResponse.Status) -> Response {
    Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
}

/// A date as the JSON bodies write it (ISO 8601, UTC, seconds), for CSV cells: one shared format style, not a new
/// formatter per cell.
func iso(_ date: Date?) -> String {
    guard let date else { return "" }
    return date.formatted(isoStyle)
}

let isoStyle = Date.ISO8601FormatStyle()

/// A chart as a file a browser saves.
func svgDownload(_ svg: String, name: String) -> Response {
    Response(
        status: .ok,
        headers: [.contentType: "image/svg+xml; charset=utf-8", .contentDisposition: "attachment; filename=\"\(name)\""],
        body: .init(byteBuffer: ByteBuffer(string: svg)))
}
