import Foundation
import Logging

/// `LOG_FORMAT=text|json` and `LOG_LEVEL`. JSON is one object per line with the metadata (request id, trust)
/// as fields, for log shippers.
public enum LogSetup {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    public static func bootstrap(format: Format, level: Logger.Level) {
        switch format {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = TextLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}

/// What `StreamLogHandler` writes to standard error, with the metadata kept as it is set and written out only with an
/// entry. `StreamLogHandler` renders all of a logger's metadata as text each time any of it is set, and every
/// request sets some (Hummingbird's request id, then the caller's token and trust): 5% of an import's CPU time went
/// to text that was never written, since at the usual levels a request writes nothing (Docs/performance.md).
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    let label: String
    /// Where entries go: standard error unless given (tests).
    let stream: (any TextOutputStream & Sendable)?

    public init(
        label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider, stream: (any TextOutputStream & Sendable)? = nil
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.stream = stream
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var stream =
            self.stream.map { StreamLogHandler(label: label, stream: $0, metadataProvider: metadataProvider) }
            ?? StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
        stream.logLevel = logLevel
        stream.metadata = metadata
        stream.log(event: event)
    }
}

/// Writes each entry as one JSON line to standard error.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    private static let lock = NSLock()

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields[key] = "\(value)"
        }
        fields["time"] = ISO8601DateFormatter().string(from: Date())
        fields["level"] = event.level.rawValue
        fields["logger"] = label
        fields["message"] = event.message.description
        if let error = event.error { fields["error"] = "\(error)" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var data = try? encoder.encode(fields) else { return }
        data.append(UInt8(ascii: "\n"))
        Self.lock.lock()
        defer { Self.lock.unlock() }
        FileHandle.standardError.write(data)
    }
}
