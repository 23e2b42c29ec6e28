import Foundation

/// Work split into parts that run at the same time on the processor's cores.
///
/// Reading and comparing a large directory is mostly waiting for memory; two cores halve it.
/// Results come back in part order, so the outcome does not depend on the scheduling.
public enum Parallel {
    /// Parts to split `items` into: a few per core, so a core that finishes early takes another.
    /// Small inputs are split too (a thread costs microseconds), so tests run the same code.
    public static func parts(for items: Int) -> Int {
        max(1, min(items, ProcessInfo.processInfo.activeProcessorCount * 4))
    }

    /// `body(0)`, …, `body(count - 1)`, run concurrently; the results in part order.
    public static func map<T: Sendable>(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
        guard count > 1 else { return count == 1 ? [body(0)] : [] }
        let results = Slots<T>(count: count)
        DispatchQueue.concurrentPerform(iterations: count) { part in
            results.store(body(part), at: part)
        }
        return results.values
    }

    /// `items.map(transform)`, the parts of `items` transformed at the same time; the results in
    /// the items' order.
    public static func map<T: Sendable, U: Sendable>(_ items: [T], _ transform: @Sendable (T) -> U) -> [U] {
        let parts = split(items, into: parts(for: items.count))
        return map(parts.count) { parts[$0].map(transform) }.joinedExactly()
    }

    /// `transform` of the parts of `items`, `window` items at a time, the parts of each window
    /// transformed at the same time; `body` gets the results in the items' order, so at most a
    /// window's results are held at once (a first plan's lines and JSON). A part is a slice of
    /// `items`, with its indices.
    public static func windows<T: Sendable, U: Sendable>(_ items: [T], of window: Int,
                                                         _ transform: @Sendable (ArraySlice<T>) -> U,
                                                         _ body: (U) -> Void) {
        for start in stride(from: 0, to: items.count, by: window) {
            let slice = items[start..<min(items.count, start + window)]
            let parts = split(slice, into: parts(for: slice.count))
            map(parts.count) { transform(parts[$0]) }.forEach(body)
        }
    }

    /// Sorted runs merged into one sorted array, the pairs of each round merged at the same time
    /// (a run's elements come before equal ones of the runs after it). With runs sorted on every
    /// core this halves a large sort: sorting the 300,000 memberships of a first plan on one core
    /// was a fifth of its planning.
    public static func merge<T: Comparable & Sendable>(sorted runs: [[T]]) -> [T] {
        var runs = runs
        while runs.count > 1 {
            let round = runs
            runs = map((round.count + 1) / 2) { (pair: Int) -> [T] in
                let left = round[2 * pair]
                return 2 * pair + 1 < round.count ? merge(left, round[2 * pair + 1]) : left
            }
        }
        return runs.first ?? []
    }

    /// Two sorted arrays as one, the first's elements before equal ones of the second.
    static func merge<T: Comparable>(_ first: [T], _ second: [T]) -> [T] {
        var merged: [T] = []
        merged.reserveCapacity(first.count + second.count)
        var i = 0
        var j = 0
        while i < first.count, j < second.count {
            if second[j] < first[i] {
                merged.append(second[j])
                j += 1
            } else {
                merged.append(first[i])
                i += 1
            }
        }
        merged.append(contentsOf: first[i...])
        merged.append(contentsOf: second[j...])
        return merged
    }

    /// The bounds of `count` nearly equal consecutive parts of `0..<total`.
    public static func split(_ total: Int, into count: Int) -> [Range<Int>] {
        (0..<count).map { part in (total * part / count)..<(total * (part + 1) / count) }
    }

    /// `count` nearly equal consecutive slices of `collection` (a dictionary, say).
    public static func split<C: Collection>(_ collection: C, into count: Int) -> [C.SubSequence] {
        var slices: [C.SubSequence] = []
        var start = collection.startIndex
        for part in split(collection.count, into: count) {
            let end = collection.index(start, offsetBy: part.count)
            slices.append(collection[start..<end])
            start = end
        }
        return slices
    }

    /// One result per part, each stored once by the thread that computed it.
    private final class Slots<T: Sendable>: @unchecked Sendable {
        // The lock makes each store visible to the thread that reads `values` afterwards.
        private let lock = NSLock()
        private var slots: [T?]

        init(count: Int) {
            slots = Array(repeating: nil, count: count)
        }

        func store(_ value: T, at index: Int) {
            lock.withLock { slots[index] = value }
        }

        /// Every result; read after `concurrentPerform` has returned, when all are stored.
        var values: [T] {
            lock.withLock {
                slots.map { slot in
                    guard let slot else { preconditionFailure("a part of Parallel.map stored no result") }
                    return slot
                }
            }
        }
    }
}

/// Values by user key, made on every core: each part holds the users whose key's hash picks it,
/// so the parts are made at the same time from the same input, and a lookup reads one part.
///
/// The access delta's memberships by user and the invitations' grants by user, half a second
/// each on one core for a first plan of 100,000 users.
struct UserParts<Value: Sendable>: Sendable {
    private let parts: [[String: Value]]

    /// `make(includes)` makes one part from the users for whom `includes` is true. Every part
    /// reads the whole input, so `users`, how many users the parts can hold at most, chooses how
    /// many: one per core, one for fewer than 1,024 users (one user's access, a small change).
    init(users: Int, _ make: @Sendable (_ includes: (String) -> Bool) -> [String: Value]) {
        let count = max(1, min(users / 1024 + 1, ProcessInfo.processInfo.activeProcessorCount))
        parts = Parallel.map(count) { part in make { Self.part(of: $0, in: count) == part } }
    }

    subscript(user: String) -> Value? {
        parts[Self.part(of: user, in: parts.count)][user]
    }

    private static func part(of user: String, in count: Int) -> Int {
        count == 1 ? 0 : Int(UInt(bitPattern: user.hashValue) % UInt(count))
    }
}
