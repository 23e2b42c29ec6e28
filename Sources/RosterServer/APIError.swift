import Foundation
import Hummingbird
import RosterApp
import RosterCore

/// An error answer: `{"error": {"code": "…", "message": "…"}}` with its status.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Seconds before trying again (`Retry-After`, with 429 and 503).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    /// A malformed request (400).
    static func malformed(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }

    /// The store did not answer (503).
    static let storeUnavailable = APIError(.serviceUnavailable, "store-unavailable",
                                           "the store does not answer; try again shortly", retryAfter: 1)

    /// Any error as an answer: roster's by their HTTP mapping, Hummingbird's by their status,
    /// anything else as 503 (never another 5xx).
    init(_ error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as RosterError:
            let failure = error.httpFailure
            self.init(HTTPResponse.Status(code: failure.status), failure.code,
                      failure.status == 503 ? "the store does not answer; try again shortly" : error.description,
                      retryAfter: failure.status == 503 ? 1 : nil)
        case let error as HTTPError where error.status == .notFound:
            self.init(.notFound, "not-found", "no such endpoint")
        case let error as HTTPError where error.status == .methodNotAllowed:
            self.init(.methodNotAllowed, "method-not-allowed", "this endpoint does not take that method")
        case let error as HTTPError where error.status == .contentTooLarge:
            self = .bodyTooLarge
        case let error as HTTPError where (400..<500).contains(error.status.code):
            self.init(error.status, "bad-request", error.body ?? error.status.reasonPhrase)
        default:
            self.init(.serviceUnavailable, "unavailable", "the server cannot answer now; try again shortly", retryAfter: 1)
        }
    }

    static let bodyTooLarge = APIError(.badRequest, "body-too-large",
                                       "the request body is over \(JSONBody.limit / 1024) KiB")

    var response: Response {
        struct Body: Encodable {
            struct Detail: Encodable { var code: String; var message: String }
            var error: Detail
        }
        var response = JSONBody.response(Body(error: .init(code: code, message: message)), status: status)
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }
}

/// Reading and writing JSON bodies.
enum JSONBody {
    /// Request bodies are small: an evaluation, a boxcar of them, a token.
    static let limit = 64 * 1024

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Decodes the request's body as `T`: 400 when it is not JSON of that shape or over `limit`.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        try decode(T.self, from: Data(try await body(of: request).readableBytesView))
    }

    /// Reads the body with `read` (a strict reader of `T`, nil when it is not sure), asking
    /// `JSONDecoder` for its verdict only when the reader gives none; errors are the decoder's.
    static func read<T: Decodable>(_ type: T.Type, from request: Request,
                                   with read: (UnsafeRawBufferPointer) -> T?) async throws -> T {
        let buffer = try await body(of: request)
        if let value = buffer.withUnsafeReadableBytes(read) { return value }
        return try decode(T.self, from: Data(buffer.readableBytesView))
    }

    /// The request's body, up to `limit` (400 past it).
    static func body(of request: Request) async throws -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: limit)
        } catch {
            throw APIError.bodyTooLarge
        }
    }

    /// `data` decoded as `T` by `JSONDecoder`, its errors as 400 answers.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(APIError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw APIError.malformed("bad-json", "the body is not a JSON object")
        } catch let DecodingError.typeMismatch(_, context) {
            throw APIError.malformed("bad-json", "\(path(context)) has the wrong type")
        } catch let DecodingError.keyNotFound(key, context) {
            throw APIError.malformed("bad-json", "\(path(context, key)) is missing")
        } catch {
            throw APIError.malformed("bad-json", "the body is not a JSON object for this endpoint")
        }
    }

    private static func path(_ context: DecodingError.Context, _ key: (any CodingKey)? = nil) -> String {
        let keys = context.codingPath + (key.map { [$0] } ?? [])
        return keys.isEmpty ? "the body" : keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        // Encoding roster's own value types cannot fail; an empty object stands in if it ever did.
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return response(data: data, status: status)
    }

    /// `Content-Type: application/json`, built once: each answer shares it until it adds a field.
    private static let headers: HTTPFields = [.contentType: "application/json"]

    static func response(bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: headers,
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func response(data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: headers,
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// JSON text written by hand where a generic encoder costs more than the answer.
enum JSONText {
    /// `text` as a JSON string, escaped as `JSONEncoder` (`.withoutEscapingSlashes`) escapes it:
    /// quote, backslash and control characters; everything else as its UTF-8.
    static func string(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x08: out.append(contentsOf: #"\b"#.utf8)
            case 0x0C: out.append(contentsOf: #"\f"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
