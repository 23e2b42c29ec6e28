import Foundation

/// Failed invitation accepts per client address (SPEC §12): after `allowed` failures within
/// `window`, the address is refused (429) until that window has passed, so tokens cannot be
/// guessed. A success does not reset the count: a guesser with one real token gains nothing.
public final class RateLimiter: @unchecked Sendable {
    // @unchecked: `failures` is read and written under `lock`.
    private let lock = NSLock()
    private var failures: [String: (count: Int, since: Date)] = [:]
    let allowed: Int
    let window: TimeInterval
    let now: @Sendable () -> Date

    public init(allowed: Int = 5, window: TimeInterval = 60, now: @escaping @Sendable () -> Date = { Date() }) {
        self.allowed = allowed
        self.window = window
        self.now = now
    }

    /// Seconds until `client` may try again; nil when it may now.
    func refusal(for client: String) -> Int? {
        lock.withLock {
            guard let entry = failures[client] else { return nil }
            let end = entry.since.addingTimeInterval(window)
            let now = now()
            if now >= end {
                failures[client] = nil
                return nil
            }
            return entry.count >= allowed ? max(1, Int(end.timeIntervalSince(now).rounded(.up))) : nil
        }
    }

    func recordFailure(for client: String) {
        lock.withLock {
            let now = now()
            if let entry = failures[client], now < entry.since.addingTimeInterval(window) {
                failures[client] = (entry.count + 1, entry.since)
            } else {
                failures[client] = (1, now)
            }
            // A flood of addresses must not grow the table without bound: forget the expired.
            if failures.count > 10_000 {
                failures = failures.filter { now < $0.value.since.addingTimeInterval(window) }
            }
        }
    }
}
