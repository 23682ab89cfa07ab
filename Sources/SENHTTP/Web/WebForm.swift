import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The fields of a submitted form: `application/x-www-form-urlencoded`, or the text fields and files of
/// `multipart/form-data` (the CSV upload). A name sent twice keeps its first value.
struct WebForm: Sendable {
    private(set) var fields: [String: String] = [:]
    /// Every value of each name, in order (checkboxes send one name many times).
    private(set) var lists: [String: [String]] = [:]
    /// Uploaded files by field name: the name the browser gave and the bytes.
    private(set) var files: [String: UploadedFile] = [:]

    struct UploadedFile: Sendable {
        let name: String
        let bytes: [UInt8]
    }

    subscript(name: String) -> String? { fields[name] }

    func all(_ name: String) -> [String] { lists[name] ?? [] }

    /// Forms are small (64 KB: the return form's fields are about 3 KB); the pages that take a file take as large
    /// an upload as the API does for it.
    static func limit(forPath path: String) -> Int {
        if path.hasPrefix("/admin/gias") { return AdminImportsController.giasUploadLimit + (1 << 20) }
        if path.hasPrefix("/admin/national") { return AdminImportsController.nationalUploadLimit + (1 << 20) }
        if path.hasPrefix("/trusts/"), path.hasSuffix("/import") { return ReturnImportController.csvUploadLimit + (1 << 20) }
        return 64 << 10
    }

    /// Reads (and keeps, for the handler) the body of `request`: 413 past the path's limit.
    static func read(_ request: inout Request) async throws -> WebForm {
        let limit = limit(forPath: request.uri.path)
        let buffer = try await request.collectBody(limit: limit, what: "a form")
        let contentType = request.headers[.contentType] ?? ""
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = Self.parameter("boundary", of: contentType) else {
                throw APIError(.badRequest, "the form has no multipart boundary")
            }
            return try multipart(Array(buffer.readableBytesView), boundary: boundary)
        }
        return urlEncoded(String(decoding: buffer.readableBytesView, as: UTF8.self))
    }

    static func urlEncoded(_ text: String) -> WebForm {
        var form = WebForm()
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            let value = parts.count > 1 ? decode(parts[1]) : ""
            if form.fields[name] == nil { form.fields[name] = value }
            form.lists[name, default: []].append(value)
        }
        return form
    }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    static func parameter(_ name: String, of header: String) -> String? {
        for part in header.split(separator: ";").dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == name {
                return pair[1].hasPrefix("\"") && pair[1].hasSuffix("\"") && pair[1].count >= 2 ? String(pair[1].dropFirst().dropLast()) : pair[1]
            }
        }
        return nil
    }

    /// RFC 7578: parts separated by `--boundary`, each with headers, a blank line and the content.
    static func multipart(_ bytes: [UInt8], boundary: String) throws -> WebForm {
        var form = WebForm()
        let delimiter = Array("--\(boundary)".utf8)
        var starts: [Int] = []
        var index = 0
        while let found = find(delimiter, in: bytes, from: index) {
            starts.append(found)
            index = found + delimiter.count
        }
        guard starts.count >= 2 else { throw APIError(.badRequest, "the form's multipart body is malformed") }
        for (start, end) in zip(starts, starts.dropFirst()) {
            var partStart = start + delimiter.count
            if partStart + 1 < bytes.count, bytes[partStart] == 13, bytes[partStart + 1] == 10 { partStart += 2 }
            guard let headerEnd = find(Array("\r\n\r\n".utf8), in: bytes, from: partStart), headerEnd < end else { continue }
            let headers = String(decoding: bytes[partStart..<headerEnd], as: UTF8.self)
            var contentEnd = end
            if contentEnd >= 2, bytes[contentEnd - 2] == 13, bytes[contentEnd - 1] == 10 { contentEnd -= 2 }
            let raw = Array(bytes[(headerEnd + 4)..<max(headerEnd + 4, contentEnd)])
            guard let disposition = headers.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-disposition:") }),
                let name = parameter("name", of: String(disposition))
            else { continue }
            if let filename = parameter("filename", of: String(disposition)) {
                if form.files[name] == nil { form.files[name] = UploadedFile(name: filename, bytes: raw) }
            } else {
                let content = String(decoding: raw, as: UTF8.self)
                if form.fields[name] == nil { form.fields[name] = content }
                form.lists[name, default: []].append(content)
            }
        }
        return form
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

enum WebForms {
    /// A state-changing request must come from a page of this site: browsers send `Origin` (and `Sec-Fetch-Site`)
    /// on every POST, and another site's form names its own origin.
    static func checkSameOrigin(_ request: Request) throws {
        if let site = request.headers[.secFetchSite]?.lowercased(), site != "same-origin", site != "none" {
            throw APIError(.forbidden, "this form was sent from another site; senstat's forms work only on its own pages")
        }
        if let origin = request.headers[.origin], origin != "null" {
            let host = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
            guard let host, let authority = request.head.authority, host.lowercased() == authority.lowercased() else {
                throw APIError(.forbidden, "this form was sent from another site; senstat's forms work only on its own pages")
            }
        } else if request.headers[.origin] == "null" {
            throw APIError(.forbidden, "this form was sent from another site; senstat's forms work only on its own pages")
        }
    }

    /// A path on this site to go back to after sign-in: never another host (`//host`, `/\host`, a scheme).
    static func safeNext(_ text: String?) -> String? {
        guard let text, text.hasPrefix("/"), !text.hasPrefix("//"), !text.hasPrefix("/\\"), !text.contains("\r"), !text.contains("\n"),
            text.count <= 500, !text.hasPrefix("/sign-in")
        else { return nil }
        return text
    }

    /// A form or query value: everything but RFC 3986's unreserved ASCII characters percent-encoded.
    static func formEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? ""
    }

    static func percentEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

extension HTTPField.Name {
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
}
