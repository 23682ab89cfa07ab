/// RFC 9457 problem details. Every error the API answers has this shape, as `application/problem+json`.
public struct ProblemDetails: Codable, Sendable, Equatable {
    /// One validation failure: where (a JSON pointer, or a CSV row and column), a stable code, and a sentence.
    public struct FieldError: Codable, Sendable, Equatable {
        public var pointer: String?
        public var row: Int?
        public var column: String?
        public var code: String
        public var message: String

        public init(pointer: String? = nil, row: Int? = nil, column: String? = nil, code: String, message: String) {
            self.pointer = pointer
            self.row = row
            self.column = column
            self.code = code
            self.message = message
        }
    }

    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    public var instance: String?
    public var requestID: String?
    public var errors: [FieldError]?

    public init(type: String, title: String, status: Int, detail: String? = nil, instance: String? = nil, requestID: String? = nil, errors: [FieldError]? = nil) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.instance = instance
        self.requestID = requestID
        self.errors = errors
    }
}
