import Logging
import SENCore

/// One importer for DfE's national files: a `sen_phase_type` release (rates by area and phase, with counts) or a
/// file of pupils by primary type of need (national shares), told apart by their columns.
public enum NationalImport {
    public struct Outcome: Sendable {
        /// sen_phase_type or primary_need.
        public let kind: String
        /// Rates or need shares read from the file.
        public let rows: Int
        public let counts: BenchmarkStore.ImportCounts
        public let skippedRows: Int
        public let rejections: [GIASRegisterReader.Rejection]
    }

    /// Reads and stores the file; a file that is neither kind throws `NationalReleaseReader.Failure`.
    public static func run(_ bytes: [UInt8], store: BenchmarkStore, logger: Logger) async throws -> Outcome {
        let header = TextEncoding.detect(bytes).toUTF8(bytes).prefix { $0 != UInt8(ascii: "\n") }
        let names = String(decoding: header, as: UTF8.self).split(separator: ",").map { $0.trimmingASCIIWhitespace().trimmingCharacters(in: "\"").lowercased() }
        if NationalNeedReader.recognises(header: names) {
            let read = try NationalNeedReader.read(bytes)
            let counts = try await store.importNeedShares(read.shares, source: "DfE primary need import", logger: logger)
            return Outcome(kind: "primary_need", rows: read.shares.count, counts: counts, skippedRows: read.skippedRows, rejections: read.rejections)
        }
        let read = try NationalReleaseReader.read(bytes)
        let counts = try await store.importRates(read.rates, source: "DfE sen_phase_type import", logger: logger)
        return Outcome(kind: "sen_phase_type", rows: read.rates.count, counts: counts, skippedRows: read.skippedRows, rejections: read.rejections)
    }
}

extension String {
    fileprivate func trimmingCharacters(in quote: Character) -> String {
        var text = Substring(self)
        while text.first == quote { text = text.dropFirst() }
        while text.last == quote { text = text.dropLast() }
        return String(text)
    }
}
