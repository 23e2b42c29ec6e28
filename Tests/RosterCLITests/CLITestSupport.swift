import Foundation
import RosterCLI
import RosterCore
import XCTest

/// The result of running roster in-process.
struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Folders the tests read from, found from this file's path.
enum Paths {
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static func fixture(_ name: String) -> String { testsFolder + "/Fixtures/" + name }
}

/// Runs `roster ARGS` in `directory` with buffered output and a fixed clock (2026-11-23).
///
/// `random` supplies tokens, ids and a new store's lineage (pass one `SeededRandomSource` to
/// every call of a test so they are reproducible and never repeat); `stdinIsTerminal` and
/// `input` simulate a terminal answering the lines given, in order.
func roster(_ arguments: [String], in directory: String, variables: [String: String] = [:],
            terminal: Bool = false, now: Date = Date(timeIntervalSince1970: 1_795_435_200),
            random: any RandomSource = SystemRandomSource(), stdinIsTerminal: Bool = false,
            input: [String] = []) -> RunResult {
    let out = TextSink()
    let err = TextSink()
    let lines = InputLines(input)
    let environment = Environment(workingDirectory: directory, variables: variables, stdout: out, stderr: err,
                                  stdoutIsTerminal: terminal, now: { now }, random: random,
                                  stdinIsTerminal: stdinIsTerminal, readLine: { lines.next() })
    let status = runRoster(arguments, in: environment)
    return RunResult(status: status, stdout: out.text, stderr: err.text)
}

/// Lines a simulated terminal types, one per `readLine`; nil once they run out.
final class InputLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String]

    init(_ lines: [String]) {
        self.lines = lines
    }

    func next() -> String? {
        lock.lock()
        defer { lock.unlock() }
        return lines.isEmpty ? nil : lines.removeFirst()
    }
}

/// Compares `actual` with the golden file `Golden/NAME`. `ROSTER_RECORD=1` rewrites the file
/// and still fails the test (naming the file), so a variable left set can never turn the
/// suite green: record, review the diff, then run again without it.
func assertGolden(_ actual: String, named name: String, file: StaticString = #filePath, line: UInt = #line) {
    let path = Paths.testsFolder + "/Golden/" + name
    if ProcessInfo.processInfo.environment["ROSTER_RECORD"] == "1" {
        try? FileManager.default.createDirectory(atPath: Paths.testsFolder + "/Golden", withIntermediateDirectories: true)
        let previous = try? String(contentsOfFile: path, encoding: .utf8)
        XCTAssertNoThrow(try actual.write(toFile: path, atomically: true, encoding: .utf8))
        XCTFail("recorded golden file \(name)\(previous == actual ? " (unchanged)" : ""); review it and run the tests "
                + "again without ROSTER_RECORD", file: file, line: line)
        return
    }
    guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
        XCTFail("golden file \(name) is missing; run the tests with ROSTER_RECORD=1 to record it", file: file, line: line)
        return
    }
    guard expected != actual else { return }
    let expectedLines = expected.components(separatedBy: "\n")
    let actualLines = actual.components(separatedBy: "\n")
    var diff: [String] = []
    for index in 0..<max(expectedLines.count, actualLines.count) {
        let e = index < expectedLines.count ? expectedLines[index] : nil
        let a = index < actualLines.count ? actualLines[index] : nil
        if e != a {
            if let e { diff.append("-\(index + 1): \(e)") }
            if let a { diff.append("+\(index + 1): \(a)") }
        }
    }
    XCTFail("output differs from golden file \(name) (ROSTER_RECORD=1 re-records):\n"
            + diff.prefix(40).joined(separator: "\n"), file: file, line: line)
}
