import Foundation
import RosterApp
import RosterCore
import XCTest

/// SPEC §7's reading commands (`access`, `who-can`) from the store and from the files, on
/// both stores: every rule of §4.2 against expectations worked out by hand.
final class ReconcilerReadingTests: XCTestCase {
    /// One customer with every way to hold (or not hold) a permission:
    /// - `olga` owns the customer `c1` (so every account of it; `acc1` defaults to her too);
    /// - `otto` owns `acc2`;
    /// - `mia` is an admin (`streams: ["*"]`, billing:read) of `c1`, a viewer of `acc1` and of
    ///   `acc3`, which `applied()` deactivates;
    /// - `eve` was a viewer of `acc1` until yesterday (expired); `ian` is an inactive viewer of `acc1`.
    static let files: [String: String] = [
        "roster.yaml": """
        version: 1
        sources: [directory]
        permissions:
          streams: [create, read, delete]
          billing: [read]
        """,
        "directory/roles.yaml": """
        kind: Role
        id: viewer
        permissions: {streams: [read]}
        ---
        kind: Role
        id: admin
        permissions: {streams: ["*"], billing: [read]}
        """,
        "directory/users.yaml": """
        kind: User
        email: olga@c1.example
        name: Olga Owner
        ---
        kind: User
        email: otto@c1.example
        ---
        kind: User
        email: mia@partner.example
        name: Mia Member
        ---
        kind: User
        email: eve@partner.example
        ---
        kind: User
        email: ian@partner.example
        """,
        "directory/c1.yaml": """
        kind: Customer
        id: c1
        owner: olga@c1.example
        members:
          - user: mia@partner.example
            roles: [admin]
        ---
        kind: Account
        id: acc1
        customer: c1
        members:
          - user: mia@partner.example
            roles: [viewer]
          - user: eve@partner.example
            roles: [viewer]
            expires: 2026-11-24
          - user: ian@partner.example
            roles: [viewer]
        ---
        kind: Account
        id: acc2
        customer: c1
        owner: otto@c1.example
        ---
        kind: Account
        id: acc3
        customer: c1
        members:
          - user: mia@partner.example
            roles: [viewer]
        """,
    ]

    static let everything = ["billing:read", "streams:create", "streams:delete", "streams:read"]

    /// The workspace applied on 2026-11-23 and read the day after, when eve's membership has
    /// ended and ian has been deactivated (still listed as a member).
    func applied() throws -> Workspace {
        let ws = try Workspace(files: Self.files)
        try ws.apply()
        ws.now += oneDay
        try ws.edit("directory/users.yaml", "email: ian@partner.example", "email: ian@partner.example\nstatus: inactive")
        try ws.edit("directory/c1.yaml", "id: acc3\ncustomer: c1\n", "id: acc3\ncustomer: c1\nstatus: inactive\n")
        try ws.apply()
        return ws
    }

    func access(_ ws: Workspace, _ email: String, _ extra: [String] = []) throws -> AccessReport {
        let result = ws.run(["access", email, "--format", "json"] + extra)
        XCTAssertEqual(result.status, 0, result.stderr)
        return try JSONDecoder().decode(AccessReport.self, from: Data(result.stdout.utf8))
    }

    /// scope → via → permissions, the shape the expectations are written in.
    func summary(_ report: AccessReport) -> [String: [String: [String]]] {
        var out: [String: [String: [String]]] = [:]
        for scope in report.scopes {
            for grant in scope.grants { out["\(scope.type.rawValue) \(scope.id)", default: [:]][grant.via] = grant.permissions }
        }
        return out
    }

    func testEffectivePermissionsFollowEveryRuleFromTheStoreAndFromTheFiles() throws {
        let ws = try applied()
        for extra in [[], ["--files"]] {
            let olga = try access(ws, "olga@c1.example", extra)
            XCTAssertEqual(summary(olga), [
                "customer c1": ["owner of customer c1": Self.everything],
                "account acc1": ["owner of customer c1": Self.everything, "owner of account acc1": Self.everything],
                "account acc2": ["owner of customer c1": Self.everything],
            ], "the customer's owner holds everything on it and its active accounts, not on acc3 \(extra)")
            XCTAssertEqual(summary(try access(ws, "otto@c1.example", extra)),
                           ["account acc2": ["owner of account acc2": Self.everything]], "an account's owner \(extra)")
            XCTAssertEqual(summary(try access(ws, "mia@partner.example", extra)), [
                "customer c1": ["role admin on customer c1": Self.everything],
                "account acc1": ["role viewer on account acc1": ["streams:read"]],
            ], "'*' is every action of the module; a customer role stays on the customer; acc3 is inactive \(extra)")
            XCTAssertEqual(summary(try access(ws, "eve@partner.example", extra)), [:], "expired \(extra)")
            XCTAssertEqual(summary(try access(ws, "ian@partner.example", extra)), [:], "inactive user \(extra)")
            XCTAssertEqual(summary(try access(ws, "mia@partner.example", extra + ["--account", "acc1"])),
                           ["account acc1": ["role viewer on account acc1": ["streams:read"]]], "one scope only \(extra)")
        }
        let stored = try access(ws, "mia@partner.example")
        XCTAssertEqual(stored.source, .store)
        XCTAssertEqual(stored.scopes.first { $0.id == "acc1" }?.grants.first?.since, "2026-11-23")
        let declared = try access(ws, "mia@partner.example", ["--files"])
        XCTAssertEqual(declared.source, .files)
        XCTAssertEqual(declared.scopes.first { $0.id == "acc1" }?.grants.first?.declaredAt, "directory/c1.yaml:12:5")
    }

    func testAccessTextNamesTheProvenance() throws {
        let ws = try applied()
        let stored = ws.run(["access", "mia@partner.example"])
        XCTAssertEqual(stored.status, 0, stored.stderr)
        assertGolden(stored.stdout, named: "access-mia-store.txt")
        let files = ws.run(["access", "olga@c1.example", "--files"])
        XCTAssertEqual(files.status, 0, files.stderr)
        assertGolden(files.stdout, named: "access-olga-files.txt")
    }

    func testWhoCanNamesEveryHolderAndHow() throws {
        let ws = try applied()
        for extra in [[], ["--files"]] {
            let result = ws.run(["who-can", "streams:read", "--account", "acc1", "--format", "json"] + extra)
            XCTAssertEqual(result.status, 0, result.stderr)
            let report = try JSONDecoder().decode(WhoCanReport.self, from: Data(result.stdout.utf8))
            XCTAssertEqual(report.holders.map(\.email), ["mia@partner.example", "olga@c1.example"], "\(extra)")
            XCTAssertEqual(report.holders.map { $0.via.map(\.via) },
                           [["role viewer on account acc1"], ["owner of account acc1", "owner of customer c1"]])
            let billing = ws.run(["who-can", "billing:read", "--customer", "c1", "--format", "json"] + extra)
            XCTAssertEqual(try JSONDecoder().decode(WhoCanReport.self, from: Data(billing.stdout.utf8)).holders.map(\.email),
                           ["mia@partner.example", "olga@c1.example"])
            let inactive = ws.run(["who-can", "streams:read", "--account", "acc3"] + extra)
            XCTAssertEqual(inactive.stdout, "Who can streams:read on account acc3 (in the \(extra.isEmpty ? "store" : "files")):\nNobody.\n")
        }
        let text = ws.run(["who-can", "streams:delete", "--account", "acc2"])
        assertGolden(text.stdout, named: "who-can-acc2.txt")
    }

    func testMistakesAreUsageErrorsWithSuggestionsAndAnUnknownUserNamesTheClosest() throws {
        let ws = try applied()
        let before = try ws.dump()
        for (arguments, message) in [
            (["who-can", "streams:reed", "--account", "acc1"], "'streams:reed' is not a permission of the catalogue in roster.yaml; did you mean 'streams:read'?"),
            (["who-can", "streams:*", "--account", "acc1"], "'*' stands for every action only in roles"),
            (["who-can", "*", "--customer", "c1"], "'*' stands for every action only in roles"),
            (["who-can", "streams:read", "--account", "acc9"], "account 'acc9' does not exist; did you mean 'acc1'?"),
            (["who-can", "streams:read"], "name the scope with --customer ID or --account ID"),
            (["who-can", "streams:read", "--customer", "c1", "--account", "acc1"], "give --customer or --account, not both"),
            (["access", "mia@partner.example", "--customer", "c2"], "customer 'c2' does not exist; did you mean 'c1'?"),
        ] {
            for extra in [[], ["--files"]] {
                let result = ws.run(arguments + extra)
                XCTAssertEqual(result.status, 64, arguments.joined(separator: " "))
                XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            }
        }
        let unknown = ws.run(["access", "mai@partner.example"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.hasPrefix("error: 'mai@partner.example' is not a user of the directory; the closest are "
                                               + "'mia@partner.example'"), unknown.stderr)
        XCTAssertEqual(try ws.dump(), before, "reading changes nothing")
    }

    func testFilesAnswerWithoutTouchingOrCreatingAStore() throws {
        let ws = try Workspace(files: Self.files)
        for arguments in [["who-can", "streams:read", "--account", "acc1", "--files"], ["access", "mia@partner.example", "--files"]] {
            let result = ws.run(arguments)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(result.stderr, "", "no store is opened, so none is created: \(arguments)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.root + "/.roster"), "no store is created")
    }
}

/// SPEC §7's `export` and `apply --adopt`.
final class ReconcilerExportTests: XCTestCase {
    /// Exports the workspace's store into `exported/`, points roster.yaml at it, and checks the plan is empty.
    func assertRoundTrip(_ ws: Workspace, file: StaticString = #filePath, line: UInt = #line) throws {
        let export = ws.run(["export", "--out", "exported", "--force"])
        XCTAssertEqual(export.status, 0, export.stderr, file: file, line: line)
        let config = try ws.read("roster.yaml")
        try ws.write("roster.yaml", config.replacingOccurrences(of: "sources: [directory]", with: "sources: [exported]"))
        defer { try? ws.write("roster.yaml", config) }
        XCTAssertEqual(ws.run(["validate"]).status, 0, file: file, line: line)
        XCTAssertEqual(lines(try ws.plan()), [], "the export of a store plans no changes against it", file: file, line: line)
    }

    func testExportOfTheQuickstartAndTheResellerPlatformPlansNoChanges() throws {
        for example in ["quickstart", "reseller-platform"] {
            let ws = try Workspace(example: example)
            try ws.apply()
            try assertRoundTrip(ws)
        }
    }

    func testExportIsDeterministicAndKeepsInactiveEntities() throws {
        let ws = try Quickstart.applied()
        try ws.edit(Quickstart.otherUsers, "email: dan@partner.example", "email: dan@partner.example\nstatus: inactive")
        try ws.apply()
        XCTAssertEqual(ws.run(["export", "--out", "one"]).status, 0)
        XCTAssertEqual(ws.run(["export", "--out", "two"]).status, 0)
        for file in ["roles.yaml", "users.yaml", "customers/bluebird-studio.yaml", "customers/northwind-media.yaml"] {
            XCTAssertEqual(try ws.read("one/" + file), try ws.read("two/" + file), file)
        }
        let users = try ws.read("one/users.yaml")
        XCTAssertTrue(users.contains("kind: User\nemail: dan@partner.example\nname: Dan Partner\nstatus: inactive\n"), users)
        XCTAssertFalse(try ws.read("one/customers/bluebird-studio.yaml").contains("dan@partner.example"),
                       "ended memberships are left out")
        XCTAssertTrue(users.hasPrefix("# Exported by roster "), users)
        try assertRoundTrip(ws)
    }

    func testExportAfterExpiryRenameAndDriftPlansNoChanges() throws {
        let ws = try Quickstart.applied()
        // A rename, and an expiry that the next apply revokes.
        try ws.edit(Quickstart.otherUsers, "email: dan@partner.example", "email: dan@newco.example\npreviousEmails: [dan@partner.example]")
        for file in [Quickstart.northwind, Quickstart.bluebird] {
            try ws.write(file, try ws.read(file).replacingOccurrences(of: "dan@partner.example", with: "dan@newco.example"))
        }
        try ws.edit(Quickstart.bluebird, "roles: [ecommerce-viewer, viewer]", "roles: [ecommerce-viewer, viewer]\n    expires: 2026-11-24")
        try ws.apply()
        ws.now += 2 * oneDay
        try ws.apply()
        // Drift: the platform renamed a customer and changed a member's roles.
        try ws.execute("UPDATE customers SET name = 'Northwind (renamed by support)' WHERE id = 'northwind-media'")
        try ws.execute("UPDATE memberships SET roles = 'admin' WHERE scope_id = 'northwind-media' AND ended_at IS NULL "
                       + "AND user_id = (SELECT id FROM users WHERE email_key = 'erin@northwind-media.example')")
        try assertRoundTrip(ws)
        let exported = try ws.read("exported/customers/northwind-media.yaml")
        XCTAssertTrue(exported.contains("name: Northwind (renamed by support)"), exported)
    }

    func testExportRefusesANonEmptyFolderAndNeverWritesOutsideIt() throws {
        let ws = try Quickstart.applied()
        try ws.write("taken/notes.txt", "mine")
        let refused = ws.run(["export", "--out", "taken"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("'\(ws.root)/taken' is not empty"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.root + "/taken/users.yaml"))
        try ws.write("taken/customers/gone-customer.yaml", "kind: Customer\n")
        XCTAssertEqual(ws.run(["export", "--out", "taken", "--force"]).status, 0)
        XCTAssertEqual(try ws.read("taken/notes.txt"), "mine", "--force leaves other files alone")
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.root + "/taken/customers/gone-customer.yaml"),
                       "--force replaces an earlier export's files")
        // customers/ as a link out of the folder is refused.
        try FileManager.default.createDirectory(atPath: ws.root + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: ws.root + "/linked", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: ws.root + "/linked/customers", withDestinationPath: ws.root + "/elsewhere")
        let linked = ws.run(["export", "--out", "linked", "--force"])
        XCTAssertEqual(linked.status, 1)
        XCTAssertTrue(linked.stderr.contains("it is a link out of the folder"), linked.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: ws.root + "/elsewhere"), [])
    }

    func testAdoptingCreatesActiveUsersWithoutInvitationsThenOperatesNormally() throws {
        let ws = try Workspace()
        let planned = try ws.plan(["--adopt"])
        XCTAssertEqual(planned.changes.filter { $0.action == .adopt }.map(\.id).sorted(), Quickstart.users)
        XCTAssertTrue(planned.changes.allSatisfy { $0.action != .invite && $0.invitation == nil })
        XCTAssertTrue(planned.summary.line.contains("6 to adopt"), planned.summary.line)
        let shown = ws.run(["plan", "--adopt"])
        XCTAssertTrue(shown.stdout.contains("+ adopt user dan@partner.example"), shown.stdout)
        try ws.apply(["--adopt"])
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM invitations"), 0)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM outbox"), 0)
        XCTAssertEqual(try ws.strings("SELECT DISTINCT status FROM users"), ["active"])
        XCTAssertEqual(lines(try ws.plan()), [], "the next plan is empty")
        let history = ws.run(["history", "--user", "dan@partner.example"]).stdout
        XCTAssertTrue(history.contains("adopt user dan@partner.example"), history)
        let events = ws.run(["events", "--type", "user.*"]).stdout
        XCTAssertEqual(events.components(separatedBy: " user.adopted ").count - 1, 6, events)
        // Then a new user is invited as usual.
        try ws.append(Quickstart.otherUsers, "---\nkind: User\nemail: gus@partner.example\n")
        try ws.edit(Quickstart.bluebird, "  - user: dan@partner.example", "  - user: gus@partner.example\n    roles: [viewer]\n  - user: dan@partner.example")
        XCTAssertEqual(lines(try ws.plan()).first, "invite user gus@partner.example")
        try ws.apply()
        XCTAssertEqual(try ws.messages().map(\.to), ["gus@partner.example"])
    }

    func testASavedAdoptPlanAppliesAsReviewed() throws {
        let ws = try Workspace()
        let saved = ws.run(["plan", "--adopt", "--out", "plan.json"])
        XCTAssertEqual(saved.status, 0, saved.stderr)
        let applied = ws.run(["apply", "plan.json"])
        XCTAssertEqual(applied.status, 0, applied.stderr)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM invitations"), 0)
        XCTAssertEqual(lines(try ws.plan()), [])
    }
}
