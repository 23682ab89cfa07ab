/// Escaping text for HTML and SVG: `< > & " '` as entities, found by a scan of the UTF-8 bytes (walking a string by
/// `Character` costs grapheme breaking on every character), and text with none of them returned as it is.
public enum MarkupText {
    /// `apostrophe`: `&#39;` in HTML (as swift-mustache writes it), `&apos;` in SVG.
    public static func escape(_ text: String, apostrophe: String = "&#39;") -> String {
        let special: (UInt8) -> Bool = {
            $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "'")
        }
        guard text.utf8.contains(where: special) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 32)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: apostrophe.utf8)
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
