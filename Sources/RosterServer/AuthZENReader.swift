/// A strict reader of the two AuthZEN bodies an evaluation sends (`EvaluationRequest`,
/// `EvaluationsRequest`), straight from the request's bytes, for the requests `JSONDecoder`
/// cost most on (a generic decoder, a `Data` copy and a dictionary per object).
///
/// It reads only what it is sure `JSONDecoder` reads the same way: well-formed UTF-8 JSON
/// (RFC 8259) with the known fields of the right type or `null`, unknown fields skipped, at most
/// `maxDepth` levels deep, no key given twice, no lone surrogate. For anything else — any
/// refusal, a BOM or another encoding, a duplicate key, deeper nesting — it says nil and the
/// caller asks `JSONDecoder`, whose verdict and error wording are the answer. So the reader
/// never refuses a body the decoder takes nor words an error differently; a test holds it to
/// that on a corpus of valid and invalid bodies.
struct AuthZENReader {
    /// Why the reader stopped: it is not sure, and the decoder decides.
    struct Unsure: Error {}

    /// Deeper than this (an unknown field's value), the decoder decides (its own limit is 512).
    static let maxDepth = 64

    static func evaluation(_ bytes: UnsafeRawBufferPointer) -> AuthZEN.EvaluationRequest? {
        var reader = AuthZENReader(bytes)
        return try? reader.document { (reader: inout AuthZENReader) throws(Unsure) in try reader.evaluation(depth: 1) }
    }

    static func evaluations(_ bytes: UnsafeRawBufferPointer) -> AuthZEN.EvaluationsRequest? {
        var reader = AuthZENReader(bytes)
        return try? reader.document { (reader: inout AuthZENReader) throws(Unsure) in try reader.evaluations() }
    }

    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    private init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The whole body: white space, one object, white space, nothing more.
    private mutating func document<T>(_ read: (inout AuthZENReader) throws(Unsure) -> T) throws(Unsure) -> T {
        skipWhitespace()
        let value = try read(&self)
        skipWhitespace()
        guard index == bytes.count else { throw Unsure() }
        return value
    }

    // MARK: The request objects

    private mutating func evaluation(depth: Int) throws(Unsure) -> AuthZEN.EvaluationRequest {
        var request = AuthZEN.EvaluationRequest()
        var seen: UInt8 = 0
        try object(depth: depth) { (reader: inout AuthZENReader, key: Key) throws(Unsure) in
            switch key {
            case "subject": try Self.once(&seen, 1); request.subject = try reader.entity(depth: depth + 1)
            case "action": try Self.once(&seen, 2); request.action = try reader.action(depth: depth + 1)
            case "resource": try Self.once(&seen, 4); request.resource = try reader.entity(depth: depth + 1)
            default: try reader.skipValue(depth: depth + 1)
            }
        }
        return request
    }

    private mutating func evaluations() throws(Unsure) -> AuthZEN.EvaluationsRequest {
        var request = AuthZEN.EvaluationsRequest()
        var seen: UInt8 = 0
        try object(depth: 1) { (reader: inout AuthZENReader, key: Key) throws(Unsure) in
            switch key {
            case "subject": try Self.once(&seen, 1); request.subject = try reader.entity(depth: 2)
            case "action": try Self.once(&seen, 2); request.action = try reader.action(depth: 2)
            case "resource": try Self.once(&seen, 4); request.resource = try reader.entity(depth: 2)
            case "evaluations": try Self.once(&seen, 8); request.evaluations = try reader.evaluationList()
            case "options": try Self.once(&seen, 16); request.options = try reader.options()
            default: try reader.skipValue(depth: 2)
            }
        }
        return request
    }

    /// `[{…}, …]` or null; an element that is not an object (null included) is the decoder's.
    private mutating func evaluationList() throws(Unsure) -> [AuthZEN.EvaluationRequest]? {
        if try null() { return nil }
        try expect(UInt8(ascii: "["))
        var list: [AuthZEN.EvaluationRequest] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            index += 1
            return list
        }
        while true {
            skipWhitespace()
            list.append(try evaluation(depth: 3))
            skipWhitespace()
            switch try next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "]"): return list
            default: throw Unsure()
            }
        }
    }

    private mutating func options() throws(Unsure) -> AuthZEN.EvaluationsRequest.Options? {
        if try null() { return nil }
        var options = AuthZEN.EvaluationsRequest.Options()
        var seen: UInt8 = 0
        try object(depth: 2) { (reader: inout AuthZENReader, key: Key) throws(Unsure) in
            if key == "evaluations_semantic" {
                try Self.once(&seen, 1)
                options.evaluations_semantic = try reader.optionalString()
            } else {
                try reader.skipValue(depth: 3)
            }
        }
        return options
    }

    private mutating func entity(depth: Int) throws(Unsure) -> AuthZEN.Entity? {
        if try null() { return nil }
        var entity = AuthZEN.Entity()
        var seen: UInt8 = 0
        try object(depth: depth) { (reader: inout AuthZENReader, key: Key) throws(Unsure) in
            switch key {
            case "type": try Self.once(&seen, 1); entity.type = try reader.optionalString()
            case "id": try Self.once(&seen, 2); entity.id = try reader.optionalString()
            default: try reader.skipValue(depth: depth + 1)
            }
        }
        return entity
    }

    private mutating func action(depth: Int) throws(Unsure) -> AuthZEN.Action? {
        if try null() { return nil }
        var action = AuthZEN.Action()
        var seen: UInt8 = 0
        try object(depth: depth) { (reader: inout AuthZENReader, key: Key) throws(Unsure) in
            if key == "name" {
                try Self.once(&seen, 1)
                action.name = try reader.optionalString()
            } else {
                try reader.skipValue(depth: depth + 1)
            }
        }
        return action
    }

    /// A known key given twice: which one the decoder keeps is its business.
    private static func once(_ seen: inout UInt8, _ bit: UInt8) throws(Unsure) {
        guard seen & bit == 0 else { throw Unsure() }
        seen |= bit
    }

    // MARK: JSON

    /// An object key, as its bytes when it has no escape (the usual case), else as its text.
    private enum Key: Equatable, ExpressibleByStringLiteral {
        case raw(UnsafeRawBufferPointer.SubSequence)
        case text(String)
        case literal(StaticString)

        init(stringLiteral value: StaticString) { self = .literal(value) }

        /// A key read from the body against a name of the code (a `case "subject":`), either way round.
        static func == (lhs: Key, rhs: Key) -> Bool {
            switch (lhs, rhs) {
            case (.literal(let name), let key), (let key, .literal(let name)):
                let expected = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
                switch key {
                case .raw(let bytes): return bytes.elementsEqual(expected)
                case .text(let text): return text.utf8.elementsEqual(expected)
                case .literal(let other): return other.utf8Start == name.utf8Start
                }
            default:
                return false
            }
        }
    }

    /// `{ "key": value, … }`; `member` reads each value.
    private mutating func object(depth: Int, _ member: (inout AuthZENReader, Key) throws(Unsure) -> Void) throws(Unsure) {
        guard depth <= Self.maxDepth else { throw Unsure() }
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if try peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            let key = try self.key()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try member(&self, key)
            skipWhitespace()
            switch try next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "}"): return
            default: throw Unsure()
            }
        }
    }

    private mutating func key() throws(Unsure) -> Key {
        let start = index
        if try scanString() { return .raw(bytes[(start + 1)..<(index - 1)]) }
        return .text(try decodeString(start))
    }

    /// A string or null.
    private mutating func optionalString() throws(Unsure) -> String? {
        if try null() { return nil }
        let start = index
        if try scanString() {
            let body = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<(index - 1)])
            return String(decoding: body, as: UTF8.self)
        }
        return try decodeString(start)
    }

    /// Skips over a string starting at `index`, checking it; true when it is plain (no escape),
    /// so its bytes are its text. Its non-ASCII bytes must be well-formed UTF-8.
    private mutating func scanString() throws(Unsure) -> Bool {
        try expect(UInt8(ascii: "\""))
        let start = index
        var plain = true
        var ascii = true
        while true {
            let byte = try next()
            switch byte {
            case UInt8(ascii: "\""):
                if !ascii {
                    let body = UnsafeRawBufferPointer(rebasing: bytes[start..<(index - 1)])
                    guard Self.isUTF8(body) else { throw Unsure() }
                }
                return plain
            case UInt8(ascii: "\\"):
                plain = false
                try escape()
            case 0..<0x20: throw Unsure()
            case 0x80...: ascii = false
            default: break
            }
        }
    }

    /// One escape after its backslash; a `\u` high surrogate must be followed by a low one.
    private mutating func escape() throws(Unsure) {
        switch try next() {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return
        case UInt8(ascii: "u"):
            let unit = try hex4()
            if (0xDC00...0xDFFF).contains(unit) { throw Unsure() }
            if (0xD800...0xDBFF).contains(unit) {
                guard try next() == UInt8(ascii: "\\"), try next() == UInt8(ascii: "u"),
                      (0xDC00...0xDFFF).contains(try hex4()) else { throw Unsure() }
            }
        default:
            throw Unsure()
        }
    }

    private mutating func hex4() throws(Unsure) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = try next()
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Unsure()
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// The text of a string with escapes that `scanString` has already checked, from its quote.
    private mutating func decodeString(_ start: Int) throws(Unsure) -> String {
        let end = index
        index = start + 1
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        while index < end - 1 {
            let byte = bytes[index]
            index += 1
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                continue
            }
            let escaped = bytes[index]
            index += 1
            switch escaped {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    index += 2
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (try hex4() - 0xDC00)
                }
                guard let character = Unicode.Scalar(scalar) else { throw Unsure() }
                UTF8.encode(character) { out.append($0) }
            default: out.append(escaped)  // `"`, `\`, `/`
            }
        }
        index = end
        return String(decoding: out, as: UTF8.self)
    }

    /// Any value, checked and skipped: an unknown field's (AuthZEN's `context`, `properties`).
    private mutating func skipValue(depth: Int) throws(Unsure) {
        guard depth <= Self.maxDepth else { throw Unsure() }
        switch try peek() {
        case UInt8(ascii: "{"):
            try object(depth: depth) { (reader: inout AuthZENReader, _: Key) throws(Unsure) in try reader.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            index += 1
            skipWhitespace()
            if try peek() == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                switch try next() {
                case UInt8(ascii: ","): continue
                case UInt8(ascii: "]"): return
                default: throw Unsure()
                }
            }
        case UInt8(ascii: "\""): _ = try scanString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try number()
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(Unsure) {
        if try peek() == UInt8(ascii: "-") { index += 1 }
        let first = try next()
        if first != UInt8(ascii: "0") {
            guard Self.isDigit(first) else { throw Unsure() }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard Self.isDigit(try next()) else { throw Unsure() }
            skipDigits()
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            let sign = try peek()
            if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
            guard Self.isDigit(try next()) else { throw Unsure() }
            skipDigits()
        }
        // `01`, `1a`: the next byte must end the number.
        if index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D: break
            default: throw Unsure()
            }
        }
    }

    private mutating func skipDigits() {
        while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func literal(_ word: StaticString) throws(Unsure) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count,
              bytes[index..<(index + count)].elementsEqual(UnsafeRawBufferPointer(start: word.utf8Start, count: count))
        else { throw Unsure() }
        index += count
    }

    /// Whether a `null` is next, reading it if so.
    private mutating func null() throws(Unsure) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private func peek() throws(Unsure) -> UInt8 {
        guard index < bytes.count else { throw Unsure() }
        return bytes[index]
    }

    private mutating func next() throws(Unsure) -> UInt8 {
        guard index < bytes.count else { throw Unsure() }
        defer { index += 1 }
        return bytes[index]
    }

    private mutating func expect(_ byte: UInt8) throws(Unsure) {
        guard try next() == byte else { throw Unsure() }
    }

    /// Well-formed UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
    static func isUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
