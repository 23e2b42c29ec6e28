import Dispatch
import Foundation

/// A store that a long-running, concurrent process (`roster serve`) shares between its requests.
///
/// Each call gets a `StateStore` to itself for its duration and runs on a thread where blocking
/// is fine, never on an event loop: SQLite's `DatabasePool` (readers side by side with the one
/// writer, WAL) or a connection leased from PostgreSQL's pool, so a session advisory lock taken
/// by one call is held on a connection no other call uses. The SQL is `SQLStore`'s either way.
public protocol SharedStore: AnyObject, Sendable {
    /// Where the store is, safe to print (passwords masked).
    var displayURL: String { get }

    /// Runs `body` with a store for it alone, off the caller's thread, and returns what it returns.
    func withStore<T: Sendable>(_ body: @escaping @Sendable (any StateStore) throws -> T) async throws -> T

    /// Closes the store's connections; calls after it fail.
    func shutdown() async
}

/// The threads store calls block on: a concurrent queue of its own, so a call waiting for a lock
/// or a slow statement holds up neither the event loops nor Swift's cooperative threads (two,
/// on a 2-core machine), and calls run side by side as far as the store lets them.
enum BlockingCalls {
    private static let queue = DispatchQueue(label: "roster.store.calls", qos: .userInitiated, attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await result(body).get()
    }

    /// What `body` returned or threw.
    static func result<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async -> Result<T, any Error> {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: Result { try body() }) }
        }
    }
}

extension SQLiteStore: SharedStore {
    /// The store itself: GRDB's `DatabasePool` is safe to share, serialising the writer and
    /// running readers side by side; the apply and delivery locks are `flock`s on descriptors
    /// each call opens, which exclude each other within one process too.
    public func withStore<T: Sendable>(_ body: @escaping @Sendable (any StateStore) throws -> T) async throws -> T {
        try await BlockingCalls.run { try body(self) }
    }

    public func shutdown() async {}
}
