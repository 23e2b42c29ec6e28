import Crypto
import Foundation
import RosterCore
import RosterManifest
import RosterStore

/// A failure a command reports on stderr with an exit status (SPEC §4.4).
struct CommandFailure: Error {
    var status: ExitStatus
    var message: String

    static func runtime(_ message: String) -> CommandFailure { CommandFailure(status: .runtimeError, message: message) }
    static func refused(_ message: String) -> CommandFailure { CommandFailure(status: .refused, message: message) }
}

/// The files of a project, loaded and valid, with what plan and apply need from them.
struct Project {
    var manifest: Manifest
    var environment: Environment
    /// The desired state, built on another core while the files are validated.
    private var desiredState: Background<DesiredDirectory>

    /// Loads and validates; prints diagnostics to stderr and fails with exit 3 when invalid.
    static func load(options: GlobalOptions, in environment: Environment) throws -> Project {
        guard let configPath = ManifestLoader.findConfig(explicit: options.config, from: environment.workingDirectory) else {
            try report(loadAndValidate(options: options, in: environment), environment: environment)
            preconditionFailure("a missing roster.yaml is an error")
        }
        let today = Day(containing: environment.now())
        let manifest = ManifestLoader(displayBase: environment.workingDirectory).load(configPath: configPath)
        // Built from what loaded, valid or not (it never traps), and dropped when validation fails.
        let desired = Background { DesiredDirectory(config: manifest.config, directory: manifest.directory, today: today) }
        let validated = validate(manifest, today: today, lookBackFrom: environment.workingDirectory) { emails in
            storedUsers(emails, manifest: manifest, options: options, environment: environment)
        }
        environment.releaseAtExit(desired.value())
        try report(validated, environment: environment)
        return Project(manifest: manifest, environment: environment, desiredState: desired)
    }

    /// Prints the diagnostics to stderr; fails with exit 3 when there are errors.
    private static func report(_ checked: CheckedManifest, environment: Environment) throws {
        environment.releaseAtExit(checked)
        environment.stderr.write(TextReporter(color: false).renderDiagnostics(checked.diagnostics))
        if checked.diagnostics.hasErrors {
            throw CommandFailure(status: .invalidFiles,
                                 message: "the files are invalid (\(plural(checked.diagnostics.filter(\.isError).count, "error"))); "
                                    + "fix them and run again ('roster validate' lists them)")
        }
    }

    /// The users among `emails` (lower-cased) that an existing SQLite store holds.
    ///
    /// Only a store that already exists is read: failing validation must not create one. A
    /// PostgreSQL store is not asked (opening it creates its schema); git still is.
    private static func storedUsers(_ emails: Set<String>, manifest: Manifest, options: GlobalOptions,
                                    environment: Environment) -> [String: FormerUser] {
        guard let path = sqlitePath(stateURL(options: options, config: manifest.config, environment: environment),
                                    root: manifest.root), !path.isEmpty,
              let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber, size.intValue > 0,
              let snapshot = try? SQLiteStore(path: path, random: environment.random).snapshot() else { return [:] }
        var found: [String: FormerUser] = [:]
        for key in emails {
            if let user = snapshot.state.users[key] { found[key] = FormerUser(email: user.email, source: .store) }
        }
        return found
    }

    var config: Config { manifest.config }

    /// The desired state as of today.
    func desired() -> DesiredDirectory {
        desiredState.value()
    }

    /// The digest of the files and the commit they are at.
    func desiredInfo() -> DesiredInfo {
        DesiredInfo(digest: filesDigest([manifest.configFile] + manifest.files, base: environment.workingDirectory),
                    commit: gitCommit(in: manifest.root))
    }

    func planner() -> Planner {
        Planner(config: config, now: environment.now())
    }
}

/// SHA-256 over each file's shown path and bytes, in order; relative paths are read below `base`.
func filesDigest(_ files: [String], base: String) -> String {
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

/// The store's URL: `--state`, else `ROSTER_STATE`, else roster.yaml's `state`, else
/// `sqlite:.roster/state.db`.
func stateURL(options: GlobalOptions, config: Config?, environment: Environment) -> String {
    options.state ?? environment.variables["ROSTER_STATE"].flatMap { $0.isEmpty ? nil : $0 }
        ?? config?.state ?? "sqlite:.roster/state.db"
}

/// The file of a `sqlite:PATH` URL (a relative path is relative to `root`, the folder of
/// roster.yaml); nil for another kind of URL, "" when it names no file.
func sqlitePath(_ url: String, root: String) -> String? {
    guard url.hasPrefix("sqlite:") else { return nil }
    var path = String(url.dropFirst("sqlite:".count))
    if path.hasPrefix("//") { path.removeFirst(2) }
    guard !path.isEmpty else { return "" }
    return path.hasPrefix("/") ? path : root + "/" + path
}

/// Opens the store at `stateURL`, creating it when new.
func openStore(options: GlobalOptions, config: Config?, root: String, environment: Environment) throws -> any StateStore {
    let url = stateURL(options: options, config: config, environment: environment)
    if let path = sqlitePath(url, root: root) {
        guard !path.isEmpty else { throw CommandFailure(status: .usage, message: "the state URL 'sqlite:' names no file") }
        let isNew = !FileManager.default.fileExists(atPath: path)
        do {
            let store = try SQLiteStore(path: path, random: environment.random)
            if isNew {
                // Say so: a mistyped --state or ROSTER_STATE would otherwise plan "create everything".
                environment.stderr.write("note: created a new, empty store at \(path)\n")
            }
            return store
        } catch {
            throw CommandFailure.runtime("\(error)")
        }
    }
    if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
        do {
            let location = try PostgresLocation(url: url, environment: environment.variables)
            let store = try PostgresStore(location: location, random: environment.random)
            if store.isNew {
                environment.stderr.write("note: created a new, empty store at \(store.displayURL)\n")
            }
            return store
        } catch StoreError.badURL(let detail) {
            throw CommandFailure(status: .usage, message: detail)
        } catch {
            throw CommandFailure.runtime("\(error)")
        }
    }
    throw CommandFailure(status: .usage,
                         message: "unknown state URL '\(PostgresLocation.mask(url))'; use sqlite:PATH or postgres://user@host:5432/db")
}

/// The commit checked out in the repository that holds `folder`, when there is one.
func gitCommit(in folder: String) -> String? {
    Git(folder: folder).commit("HEAD")
}

/// Who is applying: `--actor`, else the CI's user, else the OS user.
func resolveActor(_ explicit: String?, environment: Environment) -> String {
    if let explicit, !explicit.isEmpty { return explicit }
    for variable in ["GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR", "USER", "LOGNAME"] {
        if let value = environment.variables[variable], !value.isEmpty { return value }
    }
    return "unknown"
}
