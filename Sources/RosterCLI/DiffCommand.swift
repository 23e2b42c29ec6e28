import ArgumentParser
import Foundation
import RosterApp
import RosterCore
import RosterManifest

/// `roster diff --from REV [--to REV]`: the changes and access delta between two revisions of
/// the files, without any store (SPEC §8).
struct DiffCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show the changes and the access delta between two git revisions of the files, without the store.",
        discussion: """
        Loads the files at --from and at --to (default: the working tree) and plans from the one to the \
        other, as if the store held exactly the --from files. Never opens or creates a store, so a pull \
        request from a fork or a reviewer without credentials sees who gains and loses what. Problems in \
        the files are reported as REV:path:line:col. Exit 0, 3 when the files are invalid at either revision, \
        64 when a revision does not exist.

        Examples:
          roster diff --from origin/main
          roster diff --from HEAD~3 --to HEAD --format markdown
        """
    )

    @OptionGroup var options: GlobalOptions<PlanFormats>

    @Option(help: ArgumentHelp("The revision to compare from (a commit, branch or tag).", valueName: "rev"))
    var from: String

    @Option(help: ArgumentHelp("The revision to compare to (default: the working tree).", valueName: "rev"))
    var to: String?

    func run(in environment: Environment) throws -> ExitStatus {
        guard let configPath = ManifestLoader.findConfig(explicit: options.config, from: environment.workingDirectory),
              let realConfig = realPath(configPath) else {
            throw RosterError.configNotFound(searched: environment.workingDirectory)
        }
        let configFolder = (realConfig as NSString).deletingLastPathComponent
        let configName = (realConfig as NSString).lastPathComponent
        let git = Git(folder: configFolder)
        guard let top = git.topLevel.flatMap(realPath) else {
            throw RosterError.notInRepository(folder: configFolder)
        }
        let folderInRepo = relative(configFolder, to: top) ?? ""
        let cwdInRepo = realPath(environment.workingDirectory).flatMap { relative($0, to: top) }
        let today = Day(containing: environment.now())

        let scratch = FileManager.default.temporaryDirectory.path + "/roster-diff-" + hex(environment.random.bytes(8))
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        /// The files at `revision` (the working tree when nil), checked, with their digest.
        func load(_ revision: String?, label: String) throws -> (checked: CheckedManifest, digest: String) {
            guard let revision else {
                let checked = ProjectLoader.check(configPath: realConfig, displayBase: environment.workingDirectory, today: today)
                return (checked, filesDigest([checked.manifest.configFile] + checked.manifest.files,
                                             base: environment.workingDirectory))
            }
            guard let commit = commits[revision] ?? git.commit(revision) else {
                throw RosterError.unknownRevision(revision: revision, repository: top)
            }
            let tree = scratch + "/" + label
            do {
                try Git(folder: top).extract(commit: commit, path: folderInRepo, into: tree)
            } catch let failure as Git.Failure {
                throw RosterError.cannotReadRevision(revision: revision, reason: failure.message)
            }
            let base = cwdInRepo.map { $0.isEmpty ? tree : tree + "/" + $0 } ?? tree
            commits[revision] = commit
            var checked = ProjectLoader.check(configPath: tree + (folderInRepo.isEmpty ? "" : "/" + folderInRepo) + "/" + configName,
                                        displayBase: base, today: today)
            let digest = filesDigest([checked.manifest.configFile] + checked.manifest.files, base: base)
            // Name the revision in every location, git's REV:path way.
            checked.diagnostics = checked.diagnostics.map { diagnostic in
                var named = diagnostic
                named.location.file = "\(revision):\(diagnostic.location.file)"
                named.notes = diagnostic.notes.map { note in
                    var n = note
                    n.location.file = "\(revision):\(note.location.file)"
                    return n
                }
                return named
            }
            checked.manifest.files = checked.manifest.files.map { "\(revision):\($0)" }
            return (checked, digest)
        }

        var commits: [String: String] = [:]
        let old = try load(from, label: "from").checked
        let (new, digest) = try load(to, label: "to")
        // Errors at either revision; warnings only where the review lands, at --to.
        let diagnostics = (old.diagnostics.filter(\.isError) + new.diagnostics).sorted()
        environment.stderr.write(TextReporter(color: false).renderDiagnostics(diagnostics))
        if diagnostics.hasErrors {
            throw RosterError.invalidFilesAt(revisions: [old.diagnostics.hasErrors ? from : nil,
                                                         new.diagnostics.hasErrors ? (to ?? "the working tree") : nil].compactMap { $0 })
        }
        let before = DesiredDirectory(config: old.manifest.config, directory: old.manifest.directory, today: today)
        let after = DesiredDirectory(config: new.manifest.config, directory: new.manifest.directory, today: today)
        // The store as if the --from files had been applied and every invitation accepted.
        let snapshot = Snapshot(store: .revision(commits[from] ?? from),
                                state: before.state, everAccepted: Set(before.state.users.keys))
        let info = DesiredInfo(digest: digest, commit: to.flatMap { commits[$0] } ?? git.commit("HEAD"))
        let plan = Planner(config: new.manifest.config, now: environment.now())
            .plan(desired: after, snapshot: snapshot, info: info)
        writePlan(plan, options: options, environment: environment, command: "roster diff")
        return .success
    }

    /// `path` relative to `base` ("" when equal), or nil when outside it.
    private func relative(_ path: String, to base: String) -> String? {
        if path == base { return "" }
        return path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : nil
    }
}
