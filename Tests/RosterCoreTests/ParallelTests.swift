@testable import RosterCore
import XCTest

/// Work split over threads comes back whole and in order, whatever the scheduling.
final class ParallelTests: XCTestCase {
    func testSplitsInOrder() {
        XCTAssertEqual(Parallel.split(10, into: 3), [0..<3, 3..<6, 6..<10])
        XCTAssertEqual(Parallel.split(2, into: 1), [0..<2])
        XCTAssertEqual(Parallel.split(0, into: 1), [0..<0])
        XCTAssertEqual(Parallel.parts(for: 0), 1)
        XCTAssertEqual(Parallel.parts(for: 1), 1)
        let numbers = Dictionary(uniqueKeysWithValues: (0..<1_000).map { ($0, $0 * 2) })
        let slices = Parallel.split(numbers, into: 7)
        XCTAssertEqual(slices.count, 7)
        XCTAssertEqual(slices.flatMap { $0.map(\.key) }, numbers.map(\.key))
    }

    func testMapKeepsPartOrder() {
        XCTAssertEqual(Parallel.map(50) { $0 * $0 }, (0..<50).map { $0 * $0 })
        XCTAssertEqual(Parallel.map(1) { _ in Int?.none }, [nil])
        XCTAssertEqual(Parallel.map(3) { $0 == 1 ? nil : $0 }, [0, nil, 2])
        XCTAssertEqual(Parallel.map(0) { $0 }, [])
    }

    /// Sorted runs of every length (empty ones, one longer than the rest, an odd count of runs)
    /// merge into what sorting them all gives, and equal elements keep the runs' order.
    func testMergesSortedRuns() {
        var random = SeededRandomSource(seed: 42)
        for count in [0, 1, 2, 3, 7, 8, 32] {
            let runs = (0..<count).map { run in
                (0..<Int.random(in: 0...(run == 0 ? 500 : 60), using: &random)).map { _ in
                    Int.random(in: 0..<100, using: &random)
                }.sorted()
            }
            XCTAssertEqual(Parallel.merge(sorted: runs), runs.flatMap { $0 }.sorted(), "\(count) runs")
        }
        let tagged = [[Tagged(key: 1, run: 0), Tagged(key: 2, run: 0)], [Tagged(key: 1, run: 1)], [Tagged(key: 1, run: 2)]]
        XCTAssertEqual(Parallel.merge(sorted: tagged).map(\.run), [0, 1, 2, 0])
    }

    /// Values made in parts, one per core, are each found under their user, whichever part the
    /// user's hash picked; a user no part holds has none.
    func testUserPartsFindEveryUsersValues() {
        let pairs = (0..<5_000).map { (user: "user\($0 % 1_700)@example.com", value: $0) }
        let expected = Dictionary(grouping: pairs, by: \.user).mapValues { $0.map(\.value) }
        for users in [1, expected.count] {
            let parts = UserParts<[Int]>(users: users) { includes in
                Dictionary(grouping: pairs.filter { includes($0.user) }, by: \.user).mapValues { $0.map(\.value) }
            }
            for (user, values) in expected { XCTAssertEqual(parts[user], values, "\(user), parts for \(users) users") }
            XCTAssertNil(parts["nobody@example.com"])
        }
    }
}

/// Ordered by `key` alone, so which run an element came from shows whether ties kept their order.
private struct Tagged: Comparable, Sendable {
    var key: Int
    var run: Int
    static func < (lhs: Tagged, rhs: Tagged) -> Bool { lhs.key < rhs.key }
    static func == (lhs: Tagged, rhs: Tagged) -> Bool { lhs.key == rhs.key && lhs.run == rhs.run }
}
