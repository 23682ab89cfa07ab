/// Bytes as lowercase hexadecimal (digests, secrets): two characters a byte, without Foundation's `String(format:)`,
/// which cost an import 3% of its CPU time for its body's 32-byte digest (Docs/performance.md).
public enum Hex {
    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
