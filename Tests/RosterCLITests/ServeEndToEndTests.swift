import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RosterCore
import RosterTestSupport
import XCTest

/// A real `roster serve` process on a free loopback port (`--listen 127.0.0.1:0`; the bound port
/// is read from its "listening on" line), called over TCP, on the store under test.
final class ServeEndToEndTests: XCTestCase {
    func testRefusesToStartWithoutATokenOrWithABadListenAddress() throws {
        let ws = try Quickstart.applied()
        let none = try ServeProcess.runToEnd(in: ws, variables: [:])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("set ROSTER_SERVE_TOKENS"), none.stderr)
        let short = try ServeProcess.runToEnd(in: ws, variables: ["ROSTER_SERVE_TOKENS": "short"])
        XCTAssertEqual(short.status, 1)
        XCTAssertTrue(short.stderr.contains("shorter than 16 characters"), short.stderr)
        try ws.append("roster.yaml", "serve:\n  listen: localhost\n  tokensEnv: PLATFORM_TOKENS\n")
        let badListen = try ServeProcess.runToEnd(in: ws, variables: ["PLATFORM_TOKENS": serveToken])
        XCTAssertEqual(badListen.status, 3)
        XCTAssertTrue(badListen.stderr.contains("roster.yaml:26:11: error: serve.listen 'localhost' is not an address to listen on"),
                      badListen.stderr)
        XCTAssertTrue(badListen.stderr.contains("[invalid-listen]"), badListen.stderr)
        try ws.edit("roster.yaml", "listen: localhost", "listen: 127.0.0.1:1")
        let otherVariable = try ServeProcess.runToEnd(in: ws, variables: ["ROSTER_SERVE_TOKENS": serveToken])
        XCTAssertEqual(otherVariable.status, 1)
        XCTAssertTrue(otherVariable.stderr.contains("set PLATFORM_TOKENS"), otherVariable.stderr)
    }

    func testServesTheStoreOverTCP() throws {
        // The server reads the real clock: the invitations are issued by it too.
        let ws = try Workspace(now: Date())
        try ws.apply()
        let server = try ServeProcess.start(in: ws)
        defer { server.stop() }
        let live = "northwind-live"

        // Auth.
        XCTAssertEqual(try server.call("POST", "/access/v1/evaluation", evaluation("dan@partner.example", "streams:read", "account", live),
                                       token: nil).status, 401)
        XCTAssertEqual(try server.call("GET", "/healthz", token: nil).status, 200)

        // Every AuthZEN answer equals `roster access` and `roster who-can` on the same store.
        let catalogue = ["streams": ["create", "read", "update", "delete"], "billing": ["read", "update"], "analytics": ["read"],
                         "users": ["invite", "read", "update", "remove"], "ecommerce": ["read", "update"],
                         "players": ["create", "read", "update", "delete"]]
        let permissions = catalogue.flatMap { module, actions in actions.map { "\(module):\($0)" } }.sorted()
        let scopes = [("customer", "northwind-media"), ("customer", "bluebird-studio"), ("account", "northwind-live"),
                      ("account", "northwind-meet"), ("account", "bluebird-tv")]
        for email in Quickstart.users {
            let printed = ws.run(["access", email, "--format", "json"])
            XCTAssertEqual(printed.status, 0, printed.stderr)
            let report = try JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as? [String: Any] ?? [:]
            var held: Set<String> = []
            for scope in report["scopes"] as? [[String: Any]] ?? [] {
                for permission in scope["permissions"] as? [String] ?? [] {
                    held.insert("\(scope["type"] ?? "") \(scope["id"] ?? "") \(permission)")
                }
            }
            let asked = scopes.flatMap { scope in permissions.map { (scope, $0) } }
            let items = asked.map { #"{"resource":{"type":"\#($0.0.0)","id":"\#($0.0.1)"},"action":{"name":"\#($0.1)"}}"# }
            let boxcar = #"{"subject":{"type":"user","id":"\#(email)"},"evaluations":[\#(items.joined(separator: ","))]}"#
            let answer = try server.call("POST", "/access/v1/evaluations", boxcar)
            XCTAssertEqual(answer.status, 200, answer.body)
            let decisions = (answer.json["evaluations"] as? [[String: Any]] ?? []).map { $0["decision"] as? Bool ?? false }
            XCTAssertEqual(decisions.count, asked.count)
            let permitted = Set(zip(asked, decisions).filter(\.1).map { "\($0.0.0.0) \($0.0.0.1) \($0.0.1)" })
            XCTAssertEqual(permitted, held, email)
        }
        for (kind, id) in scopes {
            for permission in permissions {
                let printed = ws.run(["who-can", permission, "--\(kind)", id, "--format", "json"])
                let report = try JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as? [String: Any] ?? [:]
                let holders = (report["holders"] as? [[String: Any]] ?? []).compactMap { $0["email"] as? String }
                let search = try server.call("POST", "/access/v1/search/subject",
                                             #"{"subject":{"type":"user"},"action":{"name":"\#(permission)"},"resource":{"type":"\#(kind)","id":"\#(id)"},"page":{"limit":1000}}"#)
                let found = (search.json["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                XCTAssertEqual(found, holders, "\(permission) \(kind) \(id)")
                let endpoint = try server.call("GET", "/v1/who-can?permission=\(permission)&\(kind)=\(id)")
                XCTAssertEqual(endpoint.body, printed.stdout)
            }
        }

        // Accept every invitation over HTTP: then the plan is empty and the list shows them accepted.
        for email in Quickstart.users {
            let answer = try server.call("POST", "/v1/invitations/accept", #"{"token":"\#(try ws.onlyToken(of: email))"}"#)
            XCTAssertEqual(answer.status, 200, answer.body)
            XCTAssertEqual(answer.json["email"] as? String, email)
            XCTAssertEqual(answer.json["status"] as? String, "active")
        }
        XCTAssertEqual(try ws.plan().changes.count, 0)
        let list = ws.run(["invitations", "list", "--format", "json"])
        let invitations = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]] ?? []
        XCTAssertEqual(invitations.count, Quickstart.users.count)
        XCTAssertEqual(Set(invitations.compactMap { $0["status"] as? String }), ["accepted"])

        // An apply by another process is seen within 2 s, and wakes a long poll.
        let last = ws.run(["events", "--format", "json"]).stdout.split(separator: "\n").count
        let poll = server.callInBackground("GET", "/v1/events?since=\(last)&wait=20s")
        let frank = evaluation("frank@bluebird-studio.example", "streams:read", "account", live)
        XCTAssertEqual(try server.call("POST", "/access/v1/evaluation", frank).json["decision"] as? Bool, false)
        try ws.edit(Quickstart.northwind, "  - user: erin@northwind-media.example\n    roles: [reporting]\n",
                    "  - user: erin@northwind-media.example\n    roles: [reporting]\n  - user: frank@bluebird-studio.example\n    roles: [viewer]\n")
        XCTAssertEqual(try ws.apply().status, 0)
        let applied = Date()
        var seen = false
        while !seen && Date().timeIntervalSince(applied) < 2 {
            seen = try server.call("POST", "/access/v1/evaluation", frank).json["decision"] as? Bool == true
            if !seen { usleep(50_000) }
        }
        XCTAssertTrue(seen, "the apply was not seen within 2 s")
        let polled = try poll.wait(seconds: 10)
        XCTAssertEqual(polled.status, 200)
        XCTAssertEqual((polled.json["events"] as? [[String: Any]])?.first?["type"] as? String, "membership.granted")

        // Failed accepts from one address are rate-limited.
        let guesses = try (0..<6).map { _ in try server.call("POST", "/v1/invitations/accept", #"{"token":"guess"}"#).status }
        XCTAssertEqual(guesses, [404, 404, 404, 404, 404, 429])

        // SIGTERM drains: an open long poll is answered, and the process exits 0.
        let draining = server.callInBackground("GET", "/v1/events?since=\(last + 1)&wait=30s")
        usleep(300_000)
        let stopped = Date()
        let status = server.terminate()
        XCTAssertEqual(status, 0, server.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(stopped), 10)
        XCTAssertEqual(try draining.wait(seconds: 5).status, 200)
        XCTAssertTrue(server.stderr.contains("roster serve: stopped"), server.stderr)

        // One log line per request, with the route's pattern, never a token or an email.
        XCTAssertTrue(server.stderr.contains("route=/access/v1/evaluation"), server.stderr)
        XCTAssertTrue(server.stderr.contains("status=401"), server.stderr)
        XCTAssertFalse(server.stderr.contains(serveToken))
        XCTAssertFalse(server.stderr.contains("dan@partner.example"))
    }
}

/// A `roster serve` process and a small blocking HTTP client for it.
final class ServeProcess: @unchecked Sendable {
    let process: Process
    let port: Int
    private let output: LockedText

    struct Reply: Sendable {
        var status: Int
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    private init(process: Process, port: Int, output: LockedText) {
        self.process = process
        self.port = port
        self.output = output
    }

    var stderr: String { output.text }

    static func environment(_ ws: Workspace, _ variables: [String: String]) -> [String: String] {
        ws.variables().merging(["PATH": "/usr/bin:/bin", "NO_COLOR": "1"]) { $1 }.merging(variables) { $1 }
    }

    /// Runs `roster serve` that is expected to refuse to start.
    static func runToEnd(in ws: Workspace, variables: [String: String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BigApply.rosterExecutable())
        process.arguments = ["serve", "--listen", "127.0.0.1:0"]
        process.currentDirectoryURL = URL(fileURLWithPath: ws.root)
        process.environment = environment(ws, variables)
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Starts `roster serve --listen 127.0.0.1:0` in `ws` and waits until it listens.
    static func start(in ws: Workspace, variables: [String: String] = ["ROSTER_SERVE_TOKENS": serveToken]) throws -> ServeProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BigApply.rosterExecutable())
        process.arguments = ["serve", "--listen", "127.0.0.1:0"]
        process.currentDirectoryURL = URL(fileURLWithPath: ws.root)
        process.environment = environment(ws, variables)
        let pipe = Pipe()
        let output = LockedText()
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && process.isRunning {
            if let range = output.text.range(of: "listening on http://127.0.0.1:") {
                let digits = output.text[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits), output.text[range.upperBound...].contains("\n") {
                    return ServeProcess(process: process, port: port, output: output)
                }
            }
            usleep(20_000)
        }
        process.terminate()
        throw WorkspaceError(description: "roster serve did not start: \(output.text)")
    }

    func call(_ method: String, _ path: String, _ body: String? = nil, token: String? = serveToken) throws -> Reply {
        try callInBackground(method, path, body, token: token).wait(seconds: 30)
    }

    final class Pending: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        var result: Result<Reply, any Error> = .failure(WorkspaceError(description: "no answer"))

        func finish(_ result: Result<Reply, any Error>) {
            self.result = result
            done.signal()
        }

        func wait(seconds: Double) throws -> Reply {
            guard done.wait(timeout: .now() + seconds) == .success else {
                throw WorkspaceError(description: "no answer within \(seconds) s")
            }
            return try result.get()
        }
    }

    func callInBackground(_ method: String, _ path: String, _ body: String? = nil, token: String? = serveToken) -> Pending {
        let pending = Pending()
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 60
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                pending.finish(.failure(error))
            } else {
                pending.finish(.success(Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0,
                                              body: String(decoding: data ?? Data(), as: UTF8.self))))
            }
        }.resume()
        return pending
    }

    /// SIGTERM, then the exit status (killed after 20 s).
    func terminate() -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func stop() {
        if process.isRunning { _ = terminate() }
    }
}

/// Text appended from another thread.
final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) {
        lock.withLock { data.append(more) }
    }

    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
