import Foundation
import Logging
import RosterApp
import RosterCore
@testable import RosterServer
import RosterStore
import RosterTestSupport
import XCTest

/// The server's store face under concurrent calls, on the store under test (SQLite, or
/// PostgreSQL with `ROSTER_TEST_STORE=postgres`): calls run side by side, each with its own
/// connection and locks, and delivery and long polls hold up no request.
final class ServeConcurrencyTests: XCTestCase {
    let live = "northwind-live"

    /// Another process's store, holding the writer (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's
    /// writer lock) for `seconds` from a thread of its own; returns once it holds it.
    private func holdWriter(of ws: Workspace, seconds: Double) throws -> (done: DispatchSemaphore, opened: any SQLStore) {
        let opened = try StoreLocator(override: nil, environment: ws.appEnvironment).open(config: nil, root: ws.root).store
        let store = try XCTUnwrap(opened as? any SQLStore)
        let holding = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let box = UncheckedBox(store)
        Thread {
            _ = try? box.value.write { _ in
                holding.signal()
                Thread.sleep(forTimeInterval: seconds)
            }
            done.signal()
        }.start()
        holding.wait()
        return (done, store)
    }

    /// Reads answer while an accept waits for the writer: they are no longer queued behind it.
    func testRequestsAreAnsweredWhileAnAcceptWaitsForTheWriter() async throws {
        let ws = try Quickstart.applied(accepted: false)
        let token = try ws.onlyToken(of: "dan@partner.example")
        let server = try await ws.server()
        let held = try holdWriter(of: ws, seconds: 3)
        let started = Date()
        async let accepted = send(server, .post("/v1/invitations/accept", #"{"token":"\#(token)"}"#))
        try await Task.sleep(for: .milliseconds(300))
        // A store read (the access report) and a view lookup, while the accept waits.
        let during = try await send(server, [.get("/v1/access/erin@northwind-media.example"),
                                             .post("/access/v1/evaluation", evaluation("erin@northwind-media.example", "streams:read",
                                                                                      "account", live))])
        let answeredAfter = Date().timeIntervalSince(started)
        XCTAssertEqual(during.map(\.status), [200, 200], during.map(\.body).joined(separator: "\n"))
        XCTAssertLessThan(answeredAfter, 2.5, "the read waited for the accept")
        let accept = try await accepted
        XCTAssertEqual(accept.status, 200, accept.body)
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 2.5, "the accept did not wait for the writer")
        held.done.wait()
        XCTAssertEqual(ws.run(["invitations", "list", "--status", "accepted", "--format", "json"]).stdout.contains("dan@partner.example"),
                       true)
    }

    /// Two calls that take the apply lock at once: one holds it, the other is refused with its
    /// holder. (A session advisory lock is re-entrant, so two calls on one PostgreSQL connection
    /// would both have "held" it.)
    func testTwoCallsDoNotBothHoldTheApplyLock() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        let worker = server.worker
        func hold(_ actor: String) async -> String {
            do throws(RosterError) {
                return try await worker.run { store throws(RosterError) in
                    try storeCall {
                        try store.withApplyLock(holder: LockHolder(host: "test", pid: 1, actor: actor, since: "now"), timeout: 0.3) {
                            Thread.sleep(forTimeInterval: 1.5)
                            return "held"
                        }
                    }
                }
            } catch {
                if case .store(.lockHeld(let holder)) = error { return "refused, held by \(holder?.actor ?? "?")" }
                return "failed: \(error)"
            }
        }
        async let first = hold("first")
        try await Task.sleep(for: .milliseconds(200))
        async let second = hold("second")
        let answers = await [first, second]
        XCTAssertEqual(answers, ["held", "refused, held by first"])
        // And after it is released, the next call takes it.
        let third = await hold("third")
        XCTAssertEqual(third, "held")
    }

    /// The same token accepted twice at once: one 200, one 409; one audit record.
    func testTwoConcurrentAcceptsOfOneTokenActivateOnce() async throws {
        let ws = try Quickstart.applied(accepted: false)
        let token = try ws.onlyToken(of: "dan@partner.example")
        let server = try await ws.server()
        let before = server.state.view.status.lastSequence
        let call = Call.post("/v1/invitations/accept", #"{"token":"\#(token)"}"#)
        async let one = send(server, call)
        async let two = send(server, call)
        let statuses = try await [one.status, two.status].sorted()
        XCTAssertEqual(statuses, [200, 409])
        await server.refresher.refresh()
        XCTAssertEqual(server.state.view.status.lastSequence, before + 1)
    }

    /// A long poll is answered as soon as the server's own accept is in its view, not at the
    /// next refresh (here a minute away).
    func testALongPollIsWokenByTheServersOwnAccept() async throws {
        let ws = try Quickstart.applied(accepted: false)
        let token = try ws.onlyToken(of: "dan@partner.example")
        let server = try await ws.server(refresh: .seconds(60))
        let last = server.state.view.status.lastSequence
        let woken = LockedDate()
        let poll = Task {
            let answer = try await send(server, .get("/v1/events?since=\(last)&wait=30s"))
            woken.set(Date())
            return answer
        }
        try await Task.sleep(for: .milliseconds(500))
        let accepted = try await send(server, .post("/v1/invitations/accept", #"{"token":"\#(token)"}"#))
        let acceptedAt = Date()
        XCTAssertEqual(accepted.status, 200)
        let answer = try await poll.value
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual((answer.json["events"] as? [[String: Any]])?.map { $0["type"] as? String }, ["user.activated"])
        let delay = try XCTUnwrap(woken.value).timeIntervalSince(acceptedAt)
        XCTAssertLessThan(delay, 0.5, "the poll was answered \(delay) s after the accept")
    }

    /// The hand-written decision JSON is byte for byte what JSONEncoder (sorted keys, slashes
    /// unescaped) writes, for permits, denies, boxcar errors and text that needs escaping.
    func testDecisionJSONIsWhatJSONEncoderWrites() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let decisions: [AuthZEN.Decision] = [
            .init(.permit(via: ["owner of customer acme", "role admin on account acme/live"])),
            .init(.permit(via: [])),
            .init(.deny(code: "no-grant", reason: "'dan@x.example' holds \"no\" grant\\ of a\tb\nc \u{1} \u{1F} é ✓ 🎉")),
            .init(APIError.malformed("bad-email", "subject.id is not an email address")),
        ]
        for decision in decisions {
            var out: [UInt8] = []
            AuthZEN.json(decision, into: &out)
            XCTAssertEqual(String(decoding: out, as: UTF8.self), String(decoding: try encoder.encode(decision), as: UTF8.self))
        }
        XCTAssertEqual(String(decoding: AuthZEN.json(decisions), as: UTF8.self),
                       String(decoding: try encoder.encode(AuthZEN.Boxcar(evaluations: decisions)), as: UTF8.self))
    }

    /// The buffered log writes every line, in order, by the flush.
    func testTheBufferedLogWritesEveryLine() throws {
        let path = FileManager.default.temporaryDirectory.path + "/roster-log-" + UUID().uuidString
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer {
            close(fd)
            try? FileManager.default.removeItem(atPath: path)
        }
        let writer = BufferedLogWriter(fd: fd, interval: 60)
        let logger = Logger(label: "roster.serve") { writer.handler(label: $0) }
        for index in 0..<5000 { logger.info("request", metadata: ["n": "\(index)", "route": "/x"]) }
        writer.flush()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 5000)
        XCTAssertTrue(lines[42].hasSuffix("info roster.serve: n=42 route=/x [RosterCLITests] request"), String(lines[42]))
    }
}

/// A date set from another task.
private final class LockedDate: @unchecked Sendable {
    private let lock = NSLock()
    private var date: Date?
    func set(_ value: Date) { lock.withLock { date = value } }
    var value: Date? { lock.withLock { date } }
}

/// A non-Sendable value handed to one other thread, which alone uses it from then on.
private final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
