import Foundation

/// Runs git in a folder; the small part of git roster needs for `diff` and commit ids.
public struct Git: Sendable {
    public let folder: String

    public init(folder: String) {
        self.folder = folder
    }

    public struct Failure: Error {
        public var message: String
    }

    /// Runs `git ARGS`, returning stdout; throws with git's stderr when it fails.
    @discardableResult
    public func run(_ arguments: [String], stdoutTo file: FileHandle? = nil) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", folder] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = file ?? output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw Failure(message: "cannot run git: \(error.localizedDescription)")
        }
        // stdout is read to its end first; git's error output is small, so its pipe cannot fill.
        let data = file == nil ? output.fileHandleForReading.readDataToEndOfFile() : Data()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errorData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure(message: text.isEmpty ? "git \(arguments.joined(separator: " ")) failed" : text)
        }
        return data
    }

    public func text(_ arguments: [String]) throws -> String {
        String(decoding: try run(arguments), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The top folder of the repository, or nil when `folder` is not in one.
    public var topLevel: String? { try? text(["rev-parse", "--show-toplevel"]) }

    /// The full commit id `revision` names, or nil when it names none.
    public func commit(_ revision: String) -> String? {
        try? text(["rev-parse", "--verify", "--quiet", "--end-of-options", revision + "^{commit}"])
    }

    /// Writes the files of `path` (relative to the top) at `commit` below `destination`.
    public func extract(commit: String, path: String, into destination: String) throws {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        let archive = destination + ".tar"
        _ = FileManager.default.createFile(atPath: archive, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: archive) else { throw Failure(message: "cannot write \(archive)") }
        defer {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: archive)
        }
        try run(["archive", "--format=tar", commit, "--", path.isEmpty ? "." : path], stdoutTo: handle)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-xf", archive, "-C", destination]
        try tar.run()
        tar.waitUntilExit()
        guard tar.terminationStatus == 0 else { throw Failure(message: "cannot unpack the files of \(commit)") }
    }
}
