import Foundation
import NIOCore
import PostgresNIO
import SENCore

// The domain's identifiers cross the database boundary as themselves: bound as their PostgreSQL types (integer,
// uuid, text) and decoded with their own checks, so a query never spells `::uuid` on a string and a row that
// holds something the type does not allow is a decoding error (a 500 in the log), never a force unwrap.

extension URN: PostgresNonThrowingEncodable, PostgresDecodable {
    public static var psqlType: PostgresDataType { .int4 }
    public static var psqlFormat: PostgresFormat { .binary }

    public func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        Int32(value).encode(into: &byteBuffer, context: context)
    }

    public init<JSONDecoder: PostgresJSONDecoder>(
        from byteBuffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        self = try checked(Int.self, &byteBuffer, type, format, context) { URN($0) }
    }
}

extension UUIDIdentifier: PostgresNonThrowingEncodable, PostgresDecodable {
    public static var psqlType: PostgresDataType { .uuid }
    public static var psqlFormat: PostgresFormat { .text }

    public func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeString(uuidString)
    }

    public init<JSONDecoder: PostgresJSONDecoder>(
        from byteBuffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        self = try checked(UUID.self, &byteBuffer, type, format, context) { Self($0.uuidString) }
    }
}

extension AcademicTerm: PostgresNonThrowingEncodable, PostgresDecodable {
    public static var psqlType: PostgresDataType { .text }
    public static var psqlFormat: PostgresFormat { .binary }

    public func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeString(description)
    }

    public init<JSONDecoder: PostgresJSONDecoder>(
        from byteBuffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        // Text in either format is its UTF-8 bytes; parsed in place, without making a String per row.
        guard type == .text || type == .varchar || type == .bpchar || type == .name,
            let term = byteBuffer.readableBytesView.withContiguousStorageIfAvailable({ AcademicTerm(utf8: UnsafeRawBufferPointer($0)) }) ?? nil
        else {
            self = try checked(String.self, &byteBuffer, type, format, context) { AcademicTerm($0) }
            return
        }
        byteBuffer.moveReaderIndex(forwardBy: byteBuffer.readableBytes)
        self = term
    }
}

extension URN: PostgresArrayEncodable, PostgresArrayDecodable {
    public static var psqlArrayType: PostgresDataType { .int4Array }
}

extension AcademicTerm: PostgresArrayEncodable, PostgresArrayDecodable {
    public static var psqlArrayType: PostgresDataType { .textArray }
}

/// Payloads are read from jsonb by PostgresNIO's JSON decoding; a value that is not JSON is a decoding error.
extension JSONValue: PostgresDecodable {}

/// Decodes the PostgreSQL value as `Raw` and makes the domain value of it; a value the domain type refuses is a
/// decoding failure.
func checked<Raw: PostgresDecodable, Value, JSONDecoder: PostgresJSONDecoder>(
    _ raw: Raw.Type, _ byteBuffer: inout ByteBuffer, _ type: PostgresDataType, _ format: PostgresFormat,
    _ context: PostgresDecodingContext<JSONDecoder>, _ make: (Raw) -> Value?
) throws -> Value {
    guard let value = make(try Raw(from: &byteBuffer, type: type, format: format, context: context)) else {
        throw PostgresDecodingError.Code.failure
    }
    return value
}

/// A row's columns read in order, one type at a time: PostgresNIO's `decode((A, B, ...).self)` takes a parameter
/// pack, which the compiler does not specialise, so every row instantiated tuple and sequence metadata at run time
/// (a tenth of a comparison's CPU; Docs/performance.md). For the hot reads.
struct ColumnReader {
    private var cells: PostgresRow.Iterator

    init(_ row: PostgresRow) { cells = row.makeIterator() }

    mutating func next<T: PostgresDecodable>(_: T.Type = T.self) throws -> T {
        guard let cell = cells.next() else { throw PostgresDecodingError.Code.missingData }
        return try cell.decode(T.self, context: .default)
    }
}
