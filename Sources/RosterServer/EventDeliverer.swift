import Foundation
import Logging
import RosterApp
import RosterCore

/// Sends new events to the endpoints after the server's own writes, as a command does after
/// its commit, without holding up the answer or any other request: a run is a store call of its
/// own (its own thread and, on PostgreSQL, its own connection and delivery lock).
///
/// One run at a time, and none lost: an accept while a run is under way asks for one more after
/// it, so every event committed before `deliver()` is sent by a run that began after it. (Two
/// runs at once would not help: the second would find the delivery lock held and leave.) A
/// failure is retried by the next run or by `roster deliver`.
final class EventDeliverer: @unchecked Sendable {
    // @unchecked: `running` and `again` are read and written under `lock`.
    private let lock = NSLock()
    private var running = false
    private var again = false
    private let worker: StoreWorker
    private let options: ServeOptions
    private let logger: Logger

    init(worker: StoreWorker, options: ServeOptions, logger: Logger) {
        self.worker = worker
        self.options = options
        self.logger = logger
    }

    /// Starts a run, or asks the current one for another after it.
    func deliver() {
        let start: Bool = lock.withLock {
            if running {
                again = true
                return false
            }
            running = true
            return true
        }
        if start { Task.detached { await self.runUntilCaughtUp() } }
    }

    /// Waits until no run is under way or asked for (tests).
    func idle() async {
        while lock.withLock({ running }) { try? await Task.sleep(for: .milliseconds(10)) }
    }

    private func runUntilCaughtUp() async {
        let config = options.config, root = options.root, environment = options.environment
        repeat {
            do throws(RosterError) {
                try await worker.run { store throws(RosterError) in
                    _ = try DeliveryService(store: store, config: config, root: root, environment: environment)
                        .deliver(invitations: false)
                }
            } catch {
                logger.warning("event delivery stopped; 'roster deliver' retries", metadata: ["error": "\(error.httpFailure.code)"])
            }
        } while lock.withLock({
            if again {
                again = false
                return true
            }
            running = false
            return false
        })
    }
}
