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
