import Foundation
import RosterTestSupport
import RosterCLI
import RosterCore
@testable import RosterStore
import XCTest

/// One day, in seconds.
let oneDay: TimeInterval = 86_400

/// The tests' first instant: 2026-11-23 12:00:00 UTC (the default clock of `roster(...)`).
let startOfTests = Date(timeIntervalSince1970: 1_795_435_200)

/// A failure of a helper, reported where the test called it.
struct WorkspaceError: Error, CustomStringConvertible {
    var description: String
}

/// A throwaway roster project on disk with its own store (`.roster/state.db`, or a fresh
/// PostgreSQL schema: see `TestStore`), one seeded random source shared by every command it
/// runs, and a clock the test moves.
final class Workspace {
    let root: String
    let random: SeededRandomSource
    var now: Date
    var actor = "tester"
    /// The store under test (see `TestStore`); the PostgreSQL schema of this workspace's store.
    let backend: TestStore
    private let schema = TestStore.freshSchema()

    /// A copy of `examples/NAME`.
    init(example: String = "quickstart", seed: UInt64 = 42, now: Date = startOfTests, backend: TestStore = .current) throws {
        self.backend = backend
        root = FileManager.default.temporaryDirectory.path + "/roster-reconciler-" + UUID().uuidString
        random = SeededRandomSource(seed: seed)
        self.now = now
        try FileManager.default.copyItem(atPath: Paths.packageRoot + "/examples/" + example, toPath: root)
        try? FileManager.default.removeItem(atPath: root + "/.roster")
    }

    /// A project of the given files (path → text).
    init(files: [String: String], seed: UInt64 = 42, now: Date = startOfTests, backend: TestStore = .current) throws {
        self.backend = backend
        root = FileManager.default.temporaryDirectory.path + "/roster-reconciler-" + UUID().uuidString
        random = SeededRandomSource(seed: seed)
        self.now = now
        for (path, text) in files { try write(path, text) }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
        if case .postgres(let url) = backend { TestStore.dropSchema(url, schema: schema) }
    }

    var statePath: String { root + "/.roster/state.db" }

    /// The store's URL when it is not the default `.roster/state.db`.
    var stateURL: String? {
        guard case .postgres(let url) = backend else { return nil }
        return TestStore.url(url, schema: schema)
    }

    /// Variables every command sees besides the actor and the store (a webhook's secret, PATH).
    var environment: [String: String] = [:]

    /// The environment of every command: `environment`, the actor, and the store's URL (`ROSTER_STATE`).
    func variables(actor: String? = nil) -> [String: String] {
        var variables = environment
        variables["USER"] = actor ?? self.actor
        if let stateURL { variables["ROSTER_STATE"] = stateURL }
        return variables
    }
    var outboxPath: String { root + "/.roster/outbox" }

    // MARK: Commands

    /// Runs `roster ARGS` in the project at the workspace's clock (or `at`).
    @discardableResult
    func run(_ arguments: [String], at: Date? = nil, stdinIsTerminal: Bool = false, input: [String] = []) -> RunResult {
        roster(arguments, in: root, variables: variables(), now: at ?? now, random: random,
               stdinIsTerminal: stdinIsTerminal, input: input)
    }

    /// `roster plan --format json`, decoded; fails unless it exits 0.
    func plan(_ extra: [String] = []) throws -> Plan {
        let result = run(["plan", "--format", "json"] + extra)
        guard result.status == 0 else {
            throw WorkspaceError(description: "plan exited \(result.status): \(result.stderr)")
        }
        return try Plan.read(json: Data(result.stdout.utf8))
    }

    /// `roster apply --auto-approve ARGS`; fails unless it exits 0.
    @discardableResult
    func apply(_ extra: [String] = []) throws -> RunResult {
        let result = run(["apply", "--auto-approve"] + extra)
        guard result.status == 0 else {
            throw WorkspaceError(description: "apply exited \(result.status):\n\(result.stdout)\n\(result.stderr)")
        }
        return result
    }

    /// Applies, then checks the next plan is empty (idempotence); returns what was applied.
    @discardableResult
    func applyAndConverge(_ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> Plan {
        let planned = try plan()
        try apply(extra)
        let next = try plan()
        XCTAssertEqual(lines(next), [], "the plan after an apply must be empty", file: file, line: line)
        return planned
    }

    // MARK: Files

    func write(_ path: String, _ text: String) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
    }

    func read(_ path: String) throws -> String {
        try String(contentsOfFile: root + "/" + path, encoding: .utf8)
    }

    func append(_ path: String, _ text: String) throws {
        try write(path, try read(path) + text)
    }

    /// Replaces the one occurrence of `old` in `path` by `new`.
    func edit(_ path: String, _ old: String, _ new: String) throws {
        let text = try read(path)
        let count = text.components(separatedBy: old).count - 1
        guard count == 1 else {
            throw WorkspaceError(description: "expected one '\(old)' in \(path), found \(count)")
        }
        try write(path, text.replacingOccurrences(of: old, with: new))
    }

    func remove(_ path: String) throws {
        try FileManager.default.removeItem(atPath: root + "/" + path)
    }

    // MARK: The store, read and changed with raw SQL

    var isPostgres: Bool { stateURL != nil }

    /// A plan printed on PostgreSQL as it reads on SQLite (where it names the backend), so
    /// both stores are held to the same golden files.
    func asIfOnSQLite(_ output: String) -> String {
        guard isPostgres else { return output }
        return output.replacingOccurrences(of: #""backend" : "postgres""#, with: #""backend" : "sqlite""#)
            .replacingOccurrences(of: "Against the postgres store", with: "Against the sqlite store")
    }

    /// Opens a fresh handle on the store, as a second process would; safe to call from any thread.
    var storeOpener: @Sendable () throws -> any SQLStore {
        let path = statePath
        let url = stateURL
        return {
            if let url { return try TestStore.openPostgres(url) }
            return try SQLiteStore(path: path, random: SeededRandomSource(seed: 999))
        }
    }

    /// A fresh handle on the store, as a second process would have.
    func store() throws -> any SQLStore {
        try storeOpener()
    }

    /// Runs one statement outside roster, as an admin of the platform would.
    func execute(_ sql: String) throws {
        _ = try store().write { db in try db.execute(sql) }
    }

    /// The first column of every row, as text.
    func strings(_ sql: String) throws -> [String] {
        // PostgreSQL sends each column in its own type: ask for text.
        let query = isPostgres ? "SELECT q.x::text FROM (\(sql)) AS q(x)" : sql
        return try store().read { db in try db.rows(query) { try $0.optionalText(0) ?? "NULL" } }
    }

    func int(_ sql: String) throws -> Int {
        try store().read { db in try db.integer(sql) }.map(Int.init) ?? -1
    }

    func serial() throws -> Int {
        try store().snapshot().store.serial
    }

    /// Every row of every roster table, for "nothing changed" comparisons.
    func dump() throws -> String {
        try store().read { db in
            var out = ""
            for table in ["meta", "roles", "users", "customers", "accounts", "memberships", "invitations", "outbox", "audit"] {
                out += "[\(table)]\n"
                let rows: [String]
                if isPostgres {
                    rows = try db.rows("SELECT t::text FROM \(table) t ORDER BY 1") { try $0.text(0) }
                } else {
                    let columns = try db.rows("SELECT name FROM pragma_table_info('\(table)') ORDER BY cid") { try $0.text(0) }
                    let row = columns.map { "quote(\($0))" }.joined(separator: " || '|' || ")
                    rows = try db.rows("SELECT \(row) FROM \(table) ORDER BY rowid") { try $0.text(0) }
                }
                for line in rows { out += line + "\n" }
            }
            return out
        }
    }

    // MARK: Invitation messages

    /// One delivered `.eml` file.
    struct Message: Equatable {
        var file: String
        var to: String
        var from: String
        var subject: String
        var token: String
        var text: String
    }

    /// The `.eml` files in the outbox folder.
    func messages() throws -> [Message] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: outboxPath) else { return [] }
        return try names.filter { $0.hasSuffix(".eml") }.sorted().map { name in
            let text = try String(contentsOfFile: outboxPath + "/" + name, encoding: .utf8)
            func header(_ field: String) -> String {
                text.components(separatedBy: "\r\n").first { $0.hasPrefix(field + ": ") }
                    .map { String($0.dropFirst(field.count + 2)) } ?? ""
            }
            // The link of `acceptUrl`, or the command to run when there is none.
            guard let range = text.range(of: #"(token=|roster invitations accept )[A-Za-z0-9_-]+"#, options: .regularExpression),
                  let token = text[range].split(whereSeparator: { $0 == "=" || $0 == " " }).last
            else { throw WorkspaceError(description: "no token in \(name)") }
            // `Name <address>` → the address.
            func address(_ field: String) -> String {
                let value = header(field)
                guard value.hasSuffix(">"), let open = value.lastIndex(of: "<") else { return value }
                return String(value[value.index(after: open)..<value.index(before: value.endIndex)])
            }
            return Message(file: name, to: address("To"), from: address("From"), subject: header("Subject"),
                           token: String(token), text: text)
        }
    }

    /// The messages to `email` that were not in `before`.
    func newMessages(to email: String, since before: [Message]) throws -> [Message] {
        try messages().filter { $0.to.lowercased() == email.lowercased() && !before.contains($0) }
    }

    /// The one token of the one message to `email`.
    func onlyToken(of email: String) throws -> String {
        let found = try messages().filter { $0.to.lowercased() == email.lowercased() }
        guard found.count == 1, let token = found.first?.token else {
            throw WorkspaceError(description: "expected one message to \(email), found \(found.count)")
        }
        return token
    }

    /// Accepts the invitation of each user named; fails unless each accept exits 0.
    func accept(_ emails: [String]) throws {
        for email in emails {
            let result = run(["invitations", "accept", try onlyToken(of: email)])
            guard result.status == 0 else {
                throw WorkspaceError(description: "accept for \(email) exited \(result.status): \(result.stderr)")
            }
        }
    }
}

// MARK: The quickstart

/// Facts about `examples/quickstart` the tests rely on.
enum Quickstart {
    static let users = ["alice@northwind-media.example", "bob@northwind-media.example", "carol@northwind-media.example",
                        "dan@partner.example", "erin@northwind-media.example", "frank@bluebird-studio.example"]
    static let roles = ["admin", "creator", "ecommerce-viewer", "payment-management", "reporting", "system-integrator", "viewer"]
    static let rolesFile = "directory/roles.yaml"
    static let northwind = "directory/customers/northwind-media.yaml"
    static let bluebird = "directory/customers/bluebird-studio.yaml"
    static let northwindUsers = "directory/users/northwind-media.yaml"
    static let otherUsers = "directory/users/others.yaml"

    /// A quickstart workspace after its first apply, every invitation accepted when `accepted`.
    static func applied(accepted: Bool = true, seed: UInt64 = 42) throws -> Workspace {
        let workspace = try Workspace(seed: seed)
        try workspace.apply()
        if accepted { try workspace.accept(users) }
        return workspace
    }
}

// MARK: Reading plans

/// `action type id` of each change, in plan order.
func lines(_ plan: Plan) -> [String] {
    plan.changes.map { "\($0.action.rawValue) \($0.type.rawValue) \($0.id)" }
}

/// The changes of `plan` that are drift, as `lines`.
func driftLines(_ plan: Plan) -> [String] {
    lines(Plan(desired: plan.desired, store: plan.store, changes: plan.changes.filter(\.drift), accessDelta: [], rails: []))
}

/// The one change with this action, type and id.
func change(_ plan: Plan, _ action: ChangeAction, _ type: EntityType, _ id: String,
            file: StaticString = #filePath, line: UInt = #line) throws -> Change {
    let found = plan.changes.filter { $0.action == action && $0.type == type && $0.id == id }
    guard found.count == 1, let first = found.first else {
        throw WorkspaceError(description: "expected one '\(action.rawValue) \(type.rawValue) \(id)' in:\n"
                             + lines(plan).joined(separator: "\n"))
    }
    return first
}

/// The rails the plan blocks, by name.
func blockedRails(_ plan: Plan) -> [String] {
    plan.blockedRails.map(\.rail.rawValue)
}
