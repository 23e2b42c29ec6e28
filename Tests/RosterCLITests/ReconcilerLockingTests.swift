import Foundation
import RosterCore
@testable import RosterStore
import XCTest

/// SPEC §5.2: one apply at a time per store; a held lock is reported with its holder, waited
/// for with --lock-timeout, and concurrent applies never corrupt the store.
final class ReconcilerLockingTests: XCTestCase {
    static let holder = LockHolder(host: "ci-runner-7", pid: 4242, actor: "deploy-bot", since: "2026-11-23T11:59:00Z")

    func testHeldLockIsReportedWithItsHolderAndNothingChanges() throws {
        let ws = try Workspace()
        XCTAssertEqual(ws.run(["plan"]).status, 0, "creates the store")
        let before = try ws.dump()
        let result = try ws.store().withApplyLock(holder: Self.holder, timeout: 0) {
            ws.run(["apply", "--auto-approve"])
        }
        XCTAssertEqual(result.status, 4)
        XCTAssertTrue(result.stderr.contains("locked by another apply: deploy-bot on ci-runner-7 (pid 4242) since 2026-11-23T11:59:00Z"),
                      result.stderr)
        XCTAssertEqual(try ws.dump(), before)
        // Released: the next apply goes through.
        try ws.applyAndConverge()
        XCTAssertEqual(try ws.serial(), 1)
    }

    /// An apply on an existing SQLite store takes the lock while the files load: invalid files are
    /// still reported as such (exit 3) rather than as the held lock, and change nothing.
    func testInvalidFilesAreReportedBeforeAHeldLock() throws {
        let ws = try Workspace()
        XCTAssertEqual(ws.run(["plan"]).status, 0, "creates the store")
        let before = try ws.dump()
        try ws.write("directory/broken.yaml", "kind: User\nemail: [unclosed\n")
        for extra in [[], ["--lock-timeout", "1s"]] {
            let result = try ws.store().withApplyLock(holder: Self.holder, timeout: 0) {
                ws.run(["apply", "--auto-approve"] + extra)
            }
            XCTAssertEqual(result.status, 3, result.stderr)
            XCTAssertTrue(result.stderr.contains("directory/broken.yaml:"), result.stderr)
            XCTAssertFalse(result.stderr.contains("locked by another apply"), result.stderr)
        }
        XCTAssertEqual(try ws.dump(), before)
    }

    /// Holds the store's apply lock on another thread for `seconds`, as another apply would;
    /// returns once it is held, with a semaphore signalled when it is released.
    func holdApplyLock(_ ws: Workspace, for seconds: TimeInterval) -> DispatchSemaphore {
        let locked = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let open = ws.storeOpener
        Thread.detachNewThread {
            let store = try? open()
            _ = try? store?.withApplyLock(holder: Self.holder, timeout: 0) {
                locked.signal()
                Thread.sleep(forTimeInterval: seconds)
            }
            done.signal()
        }
        locked.wait()
        return done
    }

    func testLockTimeoutWaitsForARelease() throws {
        let ws = try Workspace()
        XCTAssertEqual(ws.run(["plan"]).status, 0)
        let done = holdApplyLock(ws, for: 1.0)
        let started = Date()
        let result = ws.run(["apply", "--auto-approve", "--lock-timeout", "3s"])
        let waited = Date().timeIntervalSince(started)
        done.wait()
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertGreaterThan(waited, 0.5, "it waited for the holder")
        XCTAssertEqual(try ws.serial(), 1)
        XCTAssertEqual(ws.run(["audit", "verify"]).status, 0)
    }

    func testResendAndRevokeWaitForAnApplyToFinish() throws {
        let ws = try Quickstart.applied(accepted: false)
        let done = holdApplyLock(ws, for: 1.0)
        let started = Date()
        let resend = ws.run(["invitations", "resend", "dan@partner.example"])
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 0.5, "resend advances the serial: it waits for the apply")
        done.wait()
        XCTAssertEqual(resend.status, 0, resend.stderr)
        XCTAssertEqual(try ws.serial(), 2)
    }

    func testLockTimeoutGivesUpWhenTheLockIsHeldLonger() throws {
        let ws = try Workspace()
        XCTAssertEqual(ws.run(["plan"]).status, 0)
        let started = Date()
        let result = try ws.store().withApplyLock(holder: Self.holder, timeout: 0) {
            ws.run(["apply", "--auto-approve", "--lock-timeout", "1s"])
        }
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 0.9)
        XCTAssertEqual(result.status, 4)
        XCTAssertTrue(result.stderr.contains("deploy-bot on ci-runner-7"), result.stderr)
        XCTAssertEqual(try ws.serial(), 0)
    }

    /// Runs `count` applies at once, each with its own store handle, random source and outputs.
    func concurrentApplies(_ ws: Workspace, count: Int, arguments: @escaping @Sendable (Int) -> [String]) -> [RunResult] {
        let results = ResultBox(count)
        let root = ws.root
        let now = ws.now
        let variables = (0..<count).map { ws.variables(actor: "worker-\($0)") }
        DispatchQueue.concurrentPerform(iterations: count) { index in
            results[index] = roster(arguments(index), in: root, variables: variables[index], now: now,
                                    random: SeededRandomSource(seed: UInt64(1000 + index)))
        }
        return results.values
    }

    func testConcurrentAppliesApplyOnceAndLeaveAConsistentStore() throws {
        let ws = try Workspace()
        XCTAssertEqual(ws.run(["plan"]).status, 0, "the store exists before the race")
        for round in 1...3 {
            if round > 1 {
                try ws.edit(Quickstart.otherUsers, round == 2 ? "name: Dan Partner" : "name: Daniel Partner",
                            round == 2 ? "name: Daniel Partner" : "name: Dan Partner")
            }
            let results = concurrentApplies(ws, count: 6) { index in
                ["apply", "--auto-approve"] + (index % 2 == 0 ? ["--lock-timeout", "30s"] : [])
            }
            let applied = results.filter { $0.stdout.contains("Apply complete") }
            XCTAssertEqual(applied.count, 1, "round \(round): exactly one apply applies\n"
                           + results.map { "\($0.status): \($0.stderr)" }.joined(separator: "\n"))
            for result in results where !result.stdout.contains("Apply complete") {
                let waitedAndFoundNothing = result.status == 0 && result.stdout.contains("No changes.")
                let reportedTheLock = result.status == 4 && result.stderr.contains("locked by another apply")
                XCTAssertTrue(waitedAndFoundNothing || reportedTheLock, "round \(round): \(result.status) \(result.stderr)")
            }
            XCTAssertEqual(try ws.serial(), round)
            XCTAssertEqual(lines(try ws.plan()), [])
        }
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM audit"), 27, "25 changes, then one update per round")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM invitations"), 6, "each user invited once")
        XCTAssertEqual(try ws.messages().count, 6)
        let verify = ws.run(["audit", "verify"])
        XCTAssertEqual(verify.status, 0, verify.stderr)
        XCTAssertEqual(verify.stdout, "The audit log is intact: 27 records verified.\n")
    }

    func testSeveralApplyProcessesAtOnceApplyEachChangeOnce() throws {
        let ws = try Workspace()
        let count = 5
        let outputs = (0..<count).map { _ in (out: Pipe(), err: Pipe()) }
        let processes = try outputs.enumerated().map { index, pipes in
            try BigApply.startApply(in: ws, arguments: ["apply", "--auto-approve", "--lock-timeout", "60s",
                                                        "--actor", "pipeline-\(index)"],
                                    stdout: pipes.out.fileHandleForWriting, stderr: pipes.err.fileHandleForWriting)
        }
        var results: [RunResult] = []
        for (process, pipes) in zip(processes, outputs) {
            process.waitUntilExit()
            try pipes.out.fileHandleForWriting.close()
            try pipes.err.fileHandleForWriting.close()
            results.append(RunResult(status: process.terminationStatus,
                                     stdout: String(decoding: pipes.out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
                                     stderr: String(decoding: pipes.err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)))
        }
        let report = results.map { "\($0.status): \($0.stdout.suffix(200)) \($0.stderr)" }.joined(separator: "\n")
        XCTAssertEqual(results.map(\.status), Array(repeating: 0, count: count), "each waited its turn:\n" + report)
        XCTAssertEqual(results.filter { $0.stdout.contains("Apply complete: 25 changes applied") }.count, 1, report)
        XCTAssertEqual(results.filter { $0.stdout.contains("No changes.") }.count, count - 1,
                       "the others planned after the first committed, and found nothing left:\n" + report)
        XCTAssertEqual(try ws.serial(), 1)
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM audit"), 25, "each change applied once")
        XCTAssertEqual(try ws.int("SELECT COUNT(*) FROM invitations"), 6, "each user invited once")
        XCTAssertEqual(try ws.messages().count, 6)
        XCTAssertEqual(ws.run(["audit", "verify"]).status, 0)
    }

    func testConcurrentAppliesOnANewStoreNeitherFailNorCorrupt() throws {
        for attempt in 1...10 {
            let ws = try Workspace(seed: UInt64(attempt))
            let results = concurrentApplies(ws, count: 4) { _ in ["apply", "--auto-approve", "--lock-timeout", "30s"] }
            XCTAssertEqual(results.filter { $0.stdout.contains("Apply complete") }.count, 1,
                           "attempt \(attempt): " + results.map { "\($0.status): \($0.stderr)" }.joined(separator: "\n"))
            XCTAssertEqual(results.map(\.status), [0, 0, 0, 0],
                           "attempt \(attempt): the first use of a store must not fail a concurrent apply\n"
                           + results.map { "\($0.status): \($0.stderr)" }.joined(separator: "\n"))
            XCTAssertEqual(try ws.serial(), 1)
            XCTAssertEqual(ws.run(["audit", "verify"]).status, 0)
        }
    }
}

/// Results written by concurrent workers, each to its own slot.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [RunResult?]

    init(_ count: Int) {
        slots = Array(repeating: nil, count: count)
    }

    subscript(index: Int) -> RunResult? {
        get { lock.withLock { slots[index] } }
        set { lock.withLock { slots[index] = newValue } }
    }

    var values: [RunResult] {
        lock.withLock { slots.map { $0 ?? RunResult(status: -1, stdout: "", stderr: "no result") } }
    }
}
