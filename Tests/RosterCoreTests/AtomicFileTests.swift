@testable import RosterCore
import Foundation
import XCTest

/// A file written with `AtomicFile` appears whole or not at all, and nothing is left beside it.
final class AtomicFileTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "atomic-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func write(_ name: String, _ chunks: [String], mode: mode_t = 0o600,
                       whileWriting: () -> Void = {}) throws(AtomicFile.Failure) {
        let path = folder + "/" + name
        try AtomicFile.write(path, temporary: path + ".tmp", mode: mode) { write in
            for chunk in chunks { write(Array(chunk.utf8)) }
            whileWriting()
        }
    }

    private func contents(_ name: String) throws -> String {
        try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
    }

    private func entries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    }

    func testNewFileHasItsBytesAndMode() throws {
        let old = umask(0o022)
        defer { umask(old) }
        var seenWhileWriting: [String] = []
        try write("a.eml", ["Subject: hi\r\n", "\r\n", "body\r\n"]) { seenWhileWriting = (try? entries()) ?? ["?"] }
        XCTAssertEqual(try contents("a.eml"), "Subject: hi\r\n\r\nbody\r\n")
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: folder + "/a.eml")[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600)
        XCTAssertEqual(try entries(), ["a.eml"])
        #if os(Linux)
        // Written unnamed: neither the file nor a temporary name is in the folder until complete.
        XCTAssertEqual(seenWhileWriting, [])
        #else
        XCTAssertEqual(seenWhileWriting, ["a.eml.tmp"])
        #endif
    }

    func testReplacesAnExistingFileWhole() throws {
        try write("plan.json", ["{\"old\": true}"])
        try write("plan.json", ["{\"new\":", " true}"]) {
            XCTAssertEqual(try? contents("plan.json"), "{\"old\": true}", "the old copy stays until the new one is complete")
        }
        XCTAssertEqual(try contents("plan.json"), "{\"new\": true}")
        XCTAssertEqual(try entries(), ["plan.json"])
    }

    /// A crash of an earlier version can leave the temporary name behind; it is written over.
    func testWritesOverATemporaryFileLeftBehind() throws {
        try write("m.eml", ["first"])
        try "half".write(toFile: folder + "/m.eml.tmp", atomically: false, encoding: .utf8)
        try write("m.eml", ["second"])
        XCTAssertEqual(try contents("m.eml"), "second")
        XCTAssertEqual(try entries(), ["m.eml"])
        try "half".write(toFile: folder + "/n.eml.tmp", atomically: false, encoding: .utf8)
        try write("n.eml", ["new"])
        XCTAssertEqual(try contents("n.eml"), "new")
    }

    func testAMissingFolderNamesThePathAndTheReason() {
        let path = folder + "/missing/a.eml"
        XCTAssertThrowsError(try AtomicFile.write(path, temporary: path + ".tmp", mode: 0o600) { write in write([1]) }) { error in
            let description = (error as? AtomicFile.Failure)?.description ?? ""
            XCTAssertTrue(description.contains(folder + "/missing/a.eml"), description)
            XCTAssertTrue(description.hasSuffix("No such file or directory"), description)
        }
        XCTAssertEqual(try entries(), [])
    }
}
