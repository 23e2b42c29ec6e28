import Foundation
import RosterCore
import RosterStore
import RosterTestSupport
import XCTest

/// SPEC §6.1–§6.3, the `webhook` kind, against a real HTTP receiver on 127.0.0.1 that verifies
/// every request with the reference `standardwebhooks` package: signed bodies, stable ids,
/// tokens erased once delivered, the retry schedule, Retry-After, redirects, timeouts, refused
/// connections and a missing secret. On both stores (`scripts/test` runs it on PostgreSQL too).
final class InvitationWebhookTests: XCTestCase {
    static let dan = "dan@partner.example"

    /// The quickstart delivering to `url` (by default `receiver`'s), with the secret set.
    func workspace(_ receiver: WebhookReceiver?, url: String? = nil, timeout: String? = nil) throws -> Workspace {
        let ws = try Workspace()
        let target = url ?? receiver?.url ?? ""
        try ws.deliver(by: "kind: webhook, url: \(target), secretEnv: \(WebhookReceiver.variable)"
                       + (timeout.map { ", timeout: \($0)" } ?? ""))
        ws.environment[WebhookReceiver.variable] = WebhookReceiver.secret
        return ws
    }

    /// Runs roster with the receiver checking timestamps against the workspace's clock.
    @discardableResult
    func run(_ ws: Workspace, _ receiver: WebhookReceiver?, _ arguments: [String]) throws -> RunResult {
        try receiver?.setClock(ws.now)
        return ws.run(arguments)
    }

    func apply(_ ws: Workspace, _ receiver: WebhookReceiver?, file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
        let result = try run(ws, receiver, ["apply", "--auto-approve"])
        XCTAssertEqual(result.status, 0, "a delivery failure never fails the apply: " + result.stderr, file: file, line: line)
        return result
    }

    func assertAllVerified(_ requests: [WebhookReceiver.Request], file: StaticString = #filePath, line: UInt = #line) {
        for request in requests {
            XCTAssertTrue(request.verified, "request \(request.n) did not verify: \(request.error ?? "")", file: file, line: line)
        }
    }

    /// Every message is `status attempts`.
    func assertOutbox(_ ws: Workspace, _ state: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try ws.outboxStates(), Dictionary(uniqueKeysWithValues: Quickstart.users.map { ($0, state) }),
                       file: file, line: line)
    }

    func lastErrors(_ ws: Workspace) throws -> Set<String> {
        Set(try ws.outboxEntries().map { $0["lastError"] as? String ?? "none" })
    }

    // MARK: Delivered

    func testEveryInvitationArrivesSignedWithItsMessageIDAndItsTokenLeavesTheOutbox() throws {
        let receiver = try WebhookReceiver()
        let ws = try workspace(receiver)
        let apply = try apply(ws, receiver)
        XCTAssertTrue(apply.stdout.contains("Delivered 6 invitations.\n"), apply.stdout)
        let requests = try receiver.requests()
        XCTAssertEqual(requests.count, 6)
        assertAllVerified(requests)
        XCTAssertEqual(Set(requests.map(\.email)), Set(Quickstart.users))
        let ids = try ws.messageIDs()
        for request in requests {
            XCTAssertEqual(request.id, ids[request.email], "webhook-id is the Message-ID")
            XCTAssertEqual(request.path, "/hooks/invitations")
            XCTAssertEqual(request.headers["content-type"], "application/json")
            XCTAssertEqual(request.headers["user-agent"], "roster/\(rosterVersion)")
            XCTAssertEqual(request.headers["webhook-timestamp"], String(Int(ws.now.timeIntervalSince1970)))
            XCTAssertTrue(request.headers["webhook-signature"]?.hasPrefix("v1,") ?? false)
            XCTAssertEqual(request.data["acceptUrl"] as? String, "https://portal.example.com/invite?token=\(request.token)")
        }
        // The body of §6.1, for one message in full.
        let dan = try XCTUnwrap(requests.first { $0.email == Self.dan })
        let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(dan.body.utf8)) as? [String: Any])
        XCTAssertEqual(body["type"] as? String, "invitation.issued")
        XCTAssertEqual(body["timestamp"] as? String, "2026-11-23T12:00:00Z")
        XCTAssertEqual(Set(dan.data.keys), ["acceptUrl", "email", "expires", "invitationId", "inviter", "name", "scopes", "token"])
        XCTAssertEqual(dan.data["name"] as? String, "Dan Partner")
        XCTAssertEqual(dan.data["expires"] as? String, "2026-11-30T12:00:00Z")
        XCTAssertEqual(dan.id, "<invitation-\(dan.data["invitationId"] as? String ?? "?")@roster>")
        let inviter = try XCTUnwrap(dan.data["inviter"] as? [String: Any])
        XCTAssertEqual(inviter["email"] as? String, "frank@bluebird-studio.example")
        XCTAssertEqual(inviter["name"] as? String, "Frank Hale")
        let scopes = try XCTUnwrap(dan.data["scopes"] as? [[String: Any]])
        XCTAssertEqual(scopes.map { "\($0["type"] ?? "") \($0["id"] ?? "") \($0["name"] ?? "") \($0["roles"] ?? "")" }.count, 2)
        XCTAssertEqual(scopes.first?["id"] as? String, "bluebird-tv")
        XCTAssertEqual(scopes.first?["roles"] as? [String], ["ecommerce-viewer", "viewer"])

        // Delivered: the clear token is gone from the store, only its hash remains.
        try assertOutbox(ws, "delivered 1")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE token IS NULL AND message IS NULL AND status = 'delivered'"), 6)
        let tokens = requests.map(\.token)
        assertNoSecrets(apply, tokens: tokens)
        let outbox = ws.run(["outbox", "--format", "json"])
        assertNoSecrets(outbox, tokens: tokens)
        // The token the receiver got is the one roster accepts.
        let accept = ws.run(["invitations", "accept", dan.token])
        XCTAssertEqual(accept.status, 0, accept.stderr)
        XCTAssertEqual(accept.stdout, "Accepted: dan@partner.example is now active.\n")
        // Nothing is due any more, nothing is sent again.
        XCTAssertEqual(try run(ws, receiver, ["deliver", "--now"]).stdout, "Nothing to deliver.\n")
        XCTAssertEqual(try receiver.requests().count, 6)
    }

    // MARK: Retried

    func testFailedAttemptsAreRetriedWithTheSameWebhookID() throws {
        // The first two requests (of the six the apply sends at once) get a 503.
        let receiver = try WebhookReceiver(.init(status: 503, first: 2))
        let ws = try workspace(receiver)
        let apply = try apply(ws, receiver)
        XCTAssertTrue(apply.stdout.contains("Delivered 4 invitations.\n"), apply.stdout)
        XCTAssertEqual(apply.stderr.components(separatedBy: "warning: delivery failed for ").count - 1, 2, apply.stderr)
        XCTAssertTrue(apply.stderr.contains(": HTTP 503 Service Unavailable; 'roster deliver' retries from 2026-11-23T12:00:0"),
                      apply.stderr)
        let failed = try receiver.requests().filter { $0.status == 503 }
        XCTAssertEqual(failed.count, 2)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND token IS NOT NULL"), 2,
                       "an undelivered message keeps its token")

        ws.now += 7
        let deliver = try run(ws, receiver, ["deliver"])
        XCTAssertEqual(deliver.status, 0, deliver.stderr)
        XCTAssertEqual(deliver.stdout, "Delivered 2 invitations.\n")
        let requests = try receiver.requests()
        XCTAssertEqual(requests.count, 8)
        assertAllVerified(requests)
        for first in failed {
            let again = requests.filter { $0.email == first.email }
            XCTAssertEqual(again.map(\.id), [first.id, first.id], "the same webhook-id on the retry")
            XCTAssertEqual(again.map(\.body), [first.body, first.body], "the same body bytes on the retry")
            XCTAssertEqual(again.last?.headers["webhook-timestamp"], String(Int(ws.now.timeIntervalSince1970)),
                           "each attempt is signed at its own time")
        }
        let retriedEmails = Set(failed.map(\.email))
        XCTAssertEqual(try ws.outboxStates(), Dictionary(uniqueKeysWithValues: Quickstart.users.map {
            ($0, retriedEmails.contains($0) ? "delivered 2" : "delivered 1")
        }))
    }

    func testAnUnavailableReceiverIsRetriedOnTheScheduleAndFailedAfterTheEighthAttempt() throws {
        let receiver = try WebhookReceiver(.init(status: 503))
        let ws = try workspace(receiver)
        let apply = try apply(ws, receiver)
        XCTAssertEqual(apply.stderr.components(separatedBy: "warning: delivery failed for ").count - 1, 6, apply.stderr)
        for (index, wait) in RetrySchedule.waits.enumerated() {
            let attempts = index + 1
            try assertOutbox(ws, "pending \(attempts)")
            let waits = try ws.secondsToNextAttempts()
            XCTAssertEqual(waits.count, 6)
            // ±20 %, and the outbox shows whole seconds.
            for seconds in waits {
                XCTAssertTrue((wait * 0.8 - 1...wait * 1.2 + 1).contains(seconds),
                              "after attempt \(attempts) the next waits \(seconds) s, not \(wait) s ± 20%")
            }
            let earliest = try XCTUnwrap(waits.min()), latest = try XCTUnwrap(waits.max())
            if earliest > 2 {
                ws.now += earliest - 2
                XCTAssertEqual(try run(ws, receiver, ["deliver"]).stdout, "Nothing to deliver.\n", "attempt \(attempts + 1) is not due")
                ws.now += latest - earliest + 4
            } else {
                ws.now += latest + 2
            }
            let deliver = try run(ws, receiver, ["deliver"])
            XCTAssertEqual(deliver.status, 1, "a failure exits 1")
            let gaveUp = deliver.stderr.components(separatedBy: "error: delivery failed for good for ").count - 1
            XCTAssertEqual(gaveUp, attempts == 7 ? 6 : 0, deliver.stderr)
        }
        try assertOutbox(ws, "failed 8")
        XCTAssertEqual(try lastErrors(ws), ["HTTP 503 Service Unavailable"])
        let requests = try receiver.requests()
        XCTAssertEqual(requests.count, 6 * 8)
        assertAllVerified(requests)
        let ids = try ws.messageIDs()
        for user in Quickstart.users {
            XCTAssertEqual(Set(requests.filter { $0.email == user }.map(\.id)), [ids[user]], "one webhook-id for all 8 attempts")
        }
        // Failed stays failed: neither the schedule nor --now tries it again.
        ws.now += 30 * oneDay
        XCTAssertEqual(try run(ws, receiver, ["deliver", "--now"]).stdout, "Nothing to deliver.\n")
        XCTAssertEqual(try receiver.requests().count, 48)
        // Until --retry-failed, once the receiver is back.
        try receiver.setMode(.init())
        let retried = try run(ws, receiver, ["deliver", "--retry-failed"])
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertEqual(retried.stdout, "Delivered 6 invitations.\n")
        try assertOutbox(ws, "delivered 1")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE token IS NOT NULL"), 0)
        assertNoSecrets(retried, tokens: requests.map(\.token))
    }

    func testRetryAfterReplacesTheWaitWhenItIsLonger() throws {
        let receiver = try WebhookReceiver(.init(status: 429, retryAfter: "120"))
        let ws = try workspace(receiver)
        try apply(ws, receiver)
        try assertOutbox(ws, "pending 1")
        XCTAssertEqual(try lastErrors(ws), ["HTTP 429 Too Many Requests"])
        for seconds in try ws.secondsToNextAttempts() {
            XCTAssertEqual(seconds, 120, accuracy: 1, "Retry-After: 120 replaces the 5 s wait")
        }
        // Shorter than the schedule's wait (5 min after the 2nd attempt): the schedule wins.
        try receiver.setMode(.init(status: 503, retryAfter: "2"))
        ws.now += 121
        XCTAssertEqual(try run(ws, receiver, ["deliver"]).status, 1)
        try assertOutbox(ws, "pending 2")
        for seconds in try ws.secondsToNextAttempts() {
            XCTAssertTrue((239...361).contains(seconds), "\(seconds)")
        }
        // An HTTP date two hours ahead.
        ws.now += 400
        try receiver.setMode(.init(status: 503, retryAfter: InvitationMessage.rfc5322Date(ws.now + 7200)
            .replacingOccurrences(of: "+0000", with: "GMT")))
        XCTAssertEqual(try run(ws, receiver, ["deliver"]).status, 1)
        try assertOutbox(ws, "pending 3")
        for seconds in try ws.secondsToNextAttempts() {
            XCTAssertEqual(seconds, 7200, accuracy: 1, "Retry-After as an HTTP date")
        }
        // Not due before then, even though the schedule's 30 min have passed.
        ws.now += 3600
        XCTAssertEqual(try run(ws, receiver, ["deliver"]).stdout, "Nothing to deliver.\n")
        ws.now += 3601
        try receiver.setMode(.init())
        XCTAssertEqual(try run(ws, receiver, ["deliver"]).stdout, "Delivered 6 invitations.\n")
        assertAllVerified(try receiver.requests())
    }

    // MARK: Failures of the receiver

    func testARedirectIsNotFollowedAndCountsAsAFailure() throws {
        let elsewhere = try WebhookReceiver()
        let receiver = try WebhookReceiver(.init(status: 302, location: elsewhere.url))
        let ws = try workspace(receiver)
        let apply = try apply(ws, receiver)
        XCTAssertEqual(try receiver.requests().count, 6)
        XCTAssertEqual(try elsewhere.requests().count, 0, "the redirect was not followed")
        try assertOutbox(ws, "pending 1")
        let reason = "HTTP 302 redirect to '\(elsewhere.url)' (redirects are not followed; point the url at the final address)"
        XCTAssertEqual(try lastErrors(ws), [reason])
        XCTAssertTrue(apply.stderr.contains(reason), apply.stderr)
        for seconds in try ws.secondsToNextAttempts() { XCTAssertTrue((3...7).contains(seconds), "\(seconds)") }
    }

    func testAReceiverThatHangsPastTheTimeoutIsATemporaryFailure() throws {
        let receiver = try WebhookReceiver(.init(delay: 5))
        let ws = try workspace(receiver, timeout: "1s")
        let started = Date()
        let apply = try apply(ws, receiver)
        XCTAssertLessThan(Date().timeIntervalSince(started), 4, "six attempts in parallel, each stopped after 1 s")
        XCTAssertEqual(try receiver.requests().count, 6)
        try assertOutbox(ws, "pending 1")
        XCTAssertEqual(try lastErrors(ws), ["no answer within 1 s"])
        XCTAssertTrue(apply.stderr.contains("no answer within 1 s; 'roster deliver' retries"), apply.stderr)
        // Once it answers in time, the messages go.
        try receiver.setMode(.init())
        ws.now += 7
        XCTAssertEqual(try run(ws, receiver, ["deliver"]).stdout, "Delivered 6 invitations.\n")
    }

    func testARefusedConnectionIsATemporaryFailure() throws {
        let port = TestPorts.free()
        let ws = try workspace(nil, url: "http://127.0.0.1:\(port)/hooks/invitations")
        let started = Date()
        let apply = try apply(ws, nil)
        XCTAssertLessThan(Date().timeIntervalSince(started), 3, "a refused connection fails the attempt at once")
        XCTAssertTrue(apply.stderr.contains("connection refused; 'roster deliver' retries"), apply.stderr)
        try assertOutbox(ws, "pending 1")
        XCTAssertEqual(try lastErrors(ws), ["connection refused"])
        ws.now += 7
        XCTAssertEqual(try run(ws, nil, ["deliver"]).status, 1)
        try assertOutbox(ws, "pending 2")
        // The receiver comes up on that port: the next due run delivers.
        let receiver = try WebhookReceiver(port: port)
        ws.now += 400
        let deliver = try run(ws, receiver, ["deliver"])
        XCTAssertEqual(deliver.stdout, "Delivered 6 invitations.\n", deliver.stderr)
        assertAllVerified(try receiver.requests())
    }

    // MARK: The secret

    func testAMissingSecretIsOneErrorNamingTheVariableAndTheMessagesStayPending() throws {
        let receiver = try WebhookReceiver()
        let ws = try workspace(receiver)
        ws.environment[WebhookReceiver.variable] = nil
        let apply = try apply(ws, receiver)
        let problem = "the webhook secret variable ROSTER_WEBHOOK_SECRET is not set; set it to the receiver's whsec_ secret "
            + #"(make one with: echo "whsec_$(openssl rand -base64 32)"); the messages stay pending"#
        XCTAssertEqual(apply.stderr.components(separatedBy: "warning: " + problem + "\n").count - 1, 1, apply.stderr)
        let deliver = try run(ws, receiver, ["deliver", "--now"])
        XCTAssertEqual(deliver.status, 1)
        XCTAssertEqual(deliver.stderr, "error: " + problem + "\n")
        XCTAssertEqual(deliver.stdout, "")
        try assertOutbox(ws, "pending 0")
        XCTAssertEqual(try receiver.requests().count, 0, "nothing was sent unsigned")

        // A secret that is not whsec_ and base64 of 24 to 64 bytes is named, never shown.
        let short = "whsec_" + Data("only sixteen byt".utf8).base64EncodedString()
        let long = "whsec_" + Data(repeating: 9, count: 65).base64EncodedString()
        for (secret, problem) in [("not-a-whsec-value", "does not start with 'whsec_'"),
                                  ("whsec_***not base64***", "is not valid base64 after 'whsec_'"),
                                  (short, "decodes to 16 bytes"), (long, "decodes to 65 bytes")] {
            ws.environment[WebhookReceiver.variable] = secret
            let result = try run(ws, receiver, ["deliver", "--now"])
            XCTAssertEqual(result.status, 1)
            XCTAssertTrue(result.stderr.contains("error: the webhook secret in ROSTER_WEBHOOK_SECRET \(problem); it must be "
                                                 + "'whsec_' followed by base64 of 24 to 64 bytes"), result.stderr)
            XCTAssertFalse(result.stderr.contains(secret) || result.stderr.contains(String(secret.dropFirst(6))),
                           "the secret is never printed: \(result.stderr)")
        }
        try assertOutbox(ws, "pending 0")
        XCTAssertEqual(try receiver.requests().count, 0)

        ws.environment[WebhookReceiver.variable] = WebhookReceiver.secret
        let fixed = try run(ws, receiver, ["deliver"])
        XCTAssertEqual(fixed.stdout, "Delivered 6 invitations.\n", "never attempted, so due at once: " + fixed.stderr)
        assertAllVerified(try receiver.requests())
        assertNoSecrets(fixed, tokens: try receiver.requests().map(\.token))
    }
}
