import RosterCore
import XCTest

/// Runs every rule example and checks that its diagnostic has the right code, file, line and column.
final class RuleExampleTests: XCTestCase {
    func testBaseProjectIsClean() throws {
        let project = try TestProject(files: ["roster.yaml": TestProject.baseConfig,
                                              "directory/base.yaml": TestProject.baseDirectory])
        defer { project.remove() }
        let (_, diagnostics) = project.validate()
        XCTAssertEqual(diagnostics, [])
    }

    func testEveryExamplePointsAtItsMarker() throws {
        for (index, example) in ruleExamples.enumerated() {
            var files = example.extraFiles
            files["directory/base.yaml"] = TestProject.baseDirectory
            var marked: (file: String, line: Int, column: Int)?
            for (path, text) in [("roster.yaml", example.config ?? TestProject.baseConfig),
                                 ("directory/case.yaml", example.document)] {
                guard let text else { continue }
                let (clean, marker) = Self.stripMarker(text)
                files[path] = clean
                if let marker { marked = (path, marker.line, marker.column) }
            }
            let project = try TestProject(files: files)
            defer { project.remove() }
            let (_, diagnostics) = project.validate()
            let context = "example #\(index) [\(example.code.rawValue)]:\n"
                + diagnostics.map { "  \($0.location): \($0.message) [\($0.code.rawValue)]" }.joined(separator: "\n")
            guard let marked else {
                XCTFail("\(context)\nhas no ↓ marker")
                continue
            }
            let expected = SourceLocation(file: marked.file, line: marked.line, column: marked.column)
            XCTAssertTrue(diagnostics.contains { $0.code == example.code && $0.location == expected },
                          "\(context)\nexpected [\(example.code.rawValue)] at \(expected)")
            XCTAssertEqual(diagnostics.hasErrors, example.code.severity == .error, context)
            if let expected = example.expected {
                XCTAssertEqual(Self.render(diagnostics), expected + "\n", "example #\(index) [\(example.code.rawValue)]")
            }
        }
    }

    /// Every code a file can trigger has an example, so a new rule cannot ship without one.
    func testEveryCodeHasAnExample() {
        let elsewhere: Set<DiagnosticCode> = [.configNotFound, .unreadableFile, .fileTooLarge]
        let covered = Set(ruleExamples.map(\.code))
        for code in DiagnosticCode.allCases where !elsewhere.contains(code) {
            XCTAssertTrue(covered.contains(code), "no rule example for [\(code.rawValue)]")
        }
    }

    /// Diagnostics as `roster validate` prints them in text: one line each, notes after.
    static func render(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.map { diagnostic in
            "\(diagnostic.location): \(diagnostic.severity.rawValue): \(diagnostic.message) [\(diagnostic.code.rawValue)]\n"
                + diagnostic.notes.map { "\($0.location): note: \($0.message)\n" }.joined()
        }.joined()
    }

    /// Removes the `↓` and returns the 1-based line and column of the character after it.
    static func stripMarker(_ text: String) -> (String, (line: Int, column: Int)?) {
        var line = 1
        var column = 1
        var output = ""
        var marker: (line: Int, column: Int)?
        for character in text {
            if character == "↓" {
                marker = (line, column)
                continue
            }
            output.append(character)
            if character == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (output, marker)
    }
}

/// docs/diagnostics.md documents every code, and nothing else.
final class DiagnosticDocsTests: XCTestCase {
    func testEveryCodeIsDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/diagnostics.md"), encoding: .utf8)
        var documented: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            documented[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = cells[1]
        }
        for code in DiagnosticCode.allCases {
            XCTAssertEqual(documented[code.rawValue], code.severity.rawValue, "docs/diagnostics.md row for \(code.rawValue)")
        }
        XCTAssertEqual(documented.count, DiagnosticCode.allCases.count, "docs list codes that do not exist")
    }
}
