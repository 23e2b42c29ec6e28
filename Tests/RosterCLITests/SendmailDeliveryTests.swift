import Foundation
import RosterCore
@testable import RosterDelivery
import XCTest

/// The sendmail channel's process handling, on its own (no store).
final class SendmailDeliveryTests: XCTestCase {
    func channel(_ command: String, timeout: Int) throws -> SendmailDelivery {
        try SendmailDelivery(settings: SendmailSettings(command: command, timeout: timeout), sender: nil, searchPath: nil)
    }

    /// `run(input:)` on another thread; nil when it has not returned within `seconds`.
    func outcome(of channel: SendmailDelivery, input: Data, within seconds: Int) -> DeliveryOutcome? {
        let done = DispatchSemaphore(value: 0)
        let box = OutcomeBox()
        DispatchQueue.global().async {
            box.outcome = channel.run(input: input)
            done.signal()
        }
        return done.wait(timeout: .now() + .seconds(seconds)) == .timedOut ? nil : box.outcome
    }

    func testACommandThatNeverReadsABigMessageIsStoppedAtTheTimeout() throws {
        // A message larger than a pipe holds, to a command that hangs without reading it.
        let started = Date()
        let result = outcome(of: try channel("/bin/sleep 30", timeout: 1), input: Data(repeating: 65, count: 1_000_000), within: 15)
        XCTAssertEqual(result, .temporaryFailure(reason: "'/bin/sleep' did not finish within 1 s and was stopped", retryAfter: nil))
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testACommandThatExitsWithoutReadingItsInputIsJudgedByItsExit() throws {
        let result = outcome(of: try channel("/bin/true", timeout: 5), input: Data(repeating: 65, count: 1_000_000), within: 15)
        XCTAssertEqual(result, .delivered, "no SIGPIPE, no hang")
        let failed = outcome(of: try channel("/bin/false", timeout: 5), input: Data(repeating: 65, count: 1_000_000), within: 15)
        XCTAssertEqual(failed, .permanentFailure(reason: "'/bin/false' exited with 1"))
    }

    func testAChattyCommandIsReadWhileItRunsAndItsErrorIsBounded() throws {
        // 1 MB on stderr: more than a pipe holds, so it must be read while the command runs.
        let result = outcome(of: try channel("/bin/sh -c 'head -c 1000000 /dev/zero | tr \"\\\\0\" x >&2; exit 75'", timeout: 10),
                             input: Data("x".utf8), within: 15)
        guard case .temporaryFailure(let reason, nil)? = result else { return XCTFail("\(String(describing: result))") }
        XCTAssertTrue(reason.hasPrefix("'/bin/sh' exited with 75: xxxx"), reason)
        XCTAssertLessThan(reason.count, 2100, "the reason keeps the first 2000 bytes")
    }
}

private final class OutcomeBox: @unchecked Sendable {
    var outcome: DeliveryOutcome?
}
