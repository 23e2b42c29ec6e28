import Foundation

/// Work that runs on another thread while this one does something else.
///
/// Plan reads the store (a second of SQLite on a large directory) while the files load, and
/// digests the files while it builds the desired state; apply builds it while reading the store.
public final class Background<Value: Sendable>: @unchecked Sendable {
    // `result` is written once, by the worker, before it signals `done`; read only after waiting.
    private let done = DispatchSemaphore(value: 0)
    private var result: Value?

    /// Starts `body` on another thread.
    public init(_ body: @escaping @Sendable () -> Value) {
        DispatchQueue.global(qos: .userInitiated).async {
            self.result = body()
            self.done.signal()
        }
    }

    /// The value of `body`, waiting for it when it is not ready yet.
    public func value() -> Value {
        done.wait()
        done.signal()  // for the next caller
        guard let result else { preconditionFailure("Background finished without a value") }
        return result
    }
}

/// Runs async work to its end from synchronous code (a command), on the cooperative pool.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    Task.detached {
        box.value = await body()
        done.signal()
    }
    done.wait()
    guard let value = box.value else { preconditionFailure("runBlocking finished without a value") }
    return value
}

private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
