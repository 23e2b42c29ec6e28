import Foundation
import RosterCore
import XCTest

/// Random bytes that are always the same byte, for the ends of the jitter range.
private struct ConstantRandomSource: RandomSource {
    var byte: UInt8
    func bytes(_ count: Int) -> [UInt8] { Array(repeating: byte, count: count) }
}

/// The pure parts of delivery (SPEC §6.1–§6.2): command words, the retry schedule, mail
/// addresses and headers, which webhook URLs are allowed.
final class DeliveryCoreTests: XCTestCase {

    // MARK: CommandLineWords.split

    func testCommandWordsSplitOnBlanks() {
        XCTAssertEqual(CommandLineWords.split("/usr/sbin/sendmail -t -i"), ["/usr/sbin/sendmail", "-t", "-i"])
        XCTAssertEqual(CommandLineWords.split("  msmtp \t -t\n--account=relay  "), ["msmtp", "-t", "--account=relay"])
        XCTAssertEqual(CommandLineWords.split(""), [])
        XCTAssertEqual(CommandLineWords.split("   "), [])
    }

    func testCommandWordsKeepQuotedText() {
        XCTAssertEqual(CommandLineWords.split(#"msmtp --from='a b' "--account=my relay""#),
                       ["msmtp", "--from=a b", "--account=my relay"])
        // Single quotes keep everything, backslashes and double quotes included.
        XCTAssertEqual(CommandLineWords.split(#"echo 'a\b "c"'"#), ["echo", #"a\b "c""#])
        // Double quotes keep a backslash unless it escapes " \ $ or `.
        XCTAssertEqual(CommandLineWords.split(#"echo "a\"b" "c\\d" "e\$f" "g\nh""#), ["echo", #"a"b"#, #"c\d"#, "e$f", #"g\nh"#])
        // Adjacent parts make one word; an empty pair of quotes is an empty word.
        XCTAssertEqual(CommandLineWords.split(#"a"b"'c'd '' """#), ["abcd", "", ""])
        // No expansion of any kind.
        XCTAssertEqual(CommandLineWords.split("echo $HOME * `id` $(id) ~"), ["echo", "$HOME", "*", "`id`", "$(id)", "~"])
    }

    func testCommandWordsBackslashOutsideQuotesKeepsTheNextCharacter() {
        XCTAssertEqual(CommandLineWords.split(#"/opt/my\ mail/sendmail -t"#), ["/opt/my mail/sendmail", "-t"])
        XCTAssertEqual(CommandLineWords.split(#"a\'b a\"b a\\b"#), ["a'b", #"a"b"#, #"a\b"#])
        // A backslash before a newline joins the lines.
        XCTAssertEqual(CommandLineWords.split("msmtp \\\n-t"), ["msmtp", "-t"])
    }

    func testCommandWordsWithAnUnclosedQuoteOrATrailingBackslashAreNil() {
        XCTAssertNil(CommandLineWords.split("msmtp 'relay"))
        XCTAssertNil(CommandLineWords.split(#"msmtp "relay"#))
        XCTAssertNil(CommandLineWords.split(#"msmtp "relay\""#))
        XCTAssertNil(CommandLineWords.split(#"msmtp \"#))
        XCTAssertNil(CommandLineWords.split(#"msmtp "a\"#))
    }

    // MARK: RetrySchedule

    let failedAt = Date(timeIntervalSince1970: 1_795_435_200)

    func testEachWaitOfTheScheduleWithoutJitter() {
        let expected: [TimeInterval] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000]
        XCTAssertEqual(RetrySchedule.waits, expected)
        XCTAssertEqual(RetrySchedule.attempts, 8)
        for (index, wait) in expected.enumerated() {
            let next = RetrySchedule.next(afterAttempt: index + 1, at: failedAt, retryAfter: nil, jitter: 1)
            XCTAssertEqual(next?.timeIntervalSince(failedAt), wait, "after attempt \(index + 1)")
        }
    }

    func testNoAttemptAfterTheEighth() {
        XCTAssertNotNil(RetrySchedule.next(afterAttempt: 7, at: failedAt, retryAfter: nil, jitter: 1))
        XCTAssertNil(RetrySchedule.next(afterAttempt: 8, at: failedAt, retryAfter: nil, jitter: 1))
        XCTAssertNil(RetrySchedule.next(afterAttempt: 9, at: failedAt, retryAfter: 60, jitter: 1))
        // Events are never given up on: every 10 h from then on.
        XCTAssertEqual(RetrySchedule.next(afterAttempt: 8, at: failedAt, retryAfter: nil, jitter: 1, forever: true)?
            .timeIntervalSince(failedAt), 36_000)
        XCTAssertEqual(RetrySchedule.next(afterAttempt: 50, at: failedAt, retryAfter: nil, jitter: 1, forever: true)?
            .timeIntervalSince(failedAt), 36_000)
    }

    func testJitterStaysWithinTwentyPercent() {
        XCTAssertEqual(RetrySchedule.jitter(ConstantRandomSource(byte: 0)), 0.8)
        let top = RetrySchedule.jitter(ConstantRandomSource(byte: 0xFF))
        XCTAssertLessThan(top, 1.2)
        XCTAssertGreaterThan(top, 1.199_999)
        let random = SeededRandomSource(seed: 7)
        var seen: [Double] = []
        for _ in 0..<2000 {
            let jitter = RetrySchedule.jitter(random)
            XCTAssertTrue((0.8..<1.2).contains(jitter), "\(jitter)")
            seen.append(jitter)
        }
        // Spread over the range, not stuck at one value.
        XCTAssertLessThan(seen.min() ?? 1, 0.81)
        XCTAssertGreaterThan(seen.max() ?? 1, 1.19)
        for (index, wait) in RetrySchedule.waits.enumerated() {
            let low = RetrySchedule.next(afterAttempt: index + 1, at: failedAt, retryAfter: nil, jitter: 0.8)
            let high = RetrySchedule.next(afterAttempt: index + 1, at: failedAt, retryAfter: nil, jitter: top)
            XCTAssertEqual(low?.timeIntervalSince(failedAt) ?? 0, wait * 0.8, accuracy: 0.001)
            // Below 1.2 × the wait, by less than a Date's precision at this time.
            XCTAssertLessThanOrEqual(high?.timeIntervalSince(failedAt) ?? .infinity, wait * 1.2)
        }
    }

    func testALongerRetryAfterReplacesTheWaitAndAShorterOneDoesNot() {
        // 5 s (×1.1 = 5.5 s) is the wait after the first attempt.
        XCTAssertEqual(RetrySchedule.next(afterAttempt: 1, at: failedAt, retryAfter: 120, jitter: 1.1)?
            .timeIntervalSince(failedAt), 120)
        XCTAssertEqual(RetrySchedule.next(afterAttempt: 1, at: failedAt, retryAfter: 2, jitter: 1.1)?
            .timeIntervalSince(failedAt) ?? 0, 5.5, accuracy: 0.0001)
        XCTAssertEqual(RetrySchedule.next(afterAttempt: 3, at: failedAt, retryAfter: 86_400, jitter: 0.9)?
            .timeIntervalSince(failedAt), 86_400)
        XCTAssertEqual(RetrySchedule.next(afterAttempt: 3, at: failedAt, retryAfter: 0, jitter: 0.9)?
            .timeIntervalSince(failedAt) ?? 0, 1620, accuracy: 0.0001)
    }

    // MARK: MailAddress

    func testMailAddressParsesTheForms() throws {
        let bare = try XCTUnwrap(MailAddress(parsing: "no-reply@portal.example.com"))
        XCTAssertEqual(bare, MailAddress(name: nil, address: "no-reply@portal.example.com"))
        let named = try XCTUnwrap(MailAddress(parsing: "  ACME Portal <no-reply@portal.example.com> "))
        XCTAssertEqual(named, MailAddress(name: "ACME Portal", address: "no-reply@portal.example.com"))
        let quoted = try XCTUnwrap(MailAddress(parsing: #""ACME, \"the\" Portal" <no-reply@portal.example.com>"#))
        XCTAssertEqual(quoted.name, #"ACME, "the" Portal"#)
        XCTAssertEqual(MailAddress(parsing: "<no-reply@portal.example.com>"),
                       MailAddress(name: nil, address: "no-reply@portal.example.com"))
        XCTAssertEqual(MailAddress(parsing: "Zoë Portal <z@portal.example.com>")?.name, "Zoë Portal")
    }

    func testMailAddressRefusesWhatIsNoAddress() {
        for text in ["", "ACME Portal", "ACME <>", "no-reply", "a@b@c.example", "ACME <no reply@portal.example.com>",
                     "ACME <no-reply@portal.example.com"] {
            XCTAssertNil(MailAddress(parsing: text), text)
        }
    }

    func testMailAddressHeaderQuotesOrEncodesTheName() {
        XCTAssertEqual(MailAddress(name: nil, address: "a@x.example").header, "a@x.example")
        XCTAssertEqual(MailAddress(name: "", address: "a@x.example").header, "a@x.example")
        XCTAssertEqual(MailAddress(name: "Frank Hale", address: "f@x.example").header, "Frank Hale <f@x.example>")
        // Specials (here the dot, the comma and a quote) need a quoted string, with \ and " escaped.
        XCTAssertEqual(MailAddress(name: "Frank Hale via ACME Portal", address: "f@x.example").header,
                       "Frank Hale via ACME Portal <f@x.example>")
        XCTAssertEqual(MailAddress(name: "Hale, Frank J.", address: "f@x.example").header, #""Hale, Frank J." <f@x.example>"#)
        XCTAssertEqual(MailAddress(name: #"a "b" \c"#, address: "f@x.example").header, #""a \"b\" \\c" <f@x.example>"#)
        // Not ASCII: an RFC 2047 encoded word of the UTF-8 bytes.
        let encoded = MailAddress(name: "Zoë Ångström", address: "z@x.example").header
        XCTAssertEqual(encoded, "=?UTF-8?B?" + Data("Zoë Ångström".utf8).base64EncodedString() + "?= <z@x.example>")
        XCTAssertEqual(encoded, "=?UTF-8?B?Wm/DqyDDhW5nc3Ryw7Zt?= <z@x.example>")
    }

    func testLongNonASCIINamesAreSplitIntoEncodedWordsOfAtMost75Characters() throws {
        let name = String(repeating: "Ünïcødé ", count: 12) + "名前"
        let header = MailAddress(name: name, address: "u@x.example").header
        let words = header.dropLast(" <u@x.example>".count).components(separatedBy: "\r\n ")
        XCTAssertGreaterThan(words.count, 1)
        var decoded = ""
        for word in words {
            XCTAssertLessThanOrEqual(word.count, 75, word)
            XCTAssertTrue(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?="), word)
            let base64 = String(word.dropFirst("=?UTF-8?B?".count).dropLast(2))
            // Each word holds whole characters: it decodes on its own.
            decoded += try XCTUnwrap(Data(base64Encoded: base64).flatMap { String(data: $0, encoding: .utf8) }, word)
        }
        XCTAssertEqual(decoded, name)
        XCTAssertEqual(MailAddress.encodedWord("plain ASCII"), "plain ASCII")
    }

    // MARK: InvitationMessage

    func invitation(inviter: InvitationParty?, recipientName: String? = "Dan Partner") -> OutboundInvitation {
        OutboundInvitation(
            messageID: "<invitation-abc@roster>", invitationID: "abc",
            recipient: InvitationParty(email: "dan@partner.example", name: recipientName), inviter: inviter,
            scopes: [InvitedScope(type: .account, id: "bluebird-tv", name: "Bluebird TV", roles: ["viewer"])],
            token: "T0KEN", acceptURL: "https://portal.example.com/invite?token=T0KEN",
            issuedAt: failedAt, expiresAt: failedAt.addingTimeInterval(7 * 86_400), attempts: 0)
    }

    func headers(_ message: InvitationMessage) -> [String] {
        let head = message.text.components(separatedBy: "\r\n\r\n")[0]
        return head.components(separatedBy: "\r\n")
    }

    func testMessageFromThePlatformNamesTheInviterAndRepliesToThem() throws {
        let frank = InvitationParty(email: "frank@bluebird-studio.example", name: "Frank Hale")
        let sender = try XCTUnwrap(MailAddress(parsing: "ACME Portal <no-reply@portal.example.com>"))
        let message = InvitationMessage(invitation(inviter: frank), sender: sender)
        XCTAssertEqual(Array(headers(message).prefix(5)), [
            "Message-ID: <invitation-abc@roster>", "Date: Mon, 23 Nov 2026 12:00:00 +0000",
            "From: Frank Hale via ACME Portal <no-reply@portal.example.com>",
            "Reply-To: Frank Hale <frank@bluebird-studio.example>", "To: Dan Partner <dan@partner.example>",
        ])
        XCTAssertFalse(message.text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "CRLF line ends only")
        XCTAssertTrue(message.text.hasSuffix("\r\n"))
        // No inviter name: the address stands in; no sender name: the inviter alone.
        let bare = InvitationMessage(invitation(inviter: InvitationParty(email: "frank@bluebird-studio.example", name: nil)),
                                     sender: MailAddress(name: nil, address: "no-reply@portal.example.com"))
        XCTAssertEqual(bare.from, "\"frank@bluebird-studio.example\" <no-reply@portal.example.com>")
        XCTAssertEqual(bare.replyTo, "frank@bluebird-studio.example")
        // No inviter at all: the platform's name alone, and no Reply-To.
        let platform = InvitationMessage(invitation(inviter: nil), sender: sender)
        XCTAssertEqual(platform.from, "ACME Portal <no-reply@portal.example.com>")
        XCTAssertNil(platform.replyTo)
        XCTAssertFalse(platform.text.contains("Reply-To:"))
    }

    func testMessageWithoutASenderComesFromTheInviter() {
        let frank = InvitationParty(email: "frank@bluebird-studio.example", name: "Frank Hale")
        let message = InvitationMessage(invitation(inviter: frank))
        XCTAssertEqual(message.from, "Frank Hale <frank@bluebird-studio.example>")
        XCTAssertNil(message.replyTo)
    }

    func testNonASCIINamesInTheMessageHeadersAreEncodedWords() {
        let zoe = InvitationParty(email: "zoe@bluebird-studio.example", name: "Zoë Hale")
        let message = InvitationMessage(invitation(inviter: zoe, recipientName: "Dän Pärtner"),
                                        sender: MailAddress(name: "ACME Portal", address: "no-reply@portal.example.com"))
        let lines = headers(message)
        XCTAssertTrue(lines.contains("From: " + MailAddress.encodedWord("Zoë Hale via ACME Portal") + " <no-reply@portal.example.com>"),
                      "\(lines)")
        XCTAssertTrue(lines.contains("To: =?UTF-8?B?" + Data("Dän Pärtner".utf8).base64EncodedString() + "?= <dan@partner.example>"),
                      "\(lines)")
        for line in lines { XCTAssertTrue(line.unicodeScalars.allSatisfy(\.isASCII), "headers are ASCII: \(line)") }
    }

    // MARK: WebhookURL

    func testWebhookURLsAreHTTPSOrPlainHTTPToLoopback() {
        for url in ["https://platform.example.com/hooks", "https://10.0.0.1:8443/x", "HTTPS://Platform.Example.com",
                    "http://127.0.0.1:8081/hooks", "http://127.1.2.3/x", "http://localhost:9000", "http://LOCALHOST/x",
                    "http://[::1]:8081/hooks"] {
            XCTAssertTrue(WebhookURL.isAllowed(url), url)
        }
        for url in ["http://platform.example.com/hooks", "http://10.0.0.1/x", "http://128.0.0.1/x", "http://127.0.0.256/x",
                    "http://127.0.0/x", "http://127.0.0.01/x", "http://localhost.example.com/x", "http://127.0.0.1.nip.io/x",
                    "http://[::2]/x", "ftp://127.0.0.1/x", "https://", "127.0.0.1:8081", "", "not a url"] {
            XCTAssertFalse(WebhookURL.isAllowed(url), url)
        }
    }
}
