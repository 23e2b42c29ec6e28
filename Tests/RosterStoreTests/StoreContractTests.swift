import Foundation
import RosterCore
@testable import RosterStore
import RosterTestSupport
import XCTest

/// The store contract through the `StateStore` API, on the store under test (SQLite, or
/// PostgreSQL with `ROSTER_TEST_STORE=postgres`: `scripts/test` runs both): migrations and
/// lineage, an append-only audit log, one transaction per apply, staleness, the apply lock,
/// and several handles opening one new store at once.
final class StoreContractTests: XCTestCase {
    let stores = TestStores()
    let now = Date(timeIntervalSince1970: 1_795_435_200)

    override func tearDown() {
        stores.removeAll()
    }

    func context(seed: UInt64 = 1) -> ApplyContext {
        ApplyContext(actor: "tester", commit: nil, now: now, random: SeededRandomSource(seed: seed), invitations: InvitationSettings())
    }

    func plan(_ store: any SQLStore, _ changes: [Change]) throws -> Plan {
        Plan(desired: DesiredInfo(digest: "d", commit: nil), store: try store.snapshot().store, changes: changes,
             accessDelta: [], rails: [])
    }

    static let role = Change(action: .create, type: .role, id: "viewer",
                             after: .role(RoleState(id: "viewer", name: nil, description: nil, permissions: ["streams": ["read"]])))

    static func invite(_ email: String) -> Change {
        Change(action: .invite, type: .user, id: email, after: .user(UserState(email: email, name: nil, status: .invited)),
               invitation: InvitationPlan(user: email, email: email, inviter: nil, grants: []))
    }

    func count(_ store: any SQLStore, _ table: String) throws -> Int {
        try store.read { db in try db.integer("SELECT COUNT(*) FROM \(table)") }.map(Int.init) ?? -1
    }

    // MARK: Migrations

    func testNewStoreIsMigratedAndStartsAtSerialZero() throws {
        let store = try stores.open(seed: 7)
        XCTAssertEqual(store.backend, stores.backend)
        let snapshot = try store.snapshot()
        XCTAssertEqual(snapshot.store.backend, stores.backend)
        XCTAssertEqual(snapshot.store.serial, 0)
        XCTAssertTrue(snapshot.state.users.isEmpty)
        let lineage = snapshot.store.lineage
        XCTAssertNotNil(UUID(uuidString: lineage), lineage)
        XCTAssertEqual(Array(lineage)[14], "4", "a version-4 UUID")
        XCTAssertEqual(try migrations(store), ["v1-directory", "v2-delivery", "v3-events", "v4-reading"])
    }

    func migrations(_ store: any SQLStore) throws -> [String] {
        switch store {
        case let sqlite as SQLiteStore: return try sqlite.appliedMigrations()
        case let postgres as PostgresStore: return try postgres.appliedMigrations()
        default: return []
        }
    }

    func testLineageIsFixedAtCreation() throws {
        let first = try stores.open(seed: 1).snapshot().store.lineage
        let reopened = try stores.open(seed: 2).snapshot().store.lineage
        XCTAssertEqual(first, reopened)
        let other = try stores.open("other", seed: 2).snapshot().store.lineage
        XCTAssertNotEqual(first, other)
    }

    func testAuditLogIsAppendOnly() throws {
        let store = try stores.open()
        _ = try store.write { db in
            try db.execute("""
                INSERT INTO audit (seq, serial, at, actor, action, entity_type, entity_id, change, prev_hash, hash)
                VALUES (1, 1, 't', 'a', 'create', 'role', 'r', '{}', '0', '1')
                """)
        }
        XCTAssertThrowsError(try store.write { db in try db.execute("UPDATE audit SET actor = 'x'") }) { error in
            XCTAssertTrue("\(error)".contains("the audit log is append-only"), "\(error)")
        }
        XCTAssertThrowsError(try store.write { db in try db.execute("DELETE FROM audit") })
        XCTAssertEqual(try count(store, "audit"), 1)
    }

    // MARK: One transaction

    func testFailingChangeRollsBackTheWholeApply() throws {
        let store = try stores.open()
        let ghost = MembershipKey(user: "ghost@nowhere.example", scope: ScopeRef(.account, "web"))
        let broken = try plan(store, [
            Self.role,
            Self.invite("amy@example.com"),
            Change(action: .grant, type: .membership, id: "ghost@nowhere.example@account:web",
                   after: .membership(MembershipState(key: ghost, roles: ["viewer"], expires: nil))),
        ])
        XCTAssertThrowsError(try store.apply(broken, context: context())) { error in
            XCTAssertEqual(error as? StoreError, .inconsistent(.userMissing(email: "ghost@nowhere.example")))
        }
        for table in ["roles", "users", "invitations", "outbox", "memberships", "audit"] {
            XCTAssertEqual(try count(store, table), 0, "\(table): the changes before the failing one were rolled back")
        }
        XCTAssertEqual(try store.snapshot().store.serial, 0)
    }

    /// Ends and role changes of memberships are gathered and written many to a statement: one
    /// whose membership is not active still fails the apply, naming its change, and the ones
    /// before it in the same statement are rolled back.
    func testChangeOfAMembershipThatIsNotActiveFailsTheApplyNamingIt() throws {
        func key(_ scope: String) -> MembershipKey { MembershipKey(user: "amy@example.com", scope: ScopeRef(.account, scope)) }
        func membership(_ scope: String, _ role: String = "viewer") -> EntityValue {
            .membership(MembershipState(key: key(scope), roles: [role], expires: nil))
        }
        let store = try stores.open()
        _ = try store.apply(try plan(store, [Self.role, Self.invite("amy@example.com")] + ["web", "shop"].map {
            Change(action: .grant, type: .membership, id: "amy@example.com@account:\($0)", after: membership($0))
        }), context: context())
        for action in [ChangeAction.revoke, .changeRoles] {
            let changes = ["web", "shop", "gone"].map { scope in
                Change(action: action, type: .membership, id: "amy@example.com@account:\(scope)", before: membership(scope),
                       after: action == .revoke ? nil : membership(scope, "admin"))
            }
            XCTAssertThrowsError(try store.apply(try plan(store, changes), context: context()), "\(action)") { error in
                XCTAssertEqual(error as? StoreError, .inconsistent(.membershipNotActive(id: "amy@example.com@account:gone")))
            }
            XCTAssertEqual(try store.read { db in
                try db.integer("SELECT COUNT(*) FROM memberships WHERE ended_at IS NULL AND roles = 'viewer'")
            }, 2, "\(action): both memberships are as they were")
            XCTAssertEqual(try store.snapshot().store.serial, 1)
        }
    }

    /// Bulk inserts are sent without waiting (`SQLSession.send`: to the server on PostgreSQL, to
    /// a thread of their own on SQLite): a failing one must still fail the transaction, whether
    /// its failure is seen by a later `send` (more than `sendAhead` follow it) or only before the
    /// commit. PostgreSQL would take a `COMMIT` of a failed transaction as a rollback without an
    /// error; SQLite would commit the rows before it.
    func testFailingStatementSentAheadFailsTheTransactionAndCommitsNothing() throws {
        let store = try stores.open()
        let ahead = max(PostgresStore.sendAhead, SQLiteStore.sendAhead)
        for (failing, total) in [(2, 4), (2, ahead + 6)] {
            XCTAssertThrowsError(try store.write { db in
                for index in 0..<total {
                    // The failing statement repeats the first key.
                    try db.send("INSERT INTO meta (key, value) VALUES (?, ?)", rows: [[index == failing ? "ahead-0" : "ahead-\(index)", "v"]])
                }
            }, "statement \(failing) of \(total) failed") { error in
                XCTAssertTrue(error is StoreError, "\(error)")
            }
            XCTAssertEqual(try store.read { db in try db.integer("SELECT COUNT(*) FROM meta WHERE key LIKE 'ahead-%'") }, 0)
        }
        // The connection is usable after each rollback.
        try store.write { db in try db.send("INSERT INTO meta (key, value) VALUES (?, ?), (?, ?)", rows: [["ahead-ok", "v"], ["ahead-2", "w"]]) }
        XCTAssertEqual(try store.read { db in try db.text("SELECT value FROM meta WHERE key = ?", ["ahead-ok"]) }, "v")
    }

    /// Every other statement of a transaction sees the rows sent before it, however many are
    /// still on their way, and so does the next transaction.
    func testStatementsSeeTheRowsSentAheadOfThem() throws {
        let store = try stores.open()
        let total = 3 * max(PostgresStore.sendAhead, SQLiteStore.sendAhead)
        let seen = try store.write { db in
            try (0..<total).map { index -> Int64? in
                try db.send("INSERT INTO meta (key, value) VALUES (?, ?), (?, ?)",
                            rows: [["seen-\(index)-a", "v"], ["seen-\(index)-b", "v"]])
                return try db.integer("SELECT COUNT(*) FROM meta WHERE key LIKE 'seen-%'")
            }
        }
        XCTAssertEqual(seen, (1...total).map { Int64(2 * $0) })
        try store.write { db in
            for index in 0..<total { try db.send("UPDATE meta SET value = ? WHERE key = ?", rows: [["w", "seen-\(index)-a"]]) }
        }
        XCTAssertEqual(try store.read { db in try db.integer("SELECT COUNT(*) FROM meta WHERE value = 'w'") }, Int64(total))
    }

    func testAppliedPlanCommitsChangesAuditAndOutboxTogether() throws {
        let store = try stores.open()
        let outcome = try store.apply(try plan(store, [Self.role, Self.invite("amy@example.com")]), context: context())
        XCTAssertEqual(outcome, ApplyOutcome(serial: 1, applied: 2, messages: 1))
        XCTAssertEqual(try [count(store, "roles"), count(store, "users"), count(store, "invitations"), count(store, "outbox"),
                            count(store, "audit")], [1, 1, 1, 1, 2])
        let message = try XCTUnwrap(try store.pendingMessages(dueBy: nil, after: nil, limit: 10).first)
        XCTAssertEqual(message.recipient.email, "amy@example.com")
        let token = message.token
        XCTAssertEqual(token.count, 43, "32 random bytes, base64url")
        XCTAssertEqual(try store.read { db in try db.first("SELECT token_hash FROM invitations") { try $0.blob(0) } },
                       tokenHash(token))
        XCTAssertEqual(try store.acceptInvitation(token: token, now: now, actor: "amy"), "amy@example.com")
        XCTAssertEqual(try store.verifyAudit(), AuditVerification(records: 3, firstBroken: nil, reason: nil))
    }

    /// One apply's invitations get ascending ids in the order they are issued, so delivery, which
    /// pages through the outbox by `(created_at, id)`, goes in the plan's order (and reads the
    /// outbox page after page).
    func testOneApplysMessagesAreDeliveredInThePlansOrder() throws {
        let store = try stores.open()
        let emails = (0..<12).map { "user\(($0 * 7) % 12)@example.com" }
        _ = try store.apply(try plan(store, [Self.role] + emails.map(Self.invite)), context: context(seed: 9))
        XCTAssertEqual(try store.pendingMessages(dueBy: nil, after: nil, limit: 100).map(\.recipient.email), emails)
    }

    func testEmptyPlanLeavesTheSerialAlone() throws {
        let store = try stores.open()
        XCTAssertEqual(try store.apply(try plan(store, []), context: context()), ApplyOutcome(serial: 0, applied: 0, messages: 0))
        XCTAssertEqual(try count(store, "audit"), 0)
    }

    // MARK: Staleness

    func testPlanMadeAtAnOlderSerialIsStaleAndListsWhatChanged() throws {
        let store = try stores.open()
        let first = try plan(store, [Self.role])
        _ = try store.apply(first, context: context())
        XCTAssertThrowsError(try store.apply(first, context: context(seed: 2))) { error in
            guard case .stalePlan(let planLineage, let planSerial, let lineage, let serial, let since)? = error as? StoreError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(planLineage, lineage)
            XCTAssertEqual([planSerial, serial], [0, 1])
            XCTAssertEqual(since.map { "\($0.serial) \($0.action) \($0.entityType) \($0.entityID)" }, ["1 create role viewer"])
        }
        var foreign = try plan(store, [Self.invite("bo@example.com")])
        foreign.store.lineage = "00000000-0000-4000-8000-000000000000"
        XCTAssertThrowsError(try store.apply(foreign, context: context(seed: 3))) { error in
            XCTAssertTrue("\(error)".contains("another store"), "\(error)")
        }
        XCTAssertEqual(try count(store, "users"), 0)
        XCTAssertEqual(try store.snapshot().store.serial, 1)
    }

    // MARK: The apply lock

    func testHeldLockNamesItsHolderAndIsReleasedEvenWhenTheBodyThrows() throws {
        let first = try stores.open()
        let second = try stores.open()
        let holder = LockHolder(host: "build-3", pid: 77, actor: "ci", since: "2026-11-23T12:00:00Z")
        struct Boom: Error {}
        XCTAssertThrowsError(try first.withApplyLock(holder: holder, timeout: 0) { () throws -> Void in
            XCTAssertThrowsError(try second.withApplyLock(holder: holder, timeout: 0.2) {}) { error in
                XCTAssertEqual(error as? StoreError, .lockHeld(holder: holder))
                XCTAssertTrue("\(error)".contains("ci on build-3 (pid 77) since 2026-11-23T12:00:00Z"), "\(error)")
            }
            throw Boom()
        })
        XCTAssertEqual(try second.withApplyLock(holder: holder, timeout: 0) { 42 }, 42, "released after the throw")
    }

    // MARK: A new store opened by several at once

    func testHandlesOpeningOneNewStoreAtOnceAllSucceedWithOneLineage() throws {
        for round in 0..<10 {
            let count = 8
            let openers = (0..<count).map { stores.opener("race_\(round)", seed: UInt64($0 + 1)) }
            let start = DispatchSemaphore(value: 0)
            let results = Results(count)
            let group = DispatchGroup()
            for index in 0..<count {
                group.enter()
                Thread.detachNewThread {
                    start.wait()
                    do {
                        let store = try openers[index]()
                        results.set(index, .success(try store.snapshot().store.lineage))
                    } catch {
                        results.set(index, .failure("\(error)"))
                    }
                    group.leave()
                }
            }
            for _ in 0..<count { start.signal() }
            group.wait()
            let failures = results.all.compactMap { if case .failure(let e) = $0 { e } else { nil } }
            XCTAssertEqual(failures, [], "round \(round): opening a new store must not fail because another opens it too")
            let lineages = Set(results.all.compactMap { if case .success(let l) = $0 { l } else { nil } })
            XCTAssertLessThanOrEqual(lineages.count, 1, "round \(round): one store, one lineage")
            XCTAssertEqual(try migrations(try stores.open("race_\(round)")), ["v1-directory", "v2-delivery", "v3-events", "v4-reading"])
        }
    }
}

/// Outcomes of concurrent workers.
final class Results: @unchecked Sendable {
    enum Outcome: Equatable { case success(String), failure(String) }
    private let lock = NSLock()
    private var outcomes: [Outcome?]

    init(_ count: Int) { outcomes = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ outcome: Outcome) { lock.withLock { outcomes[index] = outcome } }

    var all: [Outcome] { lock.withLock { outcomes.map { $0 ?? .failure("no result") } } }
}
