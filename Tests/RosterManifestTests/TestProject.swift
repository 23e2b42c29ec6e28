import Foundation
import RosterCore
@testable import RosterManifest

/// A throwaway project on disk: roster.yaml plus files, removed by `remove()`.
struct TestProject {
    let root: String

    static let baseConfig = """
    version: 1
    sources: [directory]
    permissions:
      streams: [create, read, update, delete]
      billing: [read, update]

    """

    /// A valid directory with no warnings: one role, two users, one customer.
    static let baseDirectory = """
    kind: Role
    id: viewer
    permissions: {streams: [read]}
    ---
    kind: User
    email: alice@acme.example
    ---
    kind: User
    email: bob@acme.example
    ---
    kind: Customer
    id: acme
    owner: alice@acme.example
    members:
      - user: bob@acme.example
        roles: [viewer]

    """

    /// Writes `files` (path → text) below a new temporary folder; a path ending in `/` is a folder.
    init(files: [String: String]) throws {
        root = FileManager.default.temporaryDirectory.path + "/roster-test-" + UUID().uuidString
        for (path, text) in files {
            let full = root + "/" + path
            if path.hasSuffix("/") {
                try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
                continue
            }
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
    }

    /// Loads and validates the project as `roster validate` does, on a fixed day.
    func validate(today: Day = Day(year: 2026, month: 11, day: 23)) -> (Manifest, [Diagnostic]) {
        let manifest = ManifestLoader(displayBase: root).load(configPath: root + "/roster.yaml")
        var validator = Validator(config: manifest.config, directory: manifest.directory, today: today)
        validator.checkReferences = !manifest.isIncomplete
        return (manifest, (manifest.diagnostics + validator.run()).sorted())
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}
