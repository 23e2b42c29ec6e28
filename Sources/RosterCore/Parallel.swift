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
