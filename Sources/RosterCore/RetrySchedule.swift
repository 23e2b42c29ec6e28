import Foundation

/// When a failed delivery is tried again (SPEC §6.2): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
/// 10 h after the failures, each ±20 %, so 8 attempts in all. Invitation messages are then
/// `failed`; events are never given up on and go on every 10 h.
public enum RetrySchedule {
    /// The waits after the 1st … 7th failed attempt, in seconds.
    public static let waits: [TimeInterval] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]
    /// Attempts a message gets before it is `failed`.
    public static let attempts = waits.count + 1

    /// The time of the next attempt after `attempt` (1-based) failed at `now`; nil when that was
    /// the last one. A receiver's `retryAfter` replaces the wait when it is longer.
    public static func next(afterAttempt attempt: Int, at now: Date, retryAfter: TimeInterval?, jitter: Double,
                            forever: Bool = false) -> Date? {
        let index = attempt - 1
        let base: TimeInterval
        if index < waits.count {
            base = waits[max(0, index)]
        } else if forever {
            base = waits[waits.count - 1]
        } else {
            return nil
        }
        return now.addingTimeInterval(max(base * jitter, retryAfter ?? 0))
    }

    /// A factor in 0.8 ..< 1.2 from `random`.
    public static func jitter(_ random: any RandomSource) -> Double {
        let bytes = random.bytes(4)
        let value = bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return 0.8 + 0.4 * Double(value) / 4_294_967_296.0
    }
}
