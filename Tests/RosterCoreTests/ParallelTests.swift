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
}
