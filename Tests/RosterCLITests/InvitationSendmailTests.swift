import Foundation
import RosterCore
import RosterTestSupport
import XCTest

/// SPEC §6.1, the `sendmail` kind: real mail through Debian's `msmtp` to an `msmtpd` SMTP
/// server on 127.0.0.1, and shell scripts standing in for sendmail to show each exit code's
/// meaning, the timeout and a missing command. On both stores.
final class InvitationSendmailTests: XCTestCase {
    static let dan = "dan@partner.example"
    static let from = #"  from: "ACME Portal <no-reply@portal.example.com>""#

    /// The quickstart sending with `command` (a YAML double-quoted string's inside).
    func workspace(command: String, timeout: String = "10s", from: Bool = true) throws -> Workspace {
        let ws = try Workspace()
        try ws.deliver(by: "kind: sendmail, command: \"\(command)\", timeout: \(timeout)")
        if from {
            try ws.edit("roster.yaml", "  acceptUrl:", Self.from + "\n  acceptUrl:")
        }
        return ws
    }

    func apply(_ ws: Workspace, file: StaticString = #filePath, line: UInt = #line) -> RunResult {
        let result = ws.run(["apply", "--auto-approve"])
        XCTAssertEqual(result.status, 0, "a delivery failure never fails the apply: " + result.stderr, file: file, line: line)
        return result
    }

    func assertOutbox(_ ws: Workspace, _ state: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try ws.outboxStates(), Dictionary(uniqueKeysWithValues: Quickstart.users.map { ($0, state) }),
                       file: file, line: line)
    }

    func lastErrors(_ ws: Workspace) throws -> Set<String> {
        Set(try ws.outboxEntries().map { $0["lastError"] as? String ?? "none" })
    }

    // MARK: Real mail

    func testMailReachesARealSMTPServerThroughMsmtpAndTheMailedTokenIsAccepted() throws {
        let server = try MailServer()
        let ws = try workspace(command: try server.msmtpCommand())
        try ws.edit(Quickstart.otherUsers, "name: Dan Partner", "name: Dän Pärtner")
        let apply = apply(ws)
        XCTAssertTrue(apply.stdout.contains("Delivered 6 invitations.\n"), apply.stdout + apply.stderr)
        let mails = try server.mails()
        XCTAssertEqual(mails.count, 6)
        XCTAssertEqual(Set(mails.flatMap(\.recipients)), Set(Quickstart.users), "the envelope from To:, by msmtp -t")
        let ids = try ws.messageIDs()
        for mail in mails {
            let recipient = try XCTUnwrap(mail.recipients.first)
            XCTAssertEqual(mail.header("Message-ID"), ids[recipient])
            XCTAssertEqual(mail.header("Date"), "Mon, 23 Nov 2026 12:00:00 +0000")
            XCTAssertEqual(mail.head.components(separatedBy: "\nDate: ").count - 1, 1, "one Date header: msmtp added none")
            XCTAssertTrue(mail.header("From")?.hasSuffix(" <no-reply@portal.example.com>") ?? false, mail.head)
            XCTAssertEqual(mail.header("Content-Type"), "text/plain; charset=utf-8")
            XCTAssertNotNil(mail.header("Received"), "it went through the SMTP server")
        }
        let dan = try XCTUnwrap(mails.first { $0.recipients == [Self.dan] })
        XCTAssertEqual(dan.header("From"), "Frank Hale via ACME Portal <no-reply@portal.example.com>")
        XCTAssertEqual(dan.header("Reply-To"), "Frank Hale <frank@bluebird-studio.example>")
        XCTAssertEqual(dan.header("To"), "=?UTF-8?B?" + Data("Dän Pärtner".utf8).base64EncodedString() + "?= <dan@partner.example>")
        XCTAssertEqual(dan.header("Subject"), "You are invited to account bluebird-tv")
        XCTAssertTrue(dan.body.hasPrefix("Hello Dän Pärtner,\n"), dan.body)

        // The token in the mail is the one roster accepts; the store no longer holds it.
        let range = try XCTUnwrap(dan.body.range(of: #"token=[A-Za-z0-9_-]{43}"#, options: .regularExpression))
        let token = String(dan.body[range].dropFirst("token=".count))
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE token IS NOT NULL OR message IS NOT NULL"), 0)
        try assertOutbox(ws, "delivered 1")
        XCTAssertFalse(apply.stdout.contains(token) || apply.stderr.contains(token))
        let accept = ws.run(["invitations", "accept", token])
        XCTAssertEqual(accept.status, 0, accept.stderr)
        XCTAssertEqual(accept.stdout, "Accepted: dan@partner.example is now active.\n")
    }

    // MARK: Stand-ins for sendmail

    func testTheCommandGetsItsWordsAsArgumentsAndTheMessageOnStdinWithCRLF() throws {
        let folder = try TemporaryFolder()
        let fake = try folder.script("fake sendmail", """
            printf '%s\\n' "$@" > "\(folder.path)/args-$$"
            cat > "\(folder.path)/mail-$$"
            """)
        // Quotes and a backslash, as a shell would read them (in YAML, \\ is one backslash).
        let ws = try workspace(command: #"'\#(fake)' -t \"-f no-reply@portal.example.com\" a\\ b"#)
        let apply = apply(ws)
        XCTAssertTrue(apply.stdout.contains("Delivered 6 invitations.\n"), apply.stdout + apply.stderr)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        let arguments = try names.filter { $0.hasPrefix("args-") }.map {
            try String(contentsOfFile: folder.path + "/" + $0, encoding: .utf8)
        }
        XCTAssertEqual(arguments.count, 6)
        XCTAssertEqual(Set(arguments), ["-t\n-f no-reply@portal.example.com\na b\n"], "no shell ran: three words")
        let texts = try names.filter { $0.hasPrefix("mail-") }.map {
            try String(contentsOfFile: folder.path + "/" + $0, encoding: .utf8)
        }
        XCTAssertEqual(texts.count, 6)
        let ids = Set(try ws.messageIDs().values)
        for text in texts {
            XCTAssertFalse(text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "CRLF line ends only")
            XCTAssertTrue(text.hasSuffix("\r\n"))
            let head = text.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
            XCTAssertTrue(ids.contains(String(head[0].dropFirst("Message-ID: ".count))), head[0])
            XCTAssertEqual(head[1], "Date: Mon, 23 Nov 2026 12:00:00 +0000")
            XCTAssertTrue(head[2].hasPrefix("From: ") && head[2].hasSuffix(" <no-reply@portal.example.com>"), head[2])
            XCTAssertTrue(head.contains { $0.hasPrefix("To: ") })
        }
    }

    func testTryLaterExitsAreRetriedWithTheCommandsErrorAsTheReason() throws {
        let folder = try TemporaryFolder()
        let code = folder.path + "/code"
        try "75".write(toFile: code, atomically: true, encoding: .utf8)
        let fake = try folder.script("sendmail", """
            cat > /dev/null
            echo "451 4.3.0 mail server busy," >&2
            echo "try later" >&2
            exit $(cat "\(code)")
            """)
        let ws = try workspace(command: fake)
        let apply = apply(ws)
        try assertOutbox(ws, "pending 1")
        XCTAssertEqual(try lastErrors(ws), ["'\(fake)' exited with 75: 451 4.3.0 mail server busy, | try later"])
        XCTAssertTrue(apply.stderr.contains("exited with 75: 451 4.3.0 mail server busy, | try later; 'roster deliver' retries from"),
                      apply.stderr)
        for seconds in try ws.secondsToNextAttempts() { XCTAssertTrue((3...7).contains(seconds), "\(seconds)") }
        // EX_UNAVAILABLE, EX_OSERR and EX_IOERR are temporary too.
        for (attempt, status) in [69, 71, 74].enumerated() {
            try String(status).write(toFile: code, atomically: true, encoding: .utf8)
            ws.now += 2 * oneDay
            let deliver = ws.run(["deliver"])
            XCTAssertEqual(deliver.status, 1)
            try assertOutbox(ws, "pending \(attempt + 2)")
            XCTAssertEqual(try lastErrors(ws), ["'\(fake)' exited with \(status): 451 4.3.0 mail server busy, | try later"])
        }
        try "0".write(toFile: code, atomically: true, encoding: .utf8)
        ws.now += 2 * oneDay
        XCTAssertEqual(ws.run(["deliver"]).stdout, "Delivered 6 invitations.\n")
        try assertOutbox(ws, "delivered 5")
    }

    func testAnyOtherExitFailsTheMessageAtOnceWithTheCommandsError() throws {
        let folder = try TemporaryFolder()
        let code = folder.path + "/code"
        try "65".write(toFile: code, atomically: true, encoding: .utf8)
        let fake = try folder.script("sendmail", """
            cat > /dev/null
            echo "sendmail: 553 5.1.8 bad sender address" >&2
            exit $(cat "\(code)")
            """)
        let ws = try workspace(command: fake)
        let apply = apply(ws)
        try assertOutbox(ws, "failed 1")
        let reason = "'\(fake)' exited with 65: sendmail: 553 5.1.8 bad sender address"
        XCTAssertEqual(try lastErrors(ws), [reason])
        XCTAssertTrue(apply.stderr.contains("error: delivery failed for good for \(Self.dan): \(reason); "
                                            + "'roster deliver --retry-failed' tries again"), apply.stderr)
        XCTAssertEqual(try ws.secondsToNextAttempts(), [], "no next attempt")
        ws.now += 30 * oneDay
        XCTAssertEqual(ws.run(["deliver", "--now"]).stdout, "Nothing to deliver.\n")
        try assertOutbox(ws, "failed 1")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE token IS NOT NULL"), 6, "a failed message keeps its token")
        let failed = ws.run(["outbox", "--status", "failed"])
        XCTAssertEqual(failed.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("failed ") }.count, 6, failed.stdout)
        XCTAssertTrue(failed.stdout.contains("last error: \(reason)"), failed.stdout)

        try "0".write(toFile: code, atomically: true, encoding: .utf8)
        let retried = ws.run(["deliver", "--retry-failed"])
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertEqual(retried.stdout, "Delivered 6 invitations.\n")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE token IS NOT NULL"), 0)
    }

    /// One run's outcomes are recorded together (SPEC §6.2): each message keeps its own status,
    /// error and schedule, however they are written.
    func testEachMessageOfARunKeepsItsOwnOutcome() throws {
        let folder = try TemporaryFolder()
        // Delivered, temporary (two codes) and permanent failures, each reason naming its recipient.
        let fake = try folder.script("sendmail", """
            mail=$(cat)
            to=$(printf '%s\\n' "$mail" | grep -m1 '^To:' | tr -d '\\r')
            case "$to" in
                *"<dan@"*) exit 0 ;;
                *"<alice@"*|*"<erin@"*) echo "451 busy for ${to#*<}" >&2; exit 75 ;;
                *"<bob@"*) echo "550 no such user ${to#*<}" >&2; exit 67 ;;
                *) echo "unavailable for ${to#*<}" >&2; exit 69 ;;
            esac
            """)
        let ws = try workspace(command: fake)
        let apply = apply(ws)
        XCTAssertTrue(apply.stdout.contains("Delivered 1 invitation.\n"), apply.stdout + apply.stderr)
        let entries = try ws.outboxEntries()
        XCTAssertEqual(entries.count, 6)
        for entry in entries {
            let recipient = try XCTUnwrap(entry["recipient"] as? String)
            let (status, error): (String, String?) = switch recipient.prefix { $0 != "@" } {
            case "dan": ("delivered", nil)
            case "alice", "erin": ("pending", "'\(fake)' exited with 75: 451 busy for \(recipient)>")
            case "bob": ("failed", "'\(fake)' exited with 67: 550 no such user \(recipient)>")
            default: ("pending", "'\(fake)' exited with 69: unavailable for \(recipient)>")
            }
            XCTAssertEqual(entry["status"] as? String, status, recipient)
            XCTAssertEqual(entry["attempts"] as? Int, 1, recipient)
            XCTAssertEqual(entry["lastError"] as? String, error, recipient)
            let wait = (entry["nextAttemptAt"] as? String).flatMap(Timestamp.date).map { $0.timeIntervalSince(ws.now) }
            if status == "pending" {
                XCTAssertTrue((3...7).contains(wait ?? -1), "\(recipient): the next attempt in \(wait ?? -1) s")
            } else {
                XCTAssertNil(wait, recipient)
            }
        }
    }

    func testACommandThatHangsIsKilledAtTheTimeoutAndRetried() throws {
        let folder = try TemporaryFolder()
        let fake = try folder.script("sendmail", """
            echo $$ > "\(folder.path)/pid-$$"
            exec sleep 60
            """)
        let ws = try workspace(command: fake, timeout: "1s")
        let started = Date()
        let apply = apply(ws)
        XCTAssertLessThan(Date().timeIntervalSince(started), 8, "six commands, four at a time, each stopped after 1 s")
        try assertOutbox(ws, "pending 1")
        XCTAssertEqual(try lastErrors(ws), ["'\(fake)' did not finish within 1 s and was stopped"])
        XCTAssertTrue(apply.stderr.contains("did not finish within 1 s and was stopped; 'roster deliver' retries"), apply.stderr)
        let pids = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("pid-") }
            .compactMap { Int32($0.dropFirst(4)) }
        XCTAssertEqual(pids.count, 6)
        for pid in pids {
            XCTAssertEqual(kill(pid, 0), -1, "process \(pid) was killed and reaped")
        }
    }

    func testACommandThatDoesNotExistIsOneClearErrorAndTheMessagesStayPending() throws {
        for (command, program) in [("/nonexistent/bin/sendmail -t -i", "/nonexistent/bin/sendmail"),
                                   ("no-such-sendmail-7f3a -t", "no-such-sendmail-7f3a")] {
            let ws = try workspace(command: command)
            let problem = "the sendmail command '\(program)' does not exist or cannot be run; install it (e.g. Debian's "
                + "msmtp or a mail server's sendmail) or set invitations.delivery.command; the messages stay pending"
            let apply = apply(ws)
            XCTAssertEqual(apply.stderr.components(separatedBy: problem).count - 1, 1, apply.stderr)
            let deliver = ws.run(["deliver", "--now"])
            XCTAssertEqual(deliver.status, 1)
            XCTAssertEqual(deliver.stderr, "error: \(problem)\n", "one error for the run, not one per message")
            XCTAssertEqual(deliver.stdout, "")
            try assertOutbox(ws, "pending 0")
            XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE token IS NOT NULL"), 6)
        }
    }
}
