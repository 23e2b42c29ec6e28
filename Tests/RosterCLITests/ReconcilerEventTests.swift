import Foundation
import RosterCore
import XCTest

/// A process the tests start and stop (a receiver), with what it printed.
final class Service {
    let process = Process()
    private let output = Pipe()

    /// Starts `arguments[0]` with the rest; waits for the first line it prints on stdout.
    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
    }

    /// The first line of output (e.g. `listening on http://127.0.0.1:PORT`), waited for at most `timeout`.
    func firstLine(timeout: TimeInterval = 20) throws -> String {
        let handle = output.fileHandleForReading
        let read = DispatchSemaphore(value: 0)
        let box = LineBox()
        DispatchQueue.global().async {
            var data = Data()
            while !data.contains(UInt8(ascii: "\n")) {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                data += chunk
            }
            box.line = data.contains(UInt8(ascii: "\n")) ? String(decoding: data.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self) : nil
            read.signal()
        }
        guard read.wait(timeout: .now() + timeout) == .success, let line = box.line else {
            throw WorkspaceError(description: "\(process.arguments ?? []) printed no line within \(Int(timeout)) s "
                                 + "(is python3 with the standardwebhooks package installed? scripts/test installs it)")
        }
        return line
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

/// The line a reader thread found.
private final class LineBox: @unchecked Sendable {
    var line: String?
}

/// `examples/platform-receiver/receiver.py`, running on a free loopback port.
final class PlatformReceiver {
    let service: Service
    let port: Int
    let db: String
    let log: String
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    init(in folder: String, port: Int = 0) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        db = folder + "/platform.db"
        log = folder + "/received.jsonl"
        service = try Service(["python3", Paths.packageRoot + "/examples/platform-receiver/receiver.py", "serve",
                               "--port", String(port), "--db", db, "--log", log],
                              environment: ["ROSTER_EVENTS_SECRET": Self.secret])
        let line = try service.firstLine()
        guard let found = line.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw WorkspaceError(description: "unexpected first line '\(line)'")
        }
        self.port = found
    }

    var url: String { "http://127.0.0.1:\(port)/roster" }

    /// Every body received and verified, in arrival order, duplicates included.
    func bodies() throws -> [String] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    /// The seqs received, in arrival order.
    func sequences() throws -> [Int] {
        try bodies().map { body in
            let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            return ((object?["data"] as? [String: Any])?["seq"] as? Int) ?? -1
        }
    }

    /// `receiver.py ARGS --db DB`, its output.
    func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Paths.packageRoot + "/examples/platform-receiver/receiver.py"] + arguments + ["--db", db]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

/// SPEC §11 on both stores: every change is an event of the right type, numbered without gaps,
/// delivered in order to real receivers, and `roster events` prints exactly what they got.
final class ReconcilerEventTests: XCTestCase {
    /// Event types and ids from `roster events --format json` after `since`.
    func events(_ ws: Workspace, since: Int = 0) throws -> [(seq: Int, type: String, id: String, reason: String?)] {
        let result = ws.run(["events", "--since", String(since), "--format", "json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try result.stdout.split(separator: "\n").map { line in
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let data = try XCTUnwrap(object["data"] as? [String: Any])
            let change = try XCTUnwrap(data["change"] as? [String: Any])
            return (try XCTUnwrap(data["seq"] as? Int), try XCTUnwrap(object["type"] as? String),
                    try XCTUnwrap(change["id"] as? String), change["reason"] as? String)
        }
    }

    func typesSince(_ ws: Workspace, _ since: Int) throws -> [String] {
        // The reason of a revoked membership is one of four codes (SPEC §11); other reasons are prose.
        try events(ws, since: since).map { "\($0.type) \($0.id)" + ($0.type == "membership.revoked" ? " (\($0.reason ?? "?"))" : "") }
    }

    func last(_ ws: Workspace) throws -> Int {
        try ws.int("SELECT MAX(seq) FROM audit")
    }

    func testEveryEventTypeOfARealLifecycle() throws {
        let ws = try Workspace()
        try ws.apply()
        let first = try typesSince(ws, 0)
        XCTAssertEqual(Set(first.map { String($0.prefix { $0 != " " }) }),
                       ["role.created", "user.invited", "customer.created", "account.created", "membership.granted"])
        var mark = try last(ws)
        try ws.accept(["dan@partner.example"])
        XCTAssertEqual(try typesSince(ws, mark), ["user.activated dan@partner.example"])

        mark = try last(ws)
        try ws.edit(Quickstart.bluebird, "roles: [ecommerce-viewer, viewer]", "roles: [viewer]\n    expires: 2026-11-25")
        try ws.edit(Quickstart.rolesFile, "name: Viewer", "name: Watcher")
        try ws.edit(Quickstart.otherUsers, "name: Frank Hale", "name: Frank H. Hale")
        try ws.apply()
        XCTAssertEqual(try typesSince(ws, mark).sorted(), ["membership.roles_changed dan@partner.example@account:bluebird-tv",
                                                          "role.updated viewer", "user.updated frank@bluebird-studio.example"])
        mark = try last(ws)
        ws.now += 2 * oneDay
        try ws.apply(["--allow", "mass-removal"])
        XCTAssertEqual(try typesSince(ws, mark), ["membership.revoked dan@partner.example@account:bluebird-tv (expired)"])

        mark = try last(ws)
        try ws.edit(Quickstart.bluebird, "name: Bluebird Studio\nowner: frank@bluebird-studio.example",
                    "name: Bluebird Studio\nowner: alice@northwind-media.example")
        try ws.edit(Quickstart.bluebird, "customer: bluebird-studio", "customer: northwind-media")
        try ws.apply(["--allow", "ownership-transfer", "--allow", "account-move"])
        // The account's owner defaulted to the customer's: it moves and changes hands too.
        XCTAssertEqual(try typesSince(ws, mark).sorted(), ["account.moved bluebird-tv", "account.ownership_transferred bluebird-tv",
                                                          "customer.ownership_transferred bluebird-studio"])

        // Rename, deactivation (with its memberships), reactivation, invitation operations.
        mark = try last(ws)
        for file in [Quickstart.otherUsers, Quickstart.northwind, Quickstart.bluebird] {
            try ws.write(file, try ws.read(file).replacingOccurrences(of: "dan@partner.example", with: "dan@newco.example"))
        }
        try ws.edit(Quickstart.otherUsers, "email: dan@newco.example", "email: dan@newco.example\npreviousEmails: [dan@partner.example]")
        try ws.apply()
        XCTAssertEqual(try typesSince(ws, mark), ["user.renamed dan@newco.example"])
        mark = try last(ws)
        try ws.edit(Quickstart.otherUsers, "email: dan@newco.example", "email: dan@newco.example\nstatus: inactive")
        try ws.apply()
        XCTAssertEqual(try typesSince(ws, mark).sorted(), [
            "membership.revoked dan@newco.example@account:northwind-live (user-deactivated)",
            "user.deactivated dan@newco.example",
        ], "the bluebird-tv membership had expired already")
        mark = try last(ws)
        try ws.edit(Quickstart.otherUsers, "email: dan@newco.example\nstatus: inactive", "email: dan@newco.example")
        try ws.apply()
        XCTAssertTrue(try typesSince(ws, mark).contains("user.reactivated dan@newco.example"))

        mark = try last(ws)
        XCTAssertEqual(ws.run(["invitations", "resend", "erin@northwind-media.example"]).status, 0)
        XCTAssertEqual(ws.run(["invitations", "revoke", "erin@northwind-media.example"]).status, 0)
        XCTAssertEqual(try typesSince(ws, mark), ["invitation.resent erin@northwind-media.example",
                                                  "invitation.revoked erin@northwind-media.example"])
        // An expired invitation is re-issued by the next apply.
        mark = try last(ws)
        ws.now += 8 * oneDay
        try ws.apply()
        let reissued = try typesSince(ws, mark)
        XCTAssertTrue(reissued.contains("invitation.reissued alice@northwind-media.example"), reissued.joined(separator: "\n"))
        // A whole scope deactivated: its members' memberships go with the scope's reason.
        mark = try last(ws)
        try ws.edit(Quickstart.northwind, "id: northwind-live\n", "id: northwind-live\nstatus: inactive\n")
        try ws.apply()
        let scopeOff = try typesSince(ws, mark)
        XCTAssertTrue(scopeOff.contains("account.deactivated northwind-live"), scopeOff.joined(separator: "\n"))
        XCTAssertTrue(scopeOff.contains { $0.hasPrefix("membership.revoked") && $0.hasSuffix("(scope-deactivated)") }, scopeOff.joined(separator: "\n"))
        // A role nobody uses any more, removed from the files: role.deactivated.
        mark = try last(ws)
        let roles = try ws.read(Quickstart.rolesFile).components(separatedBy: "---\n")
        try ws.write(Quickstart.rolesFile, roles.filter { !$0.contains("id: ecommerce-viewer") }.joined(separator: "---\n"))
        try ws.apply()
        XCTAssertEqual(try typesSince(ws, mark), ["role.deactivated ecommerce-viewer"])
    }

    func testSequenceHasNoGapsEvenAfterAKilledApply() throws {
        let ws = try BigApply.workspace()
        XCTAssertTrue(try BigApply.killApply(in: ws) { BigApply.logPosition(ws) > 200_000 }, "killed mid-transaction")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM audit"), 0, "the killed apply's records were rolled back")
        try ws.apply()
        let count = try ws.int("SELECT COUNT(*) FROM audit")
        XCTAssertEqual(try ws.int("SELECT MIN(seq) FROM audit"), 1)
        XCTAssertEqual(try ws.int("SELECT MAX(seq) FROM audit"), count, "1…N without a gap on \(ws.isPostgres ? "PostgreSQL" : "SQLite")")
        XCTAssertEqual(try events(ws).map(\.seq), Array(1...count))
    }

    func testTheExampleReceiverGetsEverythingInOrderAndKillsADeactivatedUsersTokens() throws {
        let ws = try Workspace(now: Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        let receiver = try PlatformReceiver(in: ws.root)
        try ws.append("roster.yaml", """

            events:
              - name: platform
                url: \(receiver.url)
                secretEnv: ROSTER_EVENTS_SECRET
                from: start
            """)
        ws.environment["ROSTER_EVENTS_SECRET"] = PlatformReceiver.secret
        let apply = try ws.apply()
        XCTAssertTrue(apply.stdout.contains("Sent 25 events to platform."), apply.stdout)
        _ = try receiver.run(["issue-token", "dan@partner.example"])
        _ = try receiver.run(["issue-token", "dan@partner.example"])
        _ = try receiver.run(["issue-token", "erin@northwind-media.example"])
        XCTAssertEqual(try receiver.run(["tokens"]), "dan@partner.example 2\nerin@northwind-media.example 1\n")
        try ws.accept(["dan@partner.example"])
        // Dan leaves: his user document and his member entries go.
        try ws.edit(Quickstart.otherUsers, "---\nkind: User\nemail: dan@partner.example\nname: Dan Partner\n", "")
        for file in [Quickstart.northwind, Quickstart.bluebird] {
            let kept = try ws.read(file).components(separatedBy: "\n")
            var out: [String] = []
            var skip = false
            for line in kept {
                if line.contains("- user: dan@partner.example") { skip = true; continue }
                if skip && line.hasPrefix("    ") { continue }
                skip = false
                out.append(line)
            }
            try ws.write(file, out.joined(separator: "\n"))
        }
        try ws.apply()
        XCTAssertEqual(try receiver.run(["tokens"]), "erin@northwind-media.example 1\n", "the deactivated user's tokens are gone")
        let all = try events(ws).map(\.seq)
        XCTAssertEqual(try receiver.sequences(), all, "every event, in seq order, once")
        XCTAssertEqual(try receiver.bodies().joined(separator: "\n") + "\n", ws.run(["events", "--format", "json"]).stdout,
                       "roster events --format json is byte for byte what the receiver got")
        XCTAssertEqual(ws.run(["outbox"]).stdout.components(separatedBy: "\n").first,
                       "endpoint platform  at #\(all.count)  0 records behind")
        for body in try receiver.bodies() {
            XCTAssertFalse(body.contains("token"), "an event never carries a token: \(body)")
        }
    }

    func testTypesFilterFromNowAndAnEndpointThatIsDownHoldsBackOnlyItself() throws {
        let ws = try Workspace(now: Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        ws.environment["ROSTER_EVENTS_SECRET"] = PlatformReceiver.secret
        try ws.apply()
        let before = try last(ws)
        let users = try PlatformReceiver(in: ws.root + "/users")
        let everything = try PlatformReceiver(in: ws.root + "/all")
        // A port nobody listens on yet: the third endpoint fails until its receiver starts.
        let later = try PlatformReceiver(in: ws.root + "/later")
        let downPort = later.port
        later.service.process.terminate()
        later.service.process.waitUntilExit()
        try ws.append("roster.yaml", """

            events:
              - name: users
                url: \(users.url)
                secretEnv: ROSTER_EVENTS_SECRET
                types: [user.*]
                from: start
              - name: everything
                url: \(everything.url)
                secretEnv: ROSTER_EVENTS_SECRET
              - name: down
                url: http://127.0.0.1:\(downPort)/roster
                secretEnv: ROSTER_EVENTS_SECRET
                from: start
            """)
        XCTAssertEqual(ws.run(["invitations", "revoke", "erin@northwind-media.example"]).status, 0)
        let userSeqs = try events(ws).filter { $0.type.hasPrefix("user.") }.map(\.seq)
        XCTAssertEqual(try users.sequences(), userSeqs, "types: user.* from the start")
        XCTAssertEqual(try everything.sequences(), [before + 1], "from: now starts after the records already there")
        // The revoke's own delivery found the down endpoint refusing: held at its first event.
        let outbox = ws.run(["outbox"]).stdout
        XCTAssertTrue(outbox.contains("endpoint down  at #0"), outbox)
        XCTAssertTrue(outbox.contains("connection refused"), outbox)
        XCTAssertEqual(try ws.int("SELECT attempts FROM event_cursors WHERE endpoint = 'down'"), 1)
        // Not due yet: the retry waits 5 s ± 20%; then it is tried, and fails again.
        XCTAssertEqual(ws.run(["deliver"]).status, 0, "nothing was due")
        ws.now += 7
        let again = ws.run(["deliver"])
        XCTAssertEqual(again.status, 1, "the down endpoint failed")
        XCTAssertTrue(again.stderr.contains("events endpoint down failed at event #1"), again.stderr)
        XCTAssertEqual(try ws.int("SELECT attempts FROM event_cursors WHERE endpoint = 'down'"), 2)
        let revived = try PlatformReceiver(in: ws.root + "/later", port: downPort)
        let caughtUp = ws.run(["deliver", "--now"])
        XCTAssertEqual(caughtUp.status, 0, caughtUp.stderr)
        let count = try last(ws)
        XCTAssertEqual(try revived.sequences(), Array(1...count), "nothing skipped, in order")
        XCTAssertEqual(try everything.sequences(), [before + 1], "the others were not held back nor repeated")
    }
}

/// SPEC §11's failure guarantees with the tests' scriptable receiver: an endpoint answering 503
/// for a while, and a `roster deliver` killed halfway through a backlog.
final class ReconcilerEventFailureTests: XCTestCase {
    func endpoint(_ name: String, _ receiver: WebhookReceiver, from: String = "start") -> String {
        """

          - name: \(name)
            url: http://127.0.0.1:\(receiver.port)/roster
            secretEnv: \(WebhookReceiver.variable)
            from: \(from)
        """
    }

    func seqs(_ requests: [WebhookReceiver.Request]) -> [Int] {
        requests.map { ($0.data["seq"] as? Int) ?? -1 }
    }

    func testAnEndpointAnswering503ForAWhileLosesNothingAndKeepsOrderWhileAnotherGoesOn() throws {
        let ws = try Workspace()
        ws.environment[WebhookReceiver.variable] = WebhookReceiver.secret
        let failing = try WebhookReceiver(.init(status: 503, first: 3))
        let healthy = try WebhookReceiver()
        for receiver in [failing, healthy] { try receiver.setClock(ws.now) }
        try ws.append("roster.yaml", "\nevents:" + endpoint("failing", failing) + endpoint("healthy", healthy))
        let apply = try ws.apply()
        XCTAssertTrue(apply.stdout.contains("Sent 25 events to healthy."), apply.stdout)
        XCTAssertTrue(apply.stderr.contains("events endpoint failing failed at event #1: HTTP 503"), apply.stderr)
        XCTAssertEqual(seqs(try healthy.requests()), Array(1...25), "the other endpoint is not held back")
        // The schedule: 5 s, then 5 min (each ±20%), then it answers again.
        for wait in [6.0, 6 * 60.0, 0] {
            XCTAssertEqual(ws.run(["deliver"]).stdout, "Nothing to deliver.\n", "not due yet")
            ws.now += wait == 0 ? 36 * 60 : wait
            for receiver in [failing, healthy] { try receiver.setClock(ws.now) }
            _ = ws.run(["deliver"])
        }
        let received = try failing.requests()
        XCTAssertTrue(received.allSatisfy(\.verified))
        XCTAssertEqual(seqs(received), [1, 1, 1] + Array(1...25), "retried at the failing event, then everything in order")
        let lineage = try XCTUnwrap(try ws.strings("SELECT value FROM meta WHERE key = 'lineage'").first)
        XCTAssertEqual(Set(received.prefix(4).map(\.id)), ["evt_\(lineage)_1"], "the same webhook-id on every attempt")
        XCTAssertEqual(Set(received.prefix(4).map(\.body)).count, 1, "the same bytes on every attempt")
        XCTAssertEqual(seqs(try healthy.requests()), Array(1...25), "the healthy endpoint got each once")
        XCTAssertEqual(try ws.int("SELECT cursor FROM event_cursors WHERE endpoint = 'failing'"), 25)
        XCTAssertEqual(try ws.int("SELECT attempts FROM event_cursors WHERE endpoint = 'failing'"), 0)
    }

    func testDeliverKilledMidBacklogResendsAtMostWhatWasUnrecordedAndLosesNothing() throws {
        let ws = try BigApply.workspace()
        try ws.apply()
        let total = try ws.int("SELECT MAX(seq) FROM audit")
        XCTAssertGreaterThan(total, 1_000, "a backlog of hundreds of events")
        ws.environment[WebhookReceiver.variable] = WebhookReceiver.secret
        let slow = try WebhookReceiver(.init(delay: 0.01))
        try ws.append("roster.yaml", "events:" + endpoint("platform", slow))
        // A real `roster deliver` process (the real clock signs), killed with SIGKILL halfway.
        let said = ws.root + "/deliver.err"
        FileManager.default.createFile(atPath: said, contents: nil)
        let first = try BigApply.startApply(in: ws, arguments: ["deliver"], stderr: try FileHandle(forWritingTo: URL(fileURLWithPath: said)))
        XCTAssertTrue(waitUntil(120) { ((try? slow.requests().count) ?? 0) >= 250 || !first.isRunning })
        XCTAssertTrue(first.isRunning, "killed before it finished; it said: \((try? String(contentsOfFile: said, encoding: .utf8)) ?? "")")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let beforeResume = try slow.requests().count
        try slow.setMode(.init())
        let second = try BigApply.startApply(in: ws, arguments: ["deliver", "--now"])
        second.waitUntilExit()
        XCTAssertEqual(second.terminationStatus, 0)
        let received = try slow.requests()
        XCTAssertTrue(received.allSatisfy(\.verified))
        let order = seqs(received)
        XCTAssertEqual(Set(order), Set(1...total), "every seq arrived")
        var firstArrival: [Int] = []
        var seen: Set<Int> = []
        for seq in order where seen.insert(seq).inserted { firstArrival.append(seq) }
        XCTAssertEqual(firstArrival, Array(1...total), "in seq order")
        let duplicates = order.count - total
        XCTAssertLessThanOrEqual(duplicates, 101, "at most the events sent since the cursor was last recorded")
        XCTAssertGreaterThanOrEqual(beforeResume, 250)
        var ids: [Int: Set<String>] = [:]
        for request in received { ids[(request.data["seq"] as? Int) ?? -1, default: []].insert(request.id) }
        XCTAssertTrue(ids.values.allSatisfy { $0.count == 1 }, "a duplicate has the same webhook-id")
    }
}
