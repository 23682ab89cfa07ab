/// What `senstat login --web` sends the browser to the server with (RFC 8252, OAuth for native apps): a redirect
/// URI on this computer's loopback interface, an opaque `state`, and a PKCE S256 challenge. Checked before anything
/// is shown, so that a link crafted to send a token anywhere else is refused outright.
public enum LoopbackRedirect {
    public enum Problem: Error, Equatable, Sendable {
        case redirectURI, state, challenge, method

        public var message: String {
            switch self {
            case .redirectURI: "redirect_uri must be http://127.0.0.1:PORT/PATH (or [::1] or localhost): a program on this computer"
            case .state: "state must be 8 to 200 letters, digits, '-', '_', '.' or '~'"
            case .challenge: "code_challenge must be 43 base64url characters (SHA-256 of the verifier)"
            case .method: "code_challenge_method must be S256"
            }
        }
    }

    /// The redirect URI's origin (`http://127.0.0.1:PORT`), or why the request is refused.
    public static func check(redirectURI: String, state: String, challenge: String, method: String) -> Result<String, Problem> {
        guard let origin = origin(of: redirectURI) else { return .failure(.redirectURI) }
        guard (8...200).contains(state.utf8.count), state.utf8.allSatisfy(isUnreserved) else { return .failure(.state) }
        guard challenge.utf8.count == 43, challenge.utf8.allSatisfy({ isBase64URL($0) }) else { return .failure(.challenge) }
        guard method == "S256" else { return .failure(.method) }
        return .success(origin)
    }

    /// `http://127.0.0.1:PORT`, `http://[::1]:PORT` or `http://localhost:PORT`, a port from 1 to 65535, then nothing
    /// or a path of unreserved characters and '/'; no query, fragment or user.
    public static func origin(of uri: String) -> String? {
        guard uri.utf8.count <= 200 else { return nil }
        for host in ["http://127.0.0.1:", "http://[::1]:", "http://localhost:"] where uri.hasPrefix(host) {
            let rest = uri.dropFirst(host.count)
            let port = rest.prefix { $0.isASCII && $0.isNumber }
            guard !port.isEmpty, port.count <= 5, let number = Int(port), (1...65535).contains(number), port.first != "0" else { return nil }
            let path = rest.dropFirst(port.count)
            guard path.isEmpty || (path.first == "/" && path.utf8.allSatisfy { isUnreserved($0) || $0 == UInt8(ascii: "/") }) else { return nil }
            return host + port
        }
        return nil
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        isBase64URL(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "~")
    }

    static func isBase64URL(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F
    }
}
