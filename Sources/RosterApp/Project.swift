import Crypto
import Foundation
import RosterCore
import RosterManifest
import RosterStore

/// A project read and checked: the manifest and every diagnostic, sorted.
public struct CheckedManifest: Sendable {
    public var manifest: Manifest
    public var diagnostics: [Diagnostic]
}

/// roster.yaml alone: what the commands that work on the store need from the project.
public struct ProjectSettings: Sendable {
    public var config: Config
    /// The folder of roster.yaml (relative paths in it are relative to this).
    public var root: String
}

/// Finds roster.yaml (`--config`, else `./roster.yaml`, else the nearest one above) and loads
/// it; reports problems as diagnostics, never on a stream.
public struct ProjectLoader: Sendable {
    /// `--config`, when given.
    public var configOption: String?
    public var environment: AppEnvironment

    public init(configOption: String?, environment: AppEnvironment) {
        self.configOption = configOption
        self.environment = environment
    }

    public func findConfig() -> String? {
        ManifestLoader.findConfig(explicit: configOption, from: environment.workingDirectory)
    }

    /// roster.yaml without the directory's documents (the files need not be valid); defaults
    /// when there is none.
    public func settings() -> ProjectSettings {
        let manifest = findConfig().map {
            ManifestLoader(displayBase: environment.workingDirectory).load(configPath: $0, documents: false)
        }
        let root = manifest.map(\.root).flatMap { $0.isEmpty ? nil : $0 } ?? environment.workingDirectory
        return ProjectSettings(config: manifest?.config ?? Config(), root: root)
    }

    /// roster.yaml alone and its diagnostics, for a command that needs valid settings but not
    /// the documents (`roster serve`); nil settings when there is no roster.yaml.
    public func checkedSettings() -> (settings: ProjectSettings?, diagnostics: [Diagnostic]) {
        guard let path = findConfig() else { return (nil, check().diagnostics) }
        let manifest = ManifestLoader(displayBase: environment.workingDirectory).load(configPath: path, documents: false)
        return (ProjectSettings(config: manifest.config, root: manifest.root), manifest.diagnostics.sorted())
    }

    /// roster.yaml alone when it has no errors; nil otherwise (a plan then loads it all and reports).
    public func validSettings() -> ProjectSettings? {
        guard let path = findConfig() else { return nil }
        let manifest = ManifestLoader(displayBase: environment.workingDirectory).load(configPath: path, documents: false)
        guard !manifest.diagnostics.hasErrors else { return nil }
        return ProjectSettings(config: manifest.config, root: manifest.root)
    }

    /// Every file loaded and every rule run as of today.
    public func check() -> CheckedManifest {
        guard let configPath = findConfig() else {
            let diagnostic = Diagnostic(.configNotFound(searched: environment.workingDirectory), at: .file("roster.yaml"))
            return CheckedManifest(manifest: Manifest(configFile: "roster.yaml", root: environment.workingDirectory),
                                   diagnostics: [diagnostic])
        }
        return Self.check(configPath: configPath, displayBase: environment.workingDirectory,
                          today: Day(containing: environment.now()), lookBack: true)
    }

    /// Loads the project at `configPath` and runs every validation rule as of `today`.
    ///
    /// With `lookBack`, an undeclared owner or member that the files at HEAD declared is reported
    /// as removed (git is asked only when there is one).
    public static func check(configPath: String, displayBase: String, today: Day, lookBack: Bool = false) -> CheckedManifest {
        validate(ManifestLoader(displayBase: displayBase).load(configPath: configPath), today: today,
                 lookBackFrom: lookBack ? displayBase : nil)
    }

    /// Runs every validation rule on a loaded project as of `today`.
    ///
    /// `lookBackFrom` (the display base) asks git about undeclared owners and members, as
    /// `check` says; `stored` then finds those git did not among the store's users.
    public static func validate(_ manifest: Manifest, today: Day, lookBackFrom displayBase: String? = nil,
                                stored: ((Set<String>) -> [String: FormerUser])? = nil) -> CheckedManifest {
        var validator = Validator(config: manifest.config, directory: manifest.directory, today: today)
        validator.checkReferences = !manifest.isIncomplete
        var found = validator.run()
        // Only an invalid directory pays for the look back: valid files are validated once.
        if let displayBase, found.contains(where: { $0.code == .unknownUser }) {
            let undeclared = FormerUsers.undeclared(in: manifest.directory)
            var former = FormerUsers.find(undeclared, for: manifest, displayBase: displayBase)
            let rest = undeclared.subtracting(former.keys)
            if !rest.isEmpty, let stored {
                former.merge(stored(rest)) { git, _ in git }
            }
            if !former.isEmpty {
                validator.formerUsers = former
                found = validator.run()
            }
        }
        let diagnostics = (manifest.diagnostics + found).sorted()
        return CheckedManifest(manifest: manifest, diagnostics: diagnostics)
    }

    /// The users among `emails` (lower-cased) that an existing SQLite store holds.
    ///
    /// Only a store that already exists is read: failing validation must not create one. A
    /// PostgreSQL store is not asked (opening it creates its schema); git still is.
    private func storedUsers(_ emails: Set<String>, manifest: Manifest, locator: StoreLocator) -> [String: FormerUser] {
        guard let path = locator.existingSQLiteFile(config: manifest.config, root: manifest.root),
              let snapshot = try? SQLiteStore(path: path, random: environment.random).snapshot() else { return [:] }
        var found: [String: FormerUser] = [:]
        for key in emails {
            if let user = snapshot.state.users[key] { found[key] = FormerUser(email: user.email, source: .store) }
        }
        return found
    }

    /// Loads and validates the whole project. The diagnostics come back as values (warnings
    /// too); the project is nil when any is an error.
    /// `locator` finds the store whose users name a removed owner or member.
    public func load(locator: StoreLocator? = nil) -> ProjectLoad {
        guard let configPath = findConfig() else { return ProjectLoad(diagnostics: check().diagnostics, project: nil) }
        let now = environment.now()
        let today = Day(containing: now)
        let manifest = ManifestLoader(displayBase: environment.workingDirectory).load(configPath: configPath)
        // Built from what loaded, valid or not (it never traps), while the files are validated.
        let desired = Background { DesiredDirectory(config: manifest.config, directory: manifest.directory, today: today) }
        let checked = Self.validate(manifest, today: today, lookBackFrom: environment.workingDirectory) { emails in
            locator.map { storedUsers(emails, manifest: manifest, locator: $0) } ?? [:]
        }
        _ = desired.value()
        let project = checked.diagnostics.hasErrors ? nil
            : Project(manifest: manifest, displayBase: environment.workingDirectory, now: now, desiredState: desired)
        return ProjectLoad(diagnostics: checked.diagnostics, project: project, checked: checked)
    }
}

/// What loading a project found: its diagnostics, and the project when it is valid.
public struct ProjectLoad: Sendable {
    public var diagnostics: [Diagnostic]
    public var project: Project?
    /// The manifest and diagnostics, kept for whoever must free them late (the CLI's exit).
    public var checked: CheckedManifest?

    init(diagnostics: [Diagnostic], project: Project?, checked: CheckedManifest? = nil) {
        self.diagnostics = diagnostics
        self.project = project
        self.checked = checked
    }

    /// The project, or `RosterError.invalidFiles` naming how many errors there are.
    public func valid() throws(RosterError) -> Project {
        guard let project else { throw .invalidFiles(errors: diagnostics.filter(\.isError).count) }
        return project
    }
}

/// The files of a valid project, with what plan and apply need from them.
public struct Project: Sendable {
    public var manifest: Manifest
    /// Paths in diagnostics and digests are shown relative to this folder.
    public var displayBase: String
    /// When the project was loaded: the plan's clock.
    public var now: Date
    /// The desired state, built on another core while the files were validated.
    let desiredState: Background<DesiredDirectory>

    public var config: Config { manifest.config }
    public var root: String { manifest.root }

    /// The desired state as of today.
    public func desired() -> DesiredDirectory {
        desiredState.value()
    }

    /// The digest of the files and the commit they are at.
    public func desiredInfo() -> DesiredInfo {
        DesiredInfo(digest: filesDigest([manifest.configFile] + manifest.files, base: displayBase),
                    commit: Git(folder: manifest.root).commit("HEAD"))
    }

    /// `adopt`: plan adopting the users it would invite (`--adopt`).
    public func planner(adopt: Bool = false) -> Planner {
        Planner(config: config, now: now, adopt: adopt)
    }
}

/// SHA-256 over each file's shown path and bytes, in order; relative paths are read below `base`.
public func filesDigest(_ files: [String], base: String) -> String {
    var hasher = SHA256()
    let root = URL(fileURLWithPath: base)
    for file in files {
        hasher.update(data: Data(file.utf8))
        hasher.update(data: Data([0]))
        let url = file.hasPrefix("/") ? URL(fileURLWithPath: file) : root.appendingPathComponent(file)
        hasher.update(data: (try? Data(contentsOf: url)) ?? Data())
        hasher.update(data: Data([0]))
    }
    return hex(hasher.finalize())
}
