import Foundation
import RosterCore
import RosterTestSupport
import XCTest

/// Finds `name` on the test process's PATH; a missing tool fails the test (never skips it),
/// naming what installs it.
func requiredTool(_ name: String, installedBy package: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for folder in path.split(separator: ":") {
        let candidate = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    for folder in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] where FileManager.default.isExecutableFile(atPath: folder + "/" + name) {
        return folder + "/" + name
    }
    throw WorkspaceError(description: "the delivery tests need '\(name)' (\(package)); scripts/test installs it")
}

/// The files of a directory of `count` invited users, `u0000@DOMAIN` on, members of accounts of
/// ten under one customer, delivering with `delivery` (roster.yaml's flow mapping); and their
/// emails.
func invitedDirectory(_ count: Int, domain: String, delivery: String) -> (files: [String: String], emails: [String]) {
    let emails = (0..<count).map { String(format: "u%04d@\(domain)", $0) }
    var accounts = "kind: Role\nid: viewer\npermissions: {streams: [read]}\n---\nkind: Customer\nid: invited\nowner: \(emails[0])\n"
    for account in 0..<(count / 10) {
        accounts += "---\nkind: Account\nid: acc-\(account)\ncustomer: invited\nmembers:\n"
        for member in 0..<10 { accounts += "  - user: \(emails[account * 10 + member])\n    roles: [viewer]\n" }
    }
    let files = [
        "roster.yaml": """
            version: 1
            sources: [directory]
            permissions:
              streams: [read]
            limits:
              accountsPerCustomer: 1000
            invitations:
              acceptUrl: https://portal.example.com/invite?token={token}
              delivery: \(delivery)

            """,
        "directory/users.yaml": emails.map { "kind: User\nemail: \($0)\n" }.joined(separator: "---\n"),
        "directory/accounts.yaml": accounts,
    ]
    return (files, emails)
}

/// Waits up to `seconds` for `condition`; whether it came true.
func waitUntil(_ seconds: TimeInterval, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// A temporary folder, removed with the value.
final class TemporaryFolder {
    let path = FileManager.default.temporaryDirectory.path + "/roster-delivery-" + UUID().uuidString

    init() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes an executable shell script `name` and returns its path.
    func script(_ name: String, _ body: String) throws -> String {
        let file = path + "/" + name
        try ("#!/bin/sh\n" + body + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o755)
        return file
    }
}

/// A real webhook receiver on 127.0.0.1 (`Fixtures/webhook-receiver.py`): each request is
/// verified with the reference `standardwebhooks` package and recorded; `Mode` says how it
/// answers.
final class WebhookReceiver {
    /// How the receiver answers (the script's `mode` file); the default is 200 at once.
    struct Mode: Encodable {
        /// The status of the answers (of the first `first` ones when set; the rest get 200).
        var status: Int?
        var first: Int?
        var retryAfter: String?
        var location: String?
        /// Seconds before answering.
        var delay: Double?

        enum CodingKeys: String, CodingKey {
            case status, first, retryAfter = "retry-after", location, delay
        }
    }

    /// The secret roster signs with and the receiver verifies with (32 bytes).
    static let secret = "whsec_" + Data((0..<32).map { UInt8($0 * 7 + 3) }).base64EncodedString()
    /// The variable roster.yaml's `secretEnv` names.
    static let variable = "ROSTER_WEBHOOK_SECRET"

    /// One request as the receiver saw it.
    struct Request: Decodable {
        var n: Int
        var path: String
        var headers: [String: String]
        var body: String
        var verified: Bool
        var error: String?
        var status: Int

        var id: String { headers["webhook-id"] ?? "" }

        /// The body's `data` object.
        var data: [String: Any] {
            let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
            return object?["data"] as? [String: Any] ?? [:]
        }
        var email: String { data["email"] as? String ?? "" }
        var token: String { data["token"] as? String ?? "" }
    }

    let folder: TemporaryFolder
    let process: Process
    let port: Int
    private let errors = Pipe()

    /// Starts the receiver answering as `mode` says, on `port` (by default a free one).
    init(_ mode: Mode = Mode(), port: Int = 0) throws {
        folder = try TemporaryFolder()
        let python = try requiredTool("python3", installedBy: "Debian's python3")
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Paths.fixture("webhook-receiver.py"), folder.path, "--port", String(port)]
        process.environment = ProcessInfo.processInfo.environment.merging(["WEBHOOK_SECRET": Self.secret]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try Self.write(mode, to: folder.path + "/mode")
        try process.run()
        let portFile = folder.path + "/port"
        let process = self.process
        guard waitUntil(20, { FileManager.default.fileExists(atPath: portFile) || !process.isRunning }),
              let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) else {
            process.terminate()
            process.waitUntilExit()
            let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw WorkspaceError(description: "the webhook receiver did not start (python3 with the standardwebhooks "
                                 + "package; scripts/test installs it): \(said)")
        }
        self.port = port
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }

    /// The receiver's URL (any path works; this is the one the tests configure).
    var url: String { "http://127.0.0.1:\(port)/hooks/invitations" }

    /// Changes how the next requests are answered.
    func setMode(_ mode: Mode) throws {
        try Self.write(mode, to: folder.path + "/mode")
    }

    private static func write(_ mode: Mode, to path: String) throws {
        try JSONEncoder().encode(mode).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The clock the receiver checks `webhook-timestamp` against (roster's, in the tests).
    func setClock(_ now: Date) throws {
        try String(Int(now.timeIntervalSince1970)).write(toFile: folder.path + "/clock", atomically: true, encoding: .utf8)
    }

    /// Every request received so far, in order of arrival.
    func requests() throws -> [Request] {
        guard let text = try? String(contentsOfFile: folder.path + "/requests.jsonl", encoding: .utf8) else { return [] }
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { try decoder.decode(Request.self, from: Data($0.utf8)) }
            .sorted { $0.n < $1.n }
    }

    /// TCP connections accepted so far.
    var connections: Int {
        (try? String(contentsOfFile: folder.path + "/connections", encoding: .utf8)).flatMap { Int($0) } ?? 0
    }
}

/// An SMTP server on 127.0.0.1 (Debian's `msmtpd`, package msmtp-mta) that writes each mail
/// it receives, as piped to it, into a folder. As a daemon msmtpd reaps finished sessions
/// lazily and stops accepting at 16, which is plenty for a test's few mails
/// (`scripts/bench-delivery.sh` starts one `msmtpd --inetd` per connection instead).
final class MailServer {
    let folder: TemporaryFolder
    let process: Process
    let port: Int

    /// One mail as received: its headers (unfolded) and body, with the envelope recipients.
    struct Mail {
        var recipients: [String]
        var text: String

        var head: String { text.components(separatedBy: "\n\n").first ?? "" }
        var body: String { text.components(separatedBy: "\n\n").dropFirst().joined(separator: "\n\n") }

        /// The value of the first header `name`.
        func header(_ name: String) -> String? {
            let unfolded = head.replacingOccurrences(of: "\n ", with: " ").replacingOccurrences(of: "\n\t", with: " ")
            return unfolded.components(separatedBy: "\n").first { $0.lowercased().hasPrefix(name.lowercased() + ": ") }
                .map { String($0.dropFirst(name.count + 2)) }
        }
    }

    init() throws {
        folder = try TemporaryFolder()
        let msmtpd = try requiredTool("msmtpd", installedBy: "Debian package msmtp-mta")
        // msmtpd pipes each mail to this command with the envelope recipients appended.
        let store = try folder.script("store-mail", """
            out="$1"; shift
            file="$out/$(date +%s%N)-$$"
            { printf 'X-Envelope-To: %s\\n' "$*"; cat; } > "$file.tmp" && mv "$file.tmp" "$file.mail"
            """)
        try FileManager.default.createDirectory(atPath: folder.path + "/mail", withIntermediateDirectories: true)
        var started: (Process, Int)?
        // The port is free when picked; another process could take it first, so try a few.
        for _ in 0..<5 where started == nil {
            let port = TestPorts.free()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: msmtpd)
            process.arguments = ["--interface=127.0.0.1", "--port=\(port)", "--command=\(store) \(folder.path)/mail",
                                 "--log=\(folder.path)/log"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            if waitUntil(5, { Self.accepts(port) || !process.isRunning }), process.isRunning {
                started = (process, port)
            } else {
                process.terminate()
                process.waitUntilExit()
            }
        }
        guard let (process, port) = started else {
            throw WorkspaceError(description: "msmtpd did not start on a free port of 127.0.0.1")
        }
        self.process = process
        self.port = port
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }

    /// Whether something accepts connections on `port` of 127.0.0.1.
    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) }
        } == 0
    }

    /// The `msmtp` command line that sends through this server (for `invitations.delivery.command`).
    func msmtpCommand() throws -> String {
        let msmtp = try requiredTool("msmtp", installedBy: "Debian package msmtp")
        return "\(msmtp) -C /dev/null -t --read-envelope-from --host=127.0.0.1 --port=\(port) --auth=off --tls=off"
    }

    /// Every mail received so far, oldest first.
    func mails() throws -> [Mail] {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path + "/mail").filter { $0.hasSuffix(".mail") }.sorted()
        return try names.map { name in
            let text = try String(contentsOfFile: folder.path + "/mail/" + name, encoding: .utf8)
            let first = text.prefix { $0 != "\n" }
            let recipients = first.dropFirst("X-Envelope-To: ".count).split(separator: " ").map(String.init)
            // msmtpd hands the mail over with LF line ends (and its own Received header).
            return Mail(recipients: recipients,
                        text: String(text.dropFirst(first.count + 1)).replacingOccurrences(of: "\r\n", with: "\n"))
        }
    }
}

extension Workspace {
    /// Replaces the quickstart's `file` delivery by `delivery` (a flow mapping's inside).
    func deliver(by delivery: String) throws {
        try edit("roster.yaml", "  delivery: {kind: file, path: .roster/outbox}", "  delivery: {\(delivery)}")
    }

    /// `roster outbox --format json`, decoded: one entry per message.
    func outboxEntries() throws -> [[String: Any]] {
        let result = run(["outbox", "--format", "json"])
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let messages = object["messages"] as? [[String: Any]] else {
            throw WorkspaceError(description: "outbox exited \(result.status): \(result.stdout)\n\(result.stderr)")
        }
        return messages
    }

    /// The outbox's messages as `status attempts` per recipient.
    func outboxStates() throws -> [String: String] {
        var states: [String: String] = [:]
        for entry in try outboxEntries() {
            states[entry["recipient"] as? String ?? "?"] = "\(entry["status"] ?? "?") \(entry["attempts"] ?? "?")"
        }
        return states
    }

    /// Seconds from the workspace's clock to each pending message's next attempt.
    func secondsToNextAttempts() throws -> [TimeInterval] {
        try outboxEntries().compactMap { entry in
            (entry["nextAttemptAt"] as? String).flatMap(Timestamp.date).map { $0.timeIntervalSince(now) }
        }
    }

    /// The outbox id (the Message-ID) of each recipient's message.
    func messageIDs() throws -> [String: String] {
        var ids: [String: String] = [:]
        for entry in try outboxEntries() { ids[entry["recipient"] as? String ?? "?"] = entry["id"] as? String }
        return ids
    }
}

/// Fails when `result` shows the webhook secret, or any of `tokens`.
func assertNoSecrets(_ result: RunResult, tokens: [String] = [], file: StaticString = #filePath, line: UInt = #line) {
    let output = result.stdout + result.stderr
    let key = String(WebhookReceiver.secret.dropFirst("whsec_".count))
    XCTAssertFalse(output.contains(key), "the secret was printed:\n\(output)", file: file, line: line)
    for token in tokens where !token.isEmpty {
        XCTAssertFalse(output.contains(token), "a token was printed:\n\(output)", file: file, line: line)
    }
}
