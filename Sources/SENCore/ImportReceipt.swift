/// What a trust's CSV import did: the answer to the import, stored with its Idempotency-Key so that a retried
/// request gets the same answer. The store fills in the counts in the import's own transaction.
public struct ImportReceipt: Codable, Sendable, Equatable {
    /// A warning on one row: the import went ahead, and the school may want to check the figure.
    public struct Warning: Codable, Sendable, Equatable {
        public let urn: Int
        public let row: Int
        public let code: String
        public let message: String

        public init(urn: Int, row: Int, code: String, message: String) {
            self.urn = urn
            self.row = row
            self.code = code
            self.message = message
        }
    }

    public let term: String
    public let rows: Int
    public var created: Int
    public var amended: Int
    public var unchanged: Int
    public let late: Bool
    public let warnings: [Warning]

    public init(term: String, rows: Int, created: Int = 0, amended: Int = 0, unchanged: Int = 0, late: Bool, warnings: [Warning]) {
        self.term = term
        self.rows = rows
        self.created = created
        self.amended = amended
        self.unchanged = unchanged
        self.late = late
        self.warnings = warnings
    }
}

extension ImportReceipt {
    /// The receipt as `JSONEncoder.api` writes it (sorted keys), written directly: an import answers with it and
    /// stores it for its Idempotency-Key, and JSONEncoder was a tenth of a small import's CPU time
    /// (Docs/performance.md). `FastJSONTests` holds the two equal.
    public var jsonText: String {
        var o = JSONOutput(capacity: 128 + warnings.count * 200)
        o.object { o in
            o.key("amended"); o.number(amended)
            o.key("created"); o.number(created)
            o.key("late"); o.bool(late)
            o.key("rows"); o.number(rows)
            o.key("term"); o.string(term)
            o.key("unchanged"); o.number(unchanged)
            o.key("warnings")
            o.array(warnings) { o, warning in
                o.object { o in
                    o.key("code"); o.string(warning.code)
                    o.key("message"); o.string(warning.message)
                    o.key("row"); o.number(warning.row)
                    o.key("urn"); o.number(warning.urn)
                }
            }
        }
        return o.text
    }
}
