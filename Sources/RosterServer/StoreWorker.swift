import Dispatch
import Foundation
import RosterApp
import RosterCore
import RosterStore

/// The one way the server touches its store: every call runs on one serial queue of its own,
/// off the event loops (a store call is synchronous and may wait on the database), one at a
/// time on one store instance, which is not safe to share between threads.
///
/// A store call that fails for the store's own reasons (a PostgreSQL server gone away, a file
/// that cannot be read) drops the instance; the next call opens a fresh one, so the server
/// recovers without a restart when the store comes back.
public final class StoreWorker: @unchecked Sendable {
    // @unchecked: `store` is read and written only on `queue`.
    private let queue = DispatchQueue(label: "roster.serve.store")
    private let open: @Sendable () throws(RosterError) -> any StateStore
    private var store: (any StateStore)?

    /// `open` opens the store (as `StoreLocator.open` does); it is called on the worker's queue,
    /// at the first call and after a failure.
    public init(open: @escaping @Sendable () throws(RosterError) -> any StateStore) {
        self.open = open
    }

    /// Runs `body` with the store on the worker's queue and returns what it returns.
    public func run<T: Sendable>(_ body: @escaping @Sendable (any StateStore) throws(RosterError) -> T) async throws(RosterError) -> T {
        let result: Result<T, RosterError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: self.runHere(body))
            }
        }
        return try result.get()
    }

    private func runHere<T>(_ body: (any StateStore) throws(RosterError) -> T) -> Result<T, RosterError> {
        do throws(RosterError) {
            let current: any StateStore
            if let store {
                current = store
            } else {
                current = try open()
                store = current
            }
            return .success(try body(current))
        } catch {
            if error.httpFailure.status == 503 { store = nil }
            return .failure(error)
        }
    }
}
