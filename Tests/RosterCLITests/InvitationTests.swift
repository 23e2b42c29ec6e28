import Foundation
import RosterCore
@testable import RosterStore
import RosterDelivery
import XCTest

/// SPEC §6: accepting, resending and revoking invitations, the `.eml` messages, and delivery
/// retried by `roster deliver`, on a real store.
final class InvitationTests: XCTestCase {
    static let dan = "dan@partner.example"
    static let erin = "erin@northwind-media.example"

    // MARK: accept

    /// Checks that accepting `token` exits 1 with `message` and changes nothing.
    func assertAcceptRefused(_ ws: Workspace, _ token: String, _ message: String,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let before = try ws.dump()
        let result = ws.run(["invitations", "accept", token])
        XCTAssertEqual(result.status, 1, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(message), result.stderr, file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
        XCTAssertEqual(try ws.dump(), before, "a refused token changes nothing", file: file, line: line)
    }

    func testAcceptMakesTheUserActiveAndIsRecorded() throws {
        let ws = try Quickstart.applied(accepted: false)
        let serial = try ws.serial()
        let result = ws.run(["invitations", "accept", try ws.onlyToken(of: Self.erin)])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "Accepted: erin@northwind-media.example is now active.\n")
        XCTAssertEqual(try ws.strings("SELECT status || '/' || accepted_at FROM users WHERE email_key = '\(Self.erin)'"),
                       ["active/2026-11-23T12:00:00Z"])
        XCTAssertEqual(try ws.serial(), serial, "accepting is not a change of the directory")
        XCTAssertTrue(ws.run(["history", "--user", Self.erin]).stdout.contains("accept-invitation invitation \(Self.erin)"))
        XCTAssertEqual(ws.run(["invitations", "list", "--status", "accepted"]).stdout.split(separator: "\n").count, 1)
    }

    func testUnknownTokenIsRefused() throws {
        let ws = try Quickstart.applied(accepted: false)
        try assertAcceptRefused(ws, base64URL(Array(repeating: 7, count: 32)), "unknown invitation token")
        var near = Array(try ws.onlyToken(of: Self.dan))
        near[near.count / 2] = near[near.count / 2] == "A" ? "B" : "A"
        try assertAcceptRefused(ws, String(near), "unknown invitation token")
        try assertAcceptRefused(ws, "", "unknown invitation token")
    }

    func testUsedTokenIsRefused() throws {
        let ws = try Quickstart.applied(accepted: false)
        let token = try ws.onlyToken(of: Self.erin)
        XCTAssertEqual(ws.run(["invitations", "accept", token]).status, 0)
        try assertAcceptRefused(ws, token, "this invitation for 'erin@northwind-media.example' was already accepted")
    }

    func testRevokedTokenIsRefused() throws {
        let ws = try Quickstart.applied(accepted: false)
        let revoke = ws.run(["invitations", "revoke", Self.dan])
        XCTAssertEqual(revoke.status, 0, revoke.stderr)
        XCTAssertEqual(revoke.stdout, "Revoked the pending invitation of dan@partner.example; 'roster invitations resend dan@partner.example' sends a new one.\n")
        try assertAcceptRefused(ws, try ws.onlyToken(of: Self.dan), "was revoked")
        XCTAssertEqual(ws.run(["invitations", "revoke", Self.dan]).status, 1, "nothing pending any more")
        XCTAssertTrue(ws.run(["invitations", "list", "--status", "revoked"]).stdout.contains(Self.dan))
    }

    func testExpiredTokenIsRefused() throws {
        let ws = try Quickstart.applied(accepted: false)
        let token = try ws.onlyToken(of: Self.erin)
        ws.now += 7 * oneDay
        try assertAcceptRefused(ws, token, "expired at 2026-11-30T12:00:00Z")
        ws.now -= 1
        XCTAssertEqual(ws.run(["invitations", "accept", token]).status, 0, "one second before expiry it still works")
    }

    func testListFiltersByStatusAndNeverShowsTokens() throws {
        let ws = try Quickstart.applied(accepted: false)
        try ws.accept([Self.erin])
        XCTAssertEqual(ws.run(["invitations", "revoke", Self.dan]).status, 0)
        func emails(_ status: String, at: Date? = nil) -> [String] {
            ws.run(["invitations", "list", "--status", status], at: at).stdout.split(separator: "\n")
                .map { String($0.split(separator: " ", omittingEmptySubsequences: true)[1]) }
        }
        XCTAssertEqual(emails("accepted"), [Self.erin])
        XCTAssertEqual(emails("revoked"), [Self.dan])
        XCTAssertEqual(emails("pending"), ["alice@northwind-media.example", "bob@northwind-media.example",
                                           "carol@northwind-media.example", "frank@bluebird-studio.example"])
        XCTAssertEqual(emails("expired", at: ws.now + 8 * oneDay), ["alice@northwind-media.example", "bob@northwind-media.example",
                                                                     "carol@northwind-media.example", "frank@bluebird-studio.example"])
        let json = ws.run(["invitations", "list", "--format", "json"]).stdout
        for message in try ws.messages() { XCTAssertFalse(json.contains(message.token)) }
    }

    // MARK: resend

    func testResendRevokesTheOldTokenAndDeliversANewOne() throws {
        let ws = try Quickstart.applied(accepted: false)
        let old = try ws.onlyToken(of: Self.dan)
        let before = try ws.messages()
        let serial = try ws.serial()
        let result = ws.run(["invitations", "resend", Self.dan])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "Issued a new invitation to dan@partner.example; any earlier token no longer works.\nDelivered 1 invitation.\n")
        let sent = try ws.newMessages(to: Self.dan, since: before)
        XCTAssertEqual(sent.count, 1)
        XCTAssertNotEqual(sent.first?.token, old)
        XCTAssertEqual(sent.first?.from, "frank@bluebird-studio.example", "the same inviter and grants as before")
        XCTAssertEqual(try ws.serial(), serial + 1)
        try assertAcceptRefused(ws, old, "was revoked")
        XCTAssertEqual(ws.run(["invitations", "accept", sent[0].token]).status, 0)
        XCTAssertEqual(lines(try ws.plan()), [])
        XCTAssertEqual(ws.run(["audit", "verify"]).status, 0)
    }

    func testResendNeedsAPendingUser() throws {
        let ws = try Quickstart.applied()
        let before = try ws.dump()
        let active = ws.run(["invitations", "resend", Self.dan])
        XCTAssertEqual(active.status, 1)
        XCTAssertTrue(active.stderr.contains("'dan@partner.example' has no pending invitation"), active.stderr)
        let unknown = ws.run(["invitations", "resend", "nobody@nowhere.example"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("'nobody@nowhere.example' is not in the store"), unknown.stderr)
        XCTAssertEqual(try ws.dump(), before)
    }

    // MARK: Messages and delivery

    func testMessageIsAnRFC5322FileWithAStableMessageID() throws {
        let ws = try Quickstart.applied(accepted: false)
        let message = try XCTUnwrap(try ws.messages().first { $0.to == Self.dan })
        let id = try XCTUnwrap(ws.strings("""
            SELECT i.id FROM invitations i JOIN users u ON u.id = i.user_id WHERE u.email_key = '\(Self.dan)'
            """).first)
        XCTAssertEqual(message.file, "invitation-\(id)@roster.eml")
        let (head, body) = try XCTUnwrap(message.text.range(of: "\r\n\r\n").map {
            (String(message.text[..<$0.lowerBound]), String(message.text[$0.upperBound...]))
        })
        XCTAssertEqual(head.components(separatedBy: "\r\n"), [
            "Message-ID: <invitation-\(id)@roster>", "Date: Mon, 23 Nov 2026 12:00:00 +0000",
            "From: Frank Hale <frank@bluebird-studio.example>", "To: Dan Partner <dan@partner.example>",
            "Subject: You are invited to account bluebird-tv", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit",
        ])
        XCTAssertFalse(message.text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "CRLF line ends only")
        XCTAssertTrue(body.hasPrefix("Hello Dan Partner,\r\n\r\nFrank Hale (frank@bluebird-studio.example) invited you to:"), body)
        XCTAssertTrue(body.contains("  - account bluebird-tv (Bluebird TV): ecommerce-viewer, viewer\r\n"
                                    + "  - account northwind-live (Northwind Live Streaming): system-integrator\r\n"), body)
        XCTAssertTrue(body.contains("Accept the invitation before 2026-11-30T12:00:00Z:"), body)
        XCTAssertTrue(body.contains("https://portal.example.com/invite?token=\(message.token)\r\n"), body)
        XCTAssertEqual(Data(base64Encoded: message.token.replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/") + "=")?.count, 32, "32 random bytes, base64url")
    }

    func testDeliveredMessagesNoLongerHoldTheTokenAndOnlyItsHashIsStored() throws {
        let ws = try Quickstart.applied(accepted: false)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL AND token IS NULL"), 6)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE message IS NOT NULL OR token IS NOT NULL"), 0)
        XCTAssertTrue(try ws.store().pendingMessages(dueBy: nil, after: nil, limit: 1_000_000).isEmpty)
        for message in try ws.messages() {
            let stored = try ws.strings("""
                SELECT \(ws.isPostgres ? "encode(i.token_hash, 'hex')" : "lower(hex(i.token_hash))") FROM invitations i JOIN users u ON u.id = i.user_id
                WHERE u.email_key = '\(message.to.lowercased())'
                """)
            XCTAssertEqual(stored, [hex(tokenHash(message.token))], "only the SHA-256 of the token is kept")
        }
    }

    /// A folder of the outbox's path that cannot be made is named with the system's reason.
    func testAnOutboxFolderThatCannotBeMadeIsNamedWithTheReason() throws {
        let root = FileManager.default.temporaryDirectory.path + "/roster-outbox-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/taken", contents: Data("a file".utf8))
        let message = OutboundInvitation(
            messageID: "<invitation-abc@roster>", invitationID: "abc", recipient: InvitationParty(email: "dan@x.example", name: nil),
            inviter: nil, scopes: [], token: "T0KEN", acceptURL: nil, issuedAt: Date(timeIntervalSince1970: 0),
            expiresAt: Date(timeIntervalSince1970: 86_400), attempts: 0)

        let blocked = FileDelivery(folder: root + "/taken/outbox").deliverNow(message)
        XCTAssertEqual(blocked.failureReason, "cannot create the outbox folder \(root)/taken/outbox: Not a directory; "
                       + "fix it or set invitations.delivery.path")
        let deeper = FileDelivery(folder: root + "/taken/a/outbox").deliverNow(message)
        XCTAssertEqual(deeper.failureReason, "cannot create the outbox folder \(root)/taken/a/outbox: \(root)/taken/a: "
                       + "Not a directory; fix it or set invitations.delivery.path")

        XCTAssertEqual(FileDelivery(folder: root + "/taken/outbox").deliverNow([message, message]).map(\.failureReason),
                       [blocked.failureReason, blocked.failureReason], "a batch fails whole, with the same reason")

        XCTAssertEqual(FileDelivery(folder: root + "/new/outbox").deliverNow(message), .delivered, "missing folders are made")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/new/outbox"), ["invitation-abc@roster.eml"],
                       "named by the Message-ID without its angle brackets")
        let mode = try FileManager.default.attributesOfItem(atPath: root + "/new/outbox")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o700)
    }

    func testManyFailuresOfOneReasonShareALine() throws {
        let ws = try BigApply.workspace()
        try ws.write(".roster/outbox", "not a folder")
        let apply = ws.run(["apply", "--auto-approve"])
        XCTAssertEqual(apply.status, 0, apply.stderr)
        let reason = "\(ws.root)/.roster/outbox is not a folder; remove it or set invitations.delivery.path"
        let lines = apply.stderr.split(separator: "\n").filter { $0.hasPrefix("warning: delivery failed for ") }
        XCTAssertEqual(lines.count, 11, apply.stderr)
        let named = lines.prefix(10).map { $0.dropFirst("warning: delivery failed for ".count).prefix { $0 != ":" } }
        XCTAssertEqual(Set(named).count, 10, "ten recipients by name: \(named)")
        XCTAssertTrue(named.allSatisfy { $0.hasSuffix("@crash.example") }, "\(named)")
        let rest = try XCTUnwrap(lines.last)
        XCTAssertTrue(rest.hasPrefix("warning: delivery failed for 790 more invitations: \(reason); 'roster deliver' retries from "),
                      String(rest))
        XCTAssertTrue(lines.allSatisfy { $0.contains(": \(reason); ") }, apply.stderr)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts = 1"), BigApply.users,
                       "every message waits in the outbox, whether its failure had a line or not")
        XCTAssertEqual(try ws.int("""
            SELECT COUNT(*) FROM outbox WHERE last_error = '\(reason)' AND next_attempt_epoch IS NOT NULL
            """), BigApply.users, "each with its reason and its next attempt")
    }

    func testFailedDeliveryIsKeptAndRetriedByDeliver() throws {
        let ws = try Workspace()
        // The outbox folder's path is taken by a file: every delivery fails.
        try ws.write(".roster/outbox", "not a folder")
        let apply = ws.run(["apply", "--auto-approve"])
        XCTAssertEqual(apply.status, 0, "a failed delivery never fails or rolls back the apply: " + apply.stderr)
        XCTAssertEqual(apply.stderr.components(separatedBy: "warning: delivery failed for ").count - 1, 6, apply.stderr)
        XCTAssertTrue(apply.stderr.contains("'roster deliver' retries"), apply.stderr)
        XCTAssertEqual(try ws.serial(), 1)
        XCTAssertEqual(try ws.store().pendingMessages(dueBy: nil, after: nil, limit: 1_000_000).count, 6, "the messages wait in the outbox")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE attempts = 1 AND last_error IS NOT NULL"), 6)

        // The next attempt waits 5 s ± 20% (SPEC §6.2): not yet due at once, due 6 s later.
        XCTAssertEqual(ws.run(["deliver"]).stdout, "Nothing to deliver.\n", "the retry is not due yet")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE attempts = 1"), 6)
        ws.now += 6
        XCTAssertEqual(ws.run(["deliver"]).status, 1, "still failing")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE attempts = 2 AND status = 'pending'"), 6)

        try ws.remove(".roster/outbox")
        XCTAssertEqual(ws.run(["deliver"]).stdout, "Nothing to deliver.\n", "the third attempt waits 5 min ± 20%")
        let deliver = ws.run(["deliver", "--now"])
        XCTAssertEqual(deliver.status, 0, deliver.stderr)
        XCTAssertEqual(deliver.stdout, "Delivered 6 invitations.\n")
        XCTAssertEqual(Set(try ws.messages().map { $0.to }), Set(Quickstart.users))
        XCTAssertEqual(try ws.int("""
            SELECT COUNT(*) FROM outbox WHERE token IS NULL AND message IS NULL AND delivered_at IS NOT NULL AND status = 'delivered'
            """), 6)
        XCTAssertEqual(ws.run(["deliver"]).stdout, "Nothing to deliver.\n")
        XCTAssertEqual(try ws.serial(), 1, "delivery is not a change of the directory")
        for message in try ws.messages() {
            XCTAssertFalse(apply.stdout.contains(message.token) || apply.stderr.contains(message.token) || deliver.stderr.contains(message.token),
                           "a failed delivery's report never shows the token")
        }
        try ws.accept([Self.dan])
    }

    /// The file channel writes each batch of 500 while the outcomes of the one before are
    /// recorded: an apply delivering three batches over two pages records every message once,
    /// and leaves one file for each.
    func testFileDeliveryOverSeveralBatchesRecordsEachMessageOnce() throws {
        let (files, emails) = invitedDirectory(1_250, domain: "files.example", delivery: "{kind: file, path: .roster/outbox}")
        let ws = try Workspace(files: files)
        let apply = try ws.apply()
        XCTAssertTrue(apply.stdout.contains("Delivered 1250 invitations.\n"), apply.stdout)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE status = 'delivered' AND attempts = 1 AND token IS NULL"),
                       emails.count, "each message recorded once, as delivered")
        let written = Set(try FileManager.default.contentsOfDirectory(atPath: ws.outboxPath))
        XCTAssertEqual(written, Set(try ws.strings("SELECT invitation_id FROM outbox").map { "invitation-\($0)@roster.eml" }))
        XCTAssertEqual(Set(try ws.messages().map(\.to)), Set(emails))
    }

    func testRevokingAnUndeliveredInvitationErasesItsMessage() throws {
        let ws = try Workspace()
        try ws.write(".roster/outbox", "not a folder")
        XCTAssertEqual(ws.run(["apply", "--auto-approve"]).status, 0)
        XCTAssertEqual(ws.run(["invitations", "revoke", Self.dan]).status, 0)
        XCTAssertEqual(try ws.store().pendingMessages(dueBy: nil, after: nil, limit: 1_000_000).map(\.recipient.email).sorted(),
                       Quickstart.users.filter { $0 != Self.dan })
        XCTAssertEqual(try ws.int("""
            SELECT COUNT(*) FROM outbox o JOIN invitations i ON i.id = o.invitation_id JOIN users u ON u.id = i.user_id
            WHERE u.email_key = '\(Self.dan)' AND (o.message IS NOT NULL OR o.token IS NOT NULL)
            """), 0, "the revoked token is gone from the outbox")
        try ws.remove(".roster/outbox")
        XCTAssertEqual(ws.run(["deliver", "--now"]).stdout, "Delivered 5 invitations.\n")
    }
}
