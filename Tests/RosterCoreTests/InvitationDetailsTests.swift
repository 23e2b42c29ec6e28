import Foundation
import RosterCore
import XCTest

/// `InvitationPlan(compactJSON:)` reads roster's own form of an invitation's details, and never
/// a value other than `JSONDecoder`'s: on seeded random invitations and on edits of their text.
final class InvitationDetailsTests: XCTestCase {
    /// Plain characters, and ones the writer escapes (a quote, a backslash, control characters).
    static let plain = ["a", "z", "0", "-", ".", "@", "/", " ", "ü", "日", "😀", "owner"]
    static let escaped = ["\"", "\\", "\n", "\t", "\u{1}"]

    func text(_ random: inout SeededRandomSource, escapes: Bool) -> String {
        let alphabet = Self.plain + (escapes ? Self.escaped : [])
        return (0..<Int.random(in: 0...6, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
    }

    func invitation(_ random: inout SeededRandomSource, escapes: Bool) -> InvitationPlan {
        let grants = (0..<Int.random(in: 0...4, using: &random)).map { _ in
            InvitationGrant(scope: ScopeRef(Bool.random(using: &random) ? .customer : .account, text(&random, escapes: escapes)),
                            roles: (0..<Int.random(in: 0...3, using: &random)).map { _ in text(&random, escapes: escapes) })
        }
        return InvitationPlan(user: text(&random, escapes: escapes), email: text(&random, escapes: escapes),
                              inviter: Bool.random(using: &random) ? text(&random, escapes: escapes) : nil, grants: grants,
                              replaces: Bool.random(using: &random) ? text(&random, escapes: escapes) : nil)
    }

    func decoded(_ text: String) -> InvitationPlan? {
        try? JSONDecoder().decode(InvitationPlan.self, from: Data(text.utf8))
    }

    func testReadsWhatCompactJSONWritesAsTheDecoderDoes() {
        var random = SeededRandomSource(seed: 12)
        var read = 0
        for index in 0..<2_000 {
            let escapes = index % 2 == 1
            let plan = invitation(&random, escapes: escapes)
            let text = plan.compactJSON
            XCTAssertEqual(decoded(text), plan, text)
            let fast = InvitationPlan(compactJSON: text)
            if fast != nil { read += 1 }
            if !escapes { XCTAssertEqual(fast, plan, "roster's own form without escapes is read: \(text)") }
            if let fast { XCTAssertEqual(fast, plan, text) }
        }
        XCTAssertGreaterThan(read, 1_000)
    }

    /// Whatever an edit makes of the text (a byte removed, doubled or replaced, white space, an
    /// escape), the reader gives up or reads what the decoder reads.
    func testNeverReadsAValueTheDecoderDoesNot() {
        var random = SeededRandomSource(seed: 5)
        let inserts: [[UInt8]] = [Array(" ".utf8), Array("\\u0061".utf8), Array(",".utf8), Array("\"".utf8), Array("}".utf8),
                                  Array(",\"user\":\"x\"".utf8), Array("null".utf8), Array("[]".utf8)]
        var disagreements: [String] = []
        var readEdited = 0
        for _ in 0..<20_000 {
            var bytes = Array(invitation(&random, escapes: false).compactJSON.utf8)
            let at = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: bytes.remove(at: at)
            case 1: bytes.insert(contentsOf: inserts.randomElement(using: &random)!, at: at)
            default: bytes[at] = bytes[Int.random(in: 0..<bytes.count, using: &random)]
            }
            guard let text = String(validating: bytes, as: UTF8.self) else { continue }
            guard let fast = InvitationPlan(compactJSON: text) else { continue }
            readEdited += 1
            if fast != decoded(text) { disagreements.append(text) }
        }
        XCTAssertEqual(disagreements, [])
        XCTAssertGreaterThan(readEdited, 100, "edits inside strings still read")
    }
}
