import Foundation
import Logging
import SENHTTP
import Testing

/// `TextLogHandler` writes what `StreamLogHandler` writes — the same line for the same entry and metadata — while
/// keeping metadata unrendered until an entry is written.
@Suite struct LogSetupTests {
    final class Lines: TextOutputStream, @unchecked Sendable {
        private let lock = NSLock()
        private var text = ""
        func write(_ string: String) { lock.withLock { text += string } }
        var lines: [String] { lock.withLock { text.split(separator: "\n").map(String.init) } }
    }

    /// A line without its timestamp (the first field), which differs between two writes.
    static func untimed(_ line: String) -> String { String(line.drop { $0 != " " }) }

    @Test func theTextHandlerWritesWhatStreamLogHandlerWrites() {
        let ours = Lines()
        let theirs = Lines()
        var text = Logger(label: "senstat") { TextLogHandler(label: $0, metadataProvider: nil, stream: ours) }
        var stream = Logger(label: "senstat") { StreamLogHandler(label: $0, stream: theirs, metadataProvider: nil) }
        text.logLevel = .info
        stream.logLevel = .info
        for key in ["hb.request.id", "trust_id", "token_id"] {
            text[metadataKey: key] = "\(key)-value"
            stream[metadataKey: key] = "\(key)-value"
        }
        text[metadataKey: "token_id"] = nil
        stream[metadataKey: "token_id"] = nil
        for logger in [text, stream] {
            logger.debug("not written at info")
            logger.warning("import refused", metadata: ["rows": "3", "trust_id": "overridden"])
            logger.info("plain")
        }
        #expect(ours.lines.count == 2)
        #expect(ours.lines.map(Self.untimed) == theirs.lines.map(Self.untimed))
        let first = ours.lines.first ?? ""
        #expect(first.contains("warning senstat:"))
        #expect(first.contains("hb.request.id=hb.request.id-value"))
        #expect(first.contains("rows=3") && first.contains("trust_id=overridden"))
        #expect(!first.contains("token_id"), "metadata removed is not written")
        #expect(first.hasSuffix("import refused"))
        #expect(text[metadataKey: "trust_id"] == "trust_id-value")
    }
}
