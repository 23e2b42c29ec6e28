import Foundation
import Logging
import RosterApp
import RosterCore
import RosterStore
import ServiceLifecycle

/// Keeps the view in step with the store: a cheap `status()` read at most once per interval,
/// and a new snapshot only when the lineage, serial or last audit `seq` moved, so an apply by
/// another process is seen within about a second. `refresh()` also runs at once after the
/// server's own writes.
public actor ViewRefresher: Service {
    let worker: StoreWorker
    let state: ServerState
    let catalogue: Catalogue
    let interval: Duration
    let logger: Logger

    public init(worker: StoreWorker, state: ServerState, catalogue: Catalogue, interval: Duration = .seconds(1), logger: Logger) {
        self.worker = worker
        self.state = state
        self.catalogue = catalogue
        self.interval = interval
        self.logger = logger
    }

    /// Reads the store's snapshot and builds a view of it (the first before the server listens).
    /// Building resolves every user's access, a second or so at 100,000 users: it runs on the
    /// store call's thread with the read, never on an event loop.
    public static func load(worker: StoreWorker, catalogue: Catalogue) async throws(RosterError) -> DirectoryView {
        try await worker.run { store throws(RosterError) in
            let (status, snapshot) = try storeCall { (try store.status(), try store.snapshot()) }
            return DirectoryView(snapshot: snapshot, status: status, catalogue: catalogue)
        }
    }

    /// Checks the store's position and rebuilds the view when it moved; false when the store
    /// did not answer (the server then answers 503 until it does).
    @discardableResult
    public func refresh() async -> Bool {
        do throws(RosterError) {
            let current = state.view.status
            let status = try await worker.run { store throws(RosterError) in try storeCall { try store.status() } }
            guard status != current else {
                state.markStore(answering: true)
                return true
            }
            state.install(try await Self.load(worker: worker, catalogue: catalogue))
            return true
        } catch {
            if state.storeAnswers { logger.warning("store unreachable", metadata: ["error": "\(error.httpFailure.code)"]) }
            state.markStore(answering: false)
            return false
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            // The wait between checks ends at shutdown too, not a whole interval later.
            try? await cancelWhenGracefulShutdown { [interval] in
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    await self.refresh()
                }
            }
        } onGracefulShutdown: { [state] in
            state.beginShutdown()
        }
    }
}
