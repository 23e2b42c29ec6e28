import Foundation
import RosterCore
import RosterDelivery
import RosterTestSupport
import XCTest

/// SPEC §6.2 "A crash during delivery re-sends at most what was in flight": a real `roster
/// deliver` process, sending to a slow receiver, killed with SIGKILL; the next run delivers
/// the rest, with the same ids, and nothing is lost. On both stores.
final class InvitationDeliveryCrashTests: XCTestCase {
    static let users = 120

    /// A directory of 120 invited users delivering to `receiver`, applied with the secret
    /// missing: every message waits in the outbox, never attempted.
    func appliedWorkspace(_ receiver: WebhookReceiver) throws -> Workspace {
        let (files, _) = invitedDirectory(Self.users, domain: "crash.example",
                                          delivery: "{kind: webhook, url: \(receiver.url), secretEnv: \(WebhookReceiver.variable)}")
        // The real processes sign with the real clock; so does this one.
        let ws = try Workspace(files: files, now: Date())
        try ws.apply()
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts = 0"), Self.users)
        ws.environment[WebhookReceiver.variable] = WebhookReceiver.secret
        return ws
    }

    func ids(_ ws: Workspace, status: String) throws -> Set<String> {
        Set(try ws.strings("SELECT id FROM outbox WHERE status = '\(status)'"))
    }

    func testDeliverKilledMidRunResendsAtMostWhatWasInFlightAndLosesNothing() throws {
        // Each answer takes 0.25 s: 8 in flight at a time, 120 messages take about 4 s.
        let receiver = try WebhookReceiver(.init(delay: 0.25))
        let ws = try appliedWorkspace(receiver)
        let process = try BigApply.startApply(in: ws, arguments: ["deliver", "--now"])
        let arrived = waitUntil(30) { ((try? receiver.requests().count) ?? 0) >= 36 || !process.isRunning }
        let killed = process.isRunning
        if killed { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        XCTAssertTrue(arrived && killed, "the run ended before 36 requests arrived; make the receiver slower")

        let deliveredBefore = try ids(ws, status: "delivered")
        let firstRun = try receiver.requests()
        let sentBefore = Set(firstRun.map(\.id))
        XCTAssertTrue(deliveredBefore.isSubset(of: sentBefore), "only what the receiver took is recorded as delivered")
        XCTAssertGreaterThan(deliveredBefore.count, 0, "some batches were recorded before the kill")
        let inFlight = sentBefore.subtracting(deliveredBefore)
        XCTAssertLessThanOrEqual(inFlight.count, WebhookSender.concurrency, "at most one batch was in flight")

        // The next run delivers the rest (the killed run's lock is gone with it).
        let output = try TemporaryFolder()
        _ = FileManager.default.createFile(atPath: output.path + "/err", contents: nil)
        let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: output.path + "/err"))
        let second = try BigApply.startApply(in: ws, arguments: ["deliver", "--now"], stderr: errors)
        second.waitUntilExit()
        let said = (try? String(contentsOfFile: output.path + "/err", encoding: .utf8)) ?? ""
        XCTAssertEqual(second.terminationStatus, 0, said)
        assertNoSecrets(RunResult(status: 0, stdout: "", stderr: said), tokens: firstRun.map(\.token))

        let requests = try receiver.requests()
        XCTAssertEqual(requests.filter { !$0.verified }.map(\.n), [], "every request verifies")
        let all = try ids(ws, status: "delivered")
        XCTAssertEqual(all.count, Self.users, "every message is delivered")
        XCTAssertEqual(Set(requests.map(\.id)), all, "every invitation was received")
        XCTAssertEqual(Set(requests.map(\.email)).count, Self.users)
        var received: [String: Int] = [:]
        for request in requests { received[request.id, default: 0] += 1 }
        let duplicates = Set(received.filter { $0.value > 1 }.keys)
        XCTAssertTrue(duplicates.isSubset(of: inFlight), "only what was in flight is sent twice")
        XCTAssertLessThanOrEqual(received.values.max() ?? 0, 2)
        XCTAssertEqual(requests.count, Self.users + duplicates.count)
        // A duplicate is the same message: the same webhook-id and the same body.
        var bodies: [String: Set<String>] = [:]
        for request in requests { bodies[request.email, default: []].insert(request.id + "\n" + request.body) }
        XCTAssertEqual(bodies.values.filter { $0.count != 1 }.count, 0, "one id and one body per invitation")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox WHERE token IS NOT NULL"), 0)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM invitations"), Self.users, "none issued twice")
    }
}
