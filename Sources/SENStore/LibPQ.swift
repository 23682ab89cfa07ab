import CLibPQ
import Foundation
import NIOPosix

/// The few things senstat takes from libpq because libpq does them exactly as psql does: reading a connection
/// string (URI or keyword=value) with the `PG*` environment variables as defaults, and running a multi-statement
/// SQL script (migrations) in one round trip. Every query the server answers with runs on PostgresNIO.
public enum LibPQ {
    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `conninfo` with `PQconninfoParse` and fills what it leaves unset from `PQconndefaults`, which reads
    /// `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE` and the rest as libpq does.
    public static func resolve(_ conninfo: String) throws -> [String: String] {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(conninfo, &errorMessage) else {
            let message = errorMessage.map { String(cString: $0) } ?? "out of memory"
            if let errorMessage { PQfreemem(errorMessage) }
            throw ParseError(description: message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        defer { PQconninfoFree(parsed) }
        var values = options(parsed)
        if let defaults = PQconndefaults() {
            defer { PQconninfoFree(defaults) }
            for (key, value) in options(defaults) where values[key] == nil {
                values[key] = value
            }
        }
        return values
    }

    private static func options(_ list: UnsafeMutablePointer<PQconninfoOption>) -> [String: String] {
        var result: [String: String] = [:]
        var option = list
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val, value.pointee != 0 {
                result[String(cString: keyword)] = String(cString: value)
            }
            option += 1
        }
        return result
    }

    /// Quotes a value for a keyword=value connection string.
    public static func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}

/// A blocking libpq connection, used off the event loops for scripts: migrations and cluster bootstrap.
public final class LibPQConnection {
    public struct SQLError: Error, CustomStringConvertible {
        public let message: String
        public let sqlState: String?
        /// 1-based character position in the statement text, when PostgreSQL reports one.
        public let position: Int?
        public var description: String { message }
    }

    private let handle: OpaquePointer

    public init(conninfo: String) throws {
        guard let connection = PQconnectdb(conninfo) else {
            throw SQLError(message: "libpq could not allocate a connection", sqlState: nil, position: nil)
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw SQLError(message: message, sqlState: nil, position: nil)
        }
        self.handle = connection
        // Keep server notices (for example "relation already exists, skipping") out of the operator's terminal.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    deinit { PQfinish(handle) }

    /// Runs one or more statements; returns the rows of the last one as text (NULL as nil).
    @discardableResult
    public func execute(_ sql: String, parameters: [String?] = []) throws -> [[String?]] {
        let result: OpaquePointer?
        if parameters.isEmpty {
            result = PQexec(handle, sql)
        } else {
            var cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
            defer { cStrings.forEach { free($0) } }
            result = cStrings.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                    PQexecParams(handle, sql, Int32(parameters.count), nil, $0, nil, nil, 0)
                }
            }
        }
        guard let result else {
            throw SQLError(message: String(cString: PQerrorMessage(handle)), sqlState: nil, position: nil)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return []
        case PGRES_TUPLES_OK:
            var rows: [[String?]] = []
            for row in 0..<PQntuples(result) {
                rows.append(
                    (0..<PQnfields(result)).map { column in
                        PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                    })
            }
            return rows
        default:
            func field(_ code: Character) -> String? {
                guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
                return String(cString: value)
            }
            let primary = field("M") ?? String(cString: PQresultErrorMessage(result))
            throw SQLError(message: primary, sqlState: field("C"), position: field("P").flatMap { Int($0) })
        }
    }

    /// Runs blocking libpq work on a thread pool of its own, so that no event loop or cooperative thread waits on
    /// it. Its threads mostly wait for PostgreSQL (a migration, CREATE DATABASE, a lock a test holds on purpose),
    /// so there are more of them than cores: on NIO's shared pool (one thread per core, two here) a test's one-line
    /// statement waited seconds behind other tests' DROP DATABASE, long enough to outlast a 10 s window.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await threads.runIfActive(work)
    }

    private static let threads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 8)
        pool.start()
        return pool
    }()
}
