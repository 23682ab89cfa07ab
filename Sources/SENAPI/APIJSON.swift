import Foundation

/// How the API names JSON keys: snake_case on the wire, Swift's camelCase in the types, one rule each way.
///
/// `snake` writes `trustID` as `trust_id` and `firstSubmittedAt` as `first_submitted_at`; a key that already holds
/// an underscore is a wire name spelled out (a `CodingKeys` case such as `wilson_95`) and is left as it is.
/// `camel` is its inverse for the keys the API uses: `trust_id` → `trustID` (`id` and `pp` are written `ID` and `PP`, as Swift does),
/// and a key with a number after an underscore (`limits_99_8`) is left as it is, since its Swift spelling is one a
/// `CodingKeys` case gives. Dictionary keys (need codes, item codes, totals) are data, and neither rule touches them.
public enum APIKeys {
    public static func snake(_ key: String) -> String {
        guard !key.contains("_"), key.contains(where: \.isUppercase) else { return key }
        let characters = Array(key)
        var result = ""
        for (index, character) in characters.enumerated() {
            if character.isUppercase {
                let previous = index > 0 ? characters[index - 1] : nil
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                let startsWord =
                    index > 0
                    && (previous.map { $0.isLowercase || $0.isNumber } == true
                        || (previous?.isUppercase == true && next?.isLowercase == true))
                if startsWord { result.append("_") }
                result += character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }

    public static func camel(_ key: String) -> String {
        let parts = key.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count > 1, !parts.contains(where: \.isEmpty), !parts.dropFirst().contains(where: { $0.first!.isNumber }) else {
            return key
        }
        return String(parts[0]) + parts.dropFirst().map { acronyms.contains(String($0)) ? $0.uppercased() : $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// Words Swift writes in capitals inside a name: `trustID`, `differencePP` (percentage points).
    static let acronyms: Set<String> = ["id", "pp"]

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) {
            self.stringValue = String(intValue)
            self.intValue = intValue
        }
    }
}

extension JSONEncoder {
    /// The API's JSON: snake_case keys (`APIKeys`), ISO 8601 dates, sorted keys, unescaped slashes. The server
    /// writes every body with it; the CLI and the tests read them with `JSONDecoder.api`.
    public static let api: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .custom { path in
            let key = path.last!
            return key.intValue.map { APIKeys.Key(intValue: $0)! } ?? APIKeys.Key(stringValue: APIKeys.snake(key.stringValue))
        }
        return encoder
    }()
}

extension JSONDecoder {
    /// Reads what `JSONEncoder.api` writes, and the request bodies clients send in the same dialect.
    public static let api: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.keyDecodingStrategy = .custom { path in
            let key = path.last!
            return key.intValue.map { APIKeys.Key(intValue: $0)! } ?? APIKeys.Key(stringValue: APIKeys.camel(key.stringValue))
        }
        return decoder
    }()
}
