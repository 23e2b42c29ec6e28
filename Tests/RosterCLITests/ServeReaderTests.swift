import Foundation
import RosterCore
@testable import RosterServer
import XCTest

/// The evaluation bodies' reader (`AuthZENReader`) against `JSONDecoder`, the reference: whatever
/// the reader reads, the decoder reads the same, byte for byte; whatever the reader leaves (every
/// body the decoder refuses among them), the decoder answers, so errors stay its own.
final class ServeReaderTests: XCTestCase {
    /// Bodies both must take, the reader without the decoder's help.
    static let valid: [String] = [
        #"{"subject":{"type":"user","id":"dan@partner.example"},"action":{"name":"streams:read"},"resource":{"type":"account","id":"northwind-live"}}"#,
        "{}",
        " \t\r\n{ \"subject\" : { \"type\" : \"user\" , \"id\" : \"a@b.example\" } } \n",
        #"{"subject":null,"action":null,"resource":null}"#,
        #"{"subject":{"type":null,"id":null},"action":{"name":null},"resource":{}}"#,
        #"{"subject":{"type":"user","id":"a@b.example","properties":{"department":"Sales","n":[1,-2.5e+3,0,-0,1E9,true,false,null,{}]}}}"#,
        #"{"context":{"time":"1985-10-26T01:22-07:00","deep":[[[[[[[[[[[[[[[[[[[[{"a":[[]]}]]]]]]]]]]]]]]]]]]]]}}"#,
        #"{"context":{"big":123456789012345678901234567890123456789012345678901234567890,"exp":1e999999,"tiny":-1e-999999,"frac":0.000000000000000000000000000001}}"#,
        // Escapes: in values and in keys, \u with surrogate pairs, \/ and the named ones.
        #"{"subject":{"type":"us\u0065r","id":"d\u00e9j\u00E0@caf\u00e9.example"}}"#,
        #"{"sub\u006Aect":{"type":"user","\u0069d":"\ud83c\udf89@x.example"}}"#,
        #"{"action":{"name":"a\/b\\c\"d\be\ff\ng\rh\ti\u0000j\u001fk"}}"#,
        #"{"action":{"name":"é ✓ 🎉 \u2028 \uFFFF"}}"#,
        #"{"x":"\ud800\udc00\udbff\udfff","subject":{"id":""}}"#,
        #"{"":1,"subject ":2,"Subject":3,"SUBJECT":{"type":4}}"#,
        #"{"evaluations":[],"options":{}}"#,
        #"{"evaluations":null,"options":null}"#,
        #"{"evaluations":[{}],"options":{"evaluations_semantic":null,"other":[1]}}"#,
        #"{"subject":{"type":"user","id":"a@b.example"},"options":{"evaluations_semantic":"deny_on_first_deny"},"evaluations":[{"action":{"name":"x:y"},"resource":{"type":"account","id":"1"}},{"resource":{"type":"customer","id":"2"},"context":{"k":"v"}}]}"#,
        #"{"evaluations":[{"subject":null,"evaluations":[1,2],"options":"ignored in an item"}]}"#,
    ]

    /// Bodies the decoder refuses (or reads in a way the reader leaves to it).
    static let invalid: [String] = [
        "", " ", "not json", "[1, 2]", "[]", "\"x\"", "42", "null", "true", "{", "}", "{}}", "{} {}", "{},",
        #"{"subject":{"type":"user","id":42}}"#,
        #"{"subject":{"type":["user"]}}"#,
        #"{"subject":{"type":true}}"#,
        #"{"subject":"dan@partner.example"}"#,
        #"{"subject":[]}"#,
        #"{"action":{"name":1.5}}"#,
        #"{"action":"streams:read"}"#,
        #"{"resource":7}"#,
        #"{"evaluations":{}}"#,
        #"{"evaluations":[null]}"#,
        #"{"evaluations":[1]}"#,
        #"{"evaluations":[{"subject":1}]}"#,
        #"{"evaluations":[{}, "x"]}"#,
        #"{"evaluations":[{},]}"#,
        #"{"options":{"evaluations_semantic":1}}"#,
        #"{"options":[]}"#,
        #"{"options":"execute_all"}"#,
        // Wrong types in two places: the decoder names the first of its own order, not the body's.
        #"{"options":{"evaluations_semantic":1},"subject":{"type":2}}"#,
        // Syntax.
        #"{"subject":{"type":"user",}}"#, #"{"subject" {"type":"user"}}"#, #"{subject:{}}"#, #"{'subject':{}}"#,
        #"{"a":1,}"#, #"{"a":[1,]}"#, #"{"a":[,1]}"#, #"{"a":01}"#, #"{"a":-}"#, #"{"a":1.}"#, #"{"a":.5}"#,
        #"{"a":+1}"#, #"{"a":1e}"#, #"{"a":1e+}"#, #"{"a":0x10}"#, #"{"a":NaN}"#, #"{"a":Infinity}"#, #"{"a":-Infinity}"#,
        #"{"a":tru}"#, #"{"a":nul}"#, #"{"a":True}"#, #"{"a":1 2}"#, #"{"a":"x" "y"}"#, #"{"a"}"#, #"{"a":}"#,
        "{\"a\":\"tab\there\"}", "{\"a\":\"line\nbreak\"}", "{\"a\":\"nul\u{0}\"}",
        // Escapes the decoder refuses or that the reader leaves to it.
        #"{"a":"\x41"}"#, #"{"a":"\u12"}"#, #"{"a":"\u12G4"}"#, #"{"a":"\"}"#, #"{"a":"\'"}"#,
        #"{"a":"\ud800"}"#, #"{"a":"\udc00"}"#, #"{"a":"\ud800\u0041"}"#, #"{"a":"\ud800x"}"#,
        #"{"subject":{"id":"\ud83c"}}"#, #"{"subject":{"id":"\udf89\ud83c"}}"#,
        // Duplicate keys.
        #"{"subject":{"type":"user"},"subject":{"type":"group"}}"#,
        #"{"subject":{"type":"user","type":"group"}}"#,
        #"{"subject":1,"subject":{"type":"user"}}"#,
        #"{"subject":{"id":"a@b.example"},"sub\u006aect":{"id":"c@d.example"}}"#,
        #"{"x":1,"x":2}"#,
        // Comments, JSON5.
        #"{"a":1 /* c */}"#, "{\"a\":1} // c", #"{a:1}"#,
        // Other white space than JSON's.
        "{\u{A0}\"a\":1}", "{\u{0B}\"a\":1}", "{\u{0C}\"a\":1}",
        // Nesting deeper than the reader's limit, and than the decoder's.
        #"{"context":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}",
        #"{"context":"# + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}",
        #"{"context":"# + String(repeating: #"{"a":"#, count: 600) + "1" + String(repeating: "}", count: 600) + "}",
        #"{"context":"# + String(repeating: "[", count: 100_000),
    ]

    /// Bodies as bytes that are not UTF-8 text as Swift writes it.
    static let invalidBytes: [[UInt8]] = [
        [0xEF, 0xBB, 0xBF] + Array("{}".utf8),                        // a UTF-8 BOM
        Array(#"{"a":"\#u{0}"#.utf8) + [0xFF] + Array("\"}".utf8),    // not UTF-8
        Array(#"{"a":""#.utf8) + [0xC0, 0xAF] + Array("\"}".utf8),    // overlong
        Array(#"{"a":""#.utf8) + [0xED, 0xA0, 0x80] + Array("\"}".utf8), // an encoded surrogate
        Array(#"{"a":""#.utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("\"}".utf8), // past U+10FFFF
        Array(#"{"a":""#.utf8) + [0xE2, 0x82] + Array("\"}".utf8),    // cut short
        Array(#"{"subject":{"id":""#.utf8) + [0xFF] + Array("\"}}".utf8),
        [0xFF, 0xFE] + Array("{}".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, // UTF-16 with a BOM
        Array("{\"subject\":{}}".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] },  // UTF-16LE
        Array("{\"subject\":{}}".utf16).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] },  // UTF-16BE
        Array("{}".utf8) + [0],
    ]

    func testTheReaderReadsTheValidBodiesAsTheDecoderDoes() throws {
        for body in Self.valid {
            let bytes = Array(body.utf8)
            XCTAssertNotNil(bytes.withUnsafeBytes(AuthZENReader.evaluation), "the reader left \(body)")
            XCTAssertNotNil(bytes.withUnsafeBytes(AuthZENReader.evaluations), "the reader left \(body)")
            try compare(bytes)
        }
    }

    /// Every refusal is the decoder's: the reader gives no answer of its own.
    func testTheReaderLeavesEveryInvalidBodyToTheDecoder() throws {
        for bytes in Self.invalid.map({ Array($0.utf8) }) + Self.invalidBytes {
            try compare(bytes)
        }
        for body in Self.invalid + ["{\"subject\":{\"type\":\"user\"}" + String(repeating: " ", count: 3) + "x"] {
            let bytes = Array(body.utf8)
            let read = bytes.withUnsafeBytes(AuthZENReader.evaluations)
            if (try? JSONBody.decode(AuthZEN.EvaluationsRequest.self, from: Data(bytes))) == nil {
                XCTAssertNil(read, "the reader took \(body.prefix(200)), which the decoder refuses")
            }
        }
    }

    /// The spec's own examples (api/authorization-api-1_0.md), requests and answers, and the
    /// benchmark's bodies: the reader reads each, and as the decoder does.
    func testTheSpecsExamplesAndTheBenchmarksBodies() throws {
        let examples = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: Paths.fixture("authzen/spec-examples.json"))))
        XCTAssertGreaterThan(examples.count, 30)
        for body in examples {
            let bytes = Array(body.utf8)
            XCTAssertNotNil(bytes.withUnsafeBytes(AuthZENReader.evaluations), "the reader left \(body)")
            try compare(bytes)
        }
    }

    /// Random edits of the valid bodies (bytes deleted, doubled, swapped for JSON's own), a
    /// seeded run: wherever the reader gives an answer, the decoder gives the same one.
    func testMutatedBodiesReadAsTheDecoderReadsThem() throws {
        let random = SeededRandomSource(seed: 15)
        let alphabet = Array(#"{}[]:,"\ u0aeE.-+1nlx"#.utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xA9, 0xED, 0xFF]
        var read = 0
        for round in 0..<20_000 {
            var bytes = Array(Self.valid[round % Self.valid.count].utf8)
            for _ in 0...(random.next() % 3) {
                guard !bytes.isEmpty else { break }
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(bytes[at], at: at)
                default: bytes[at] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                }
            }
            if try compare(bytes) { read += 1 }
        }
        // Most edits break the JSON; enough of them must still be the reader's to test it.
        XCTAssertGreaterThan(read, 2_000)
    }

    /// Over HTTP: a body the decoder refuses gets its 400 answer, code and message, on both
    /// evaluation endpoints.
    func testRefusalsOverHTTPAreTheDecodersWording() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        let bodies = Self.invalid.filter { $0.utf8.count < JSONBody.limit }
        for path in ["/access/v1/evaluation", "/access/v1/evaluations"] {
            let answers = try await send(server, bodies.map { .post(path, $0) })
            for (body, answer) in zip(bodies, answers) {
                let expected: APIError?
                do {
                    if path.hasSuffix("evaluation") {
                        _ = try JSONBody.decode(AuthZEN.EvaluationRequest.self, from: Data(body.utf8))
                    } else {
                        _ = try JSONBody.decode(AuthZEN.EvaluationsRequest.self, from: Data(body.utf8))
                    }
                    expected = nil
                } catch {
                    expected = error
                }
                guard let expected else { continue }
                XCTAssertEqual(answer.status, 400, body)
                let error = answer.json["error"] as? [String: Any]
                XCTAssertEqual(error?["code"] as? String, expected.code, body)
                XCTAssertEqual(error?["message"] as? String, expected.message, body)
            }
        }
    }

    /// Reads `bytes` both ways as both request types; true when the reader answered.
    @discardableResult
    private func compare(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> Bool {
        let single = try compare(AuthZEN.EvaluationRequest.self, bytes, bytes.withUnsafeBytes(AuthZENReader.evaluation), file: file, line: line)
        let boxcar = try compare(AuthZEN.EvaluationsRequest.self, bytes, bytes.withUnsafeBytes(AuthZENReader.evaluations), file: file, line: line)
        return single || boxcar
    }

    private func compare<T: Codable>(_ type: T.Type, _ bytes: [UInt8], _ read: T?, file: StaticString, line: UInt) throws -> Bool {
        guard let read else { return false }
        let shown = String(decoding: bytes.prefix(300), as: UTF8.self)
        let decoded: T
        do {
            decoded = try JSONBody.decode(T.self, from: Data(bytes))
        } catch {
            XCTFail("the reader took \(shown), which the decoder refuses: \(error.message)", file: file, line: line)
            return true
        }
        // Encoded, so strings compare by their bytes, not as canonically equivalent text.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        XCTAssertEqual(try encoder.encode(read), try encoder.encode(decoded), "read differently: \(shown)", file: file, line: line)
        return true
    }
}
