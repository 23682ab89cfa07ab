import Foundation
import NIOSSL
import PostgresNIO

/// Where and as whom to connect, resolved once from `DATABASE_URL` (or a keyword=value string) with libpq's rules,
/// then handed both to PostgresNIO (queries) and back to libpq (scripts).
public struct DatabaseEndpoint: Sendable, Equatable {
    public enum Address: Sendable, Equatable {
        /// A Unix socket directory, as libpq's `host=/path` means it.
        case socketDirectory(String)
        case tcp(host: String)
    }

    public enum SSLMode: String, Sendable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var address: Address
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode

    public init(address: Address, port: Int, user: String, password: String?, database: String, sslMode: SSLMode) {
        self.address = address
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.sslMode = sslMode
    }

    public struct ConfigurationError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Resolves a connection string as psql would. Only the first of several comma-separated hosts is used.
    public static func resolve(_ conninfo: String) throws -> DatabaseEndpoint {
        let values: [String: String]
        do {
            values = try LibPQ.resolve(conninfo)
        } catch let error as LibPQ.ParseError {
            throw ConfigurationError(description: "the database connection string is not valid: \(error.description)")
        }
        let host = (values["host"] ?? values["hostaddr"] ?? "/var/run/postgresql")
            .split(separator: ",").first.map(String.init) ?? "/var/run/postgresql"
        let portText = (values["port"] ?? "5432").split(separator: ",").first.map(String.init) ?? "5432"
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw ConfigurationError(description: "the database port '\(portText)' is not a port number")
        }
        // libpq's defaults always name a user (PGUSER, or the operating system's user name).
        guard let user = values["user"] else {
            throw ConfigurationError(description: "the database connection string names no user, and libpq found none; set PGUSER")
        }
        let modeText = values["sslmode"] ?? "prefer"
        guard let sslMode = SSLMode(rawValue: modeText) else {
            throw ConfigurationError(description: "sslmode '\(modeText)' is not one libpq knows")
        }
        return DatabaseEndpoint(
            address: host.hasPrefix("/") ? .socketDirectory(host) : .tcp(host: host),
            port: port,
            user: user,
            password: values["password"],
            database: values["dbname"] ?? user,
            sslMode: sslMode
        )
    }

    /// The same server as another user or database.
    public func with(user: String? = nil, password: String?? = .none, database: String? = nil) -> DatabaseEndpoint {
        var copy = self
        if let user { copy.user = user }
        if case .some(let password) = password { copy.password = password }
        if let database { copy.database = database }
        return copy
    }

    /// A keyword=value string for libpq.
    public var conninfo: String {
        var parts: [String] = []
        switch address {
        case .socketDirectory(let path): parts.append("host=\(LibPQ.quote(path))")
        case .tcp(let host): parts.append("host=\(LibPQ.quote(host))")
        }
        parts.append("port=\(port)")
        parts.append("user=\(LibPQ.quote(user))")
        parts.append("dbname=\(LibPQ.quote(database))")
        if let password { parts.append("password=\(LibPQ.quote(password))") }
        parts.append("sslmode=\(sslMode.rawValue)")
        parts.append("connect_timeout=5")
        return parts.joined(separator: " ")
    }

    /// A description safe for logs: no password.
    public var redacted: String {
        switch address {
        case .socketDirectory(let path): "\(user)@\(path)/.s.PGSQL.\(port) db=\(database)"
        case .tcp(let host): "\(user)@\(host):\(port) db=\(database) sslmode=\(sslMode.rawValue)"
        }
    }

    /// PostgresNIO's client configuration. Pool sizes and timeouts are set by the caller.
    public func clientConfiguration() -> PostgresClient.Configuration {
        switch address {
        case .socketDirectory(let directory):
            return PostgresClient.Configuration(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        case .tcp(let host):
            let tls: PostgresClient.Configuration.TLS
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            switch sslMode {
            case .disable:
                tls = .disable
            case .allow, .prefer:
                tlsConfiguration.certificateVerification = .none
                tls = .prefer(tlsConfiguration)
            case .require:
                tlsConfiguration.certificateVerification = .none
                tls = .require(tlsConfiguration)
            case .verifyCA:
                tlsConfiguration.certificateVerification = .noHostnameVerification
                tls = .require(tlsConfiguration)
            case .verifyFull:
                tls = .require(tlsConfiguration)
            }
            return PostgresClient.Configuration(
                host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
    }
}
