import Foundation
import RosterCore
@testable import RosterManifest
import XCTest

final class ManifestLoaderTests: XCTestCase {
    /// Files are read in short runs on every core; whatever finishes first, the documents and the
    /// problems come back in the files' order, as if they had been read one after another. The
    /// files differ in size, a folder of large ones last, as a real directory's users are.
    func testDocumentsAndProblemsComeBackInFileOrder() throws {
        var files = ["roster.yaml": TestProject.baseConfig]
        var expected: [String] = []
        var broken: [String] = []
        for index in 0..<100 {
            // 00 … 79 small files, then 80 … 99 of 400 users each.
            let users = index < 80 ? 1 : 400
            let name = String(format: "directory/%@/file%02d.yaml", index < 80 ? "a" : "b", index)
            let emails = (0..<users).map { String(format: "user%02d-%03d@example.com", index, $0) }
            expected += emails
            var text = emails.map { "kind: User\nemail: \($0)\n" }.joined(separator: "---\n")
            if index % 17 == 5 {
                text += "---\nkind: User\nemail: [unclosed\n"
                broken.append(name)
            }
            files[name] = text
        }
        let project = try TestProject(files: files)
        defer { project.remove() }

        let manifest = ManifestLoader(displayBase: project.root).load(configPath: project.root + "/roster.yaml")

        XCTAssertEqual(manifest.files, files.keys.filter { $0 != "roster.yaml" }.sorted())
        XCTAssertEqual(manifest.directory.users.map(\.email.value), expected)
        XCTAssertEqual(manifest.diagnostics.map(\.code), Array(repeating: .yamlSyntax, count: broken.count))
        XCTAssertEqual(manifest.diagnostics.map { $0.location.file }, broken)
    }
}
