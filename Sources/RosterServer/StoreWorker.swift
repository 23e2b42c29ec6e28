import Foundation
import RosterApp
import RosterCore
import RosterStore

/// The one way the server touches its store: a `SharedStore` (SQLite's `DatabasePool`, or a
/// PostgreSQL pool that lends each call its own connection), so calls run side by side on
/// threads of their own, off the event loops, and a slow one (an accept waiting for the writer,
/// an event delivery) holds up no other.
///
/// The store is opened at the first call, and again at the next call after opening failed;
/// once open, it recovers by itself (the PostgreSQL pool reconnects when its server is back).
public final class StoreWorker: @unchecked Sendable {
    // @unchecked: `store` is read and written under `lock`.
    private let lock = NSLock()
    private let open: @Sendable () throws(RosterError) -> any SharedStore
    private var store: (any SharedStore)?

    /// `open` opens the store (as `StoreLocator.openShared` does); it is called off the caller's
    /// thread, at the first call and after a failed open.
    public init(open: @escaping @Sendable () throws(RosterError) -> any SharedStore) {
        self.open = open
    }

    /// Runs `body` with a store of its own for the call, and returns what it returns.
    public func run<T: Sendable>(_ body: @escaping @Sendable (any StateStore) throws(RosterError) -> T) async throws(RosterError) -> T {
        let shared = try await opened()
        do {
            return try await shared.withStore { store in
                try Result<T, RosterError> { () throws(RosterError) in try body(store) }.get()
            }
        } catch let error as RosterError {
            throw error
        } catch let error as StoreError {
            throw .store(error)
        } catch {
            throw .store(.database("\(error)"))
        }
    }

    /// Closes the store's connections (at the end of `roster serve`).
    public func shutdown() async {
        let store = lock.withLock { self.store }
        await store?.shutdown()
    }

    private func opened() async throws(RosterError) -> any SharedStore {
        if let store = lock.withLock({ store }) { return store }
        let result: Result<any SharedStore, RosterError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: self.lock.withLock {
                    // Another call may have opened it while this one waited for the lock.
                    if let store = self.store { return .success(store) }
                    do throws(RosterError) {
                        let store = try self.open()
                        self.store = store
                        return .success(store)
                    } catch {
                        return .failure(error)
                    }
                })
            }
        }
        return try result.get()
    }
}
