import Foundation
import RosterApp
import RosterCore
import RosterStore

/// The steps most commands share, with what they tell the user on stderr.
extension CommonOptions {
    /// Loads and validates the project; prints its diagnostics (warnings too) to stderr and
    /// fails with exit 3 when any is an error.
    func project(_ environment: Environment) throws(RosterError) -> Project {
        let load = loader(environment).load(locator: locator(environment))
        environment.releaseAtExit(load)
        environment.stderr.write(TextReporter(color: false).renderDiagnostics(load.diagnostics))
        return try load.valid()
    }

    /// The existing SQLite file that roster.yaml alone names (when it is valid), for a command to
    /// open while the files still load and validate; nil for a new file or another kind of store.
    func existingSQLiteFile(_ environment: Environment) -> String? {
        loader(environment).validSettings()
            .flatMap { locator(environment).existingSQLiteFile(config: $0.config, root: $0.root) }
    }

    /// Whether the loaded `project` names the SQLite file `path` (roster.yaml could have been edited
    /// since `existingSQLiteFile` read it).
    func names(_ path: String, _ project: Project, _ environment: Environment) -> Bool {
        StoreLocator.sqlitePath(locator(environment).url(config: project.config), root: project.root) == path
    }

    /// Opens the store (creating it when new) and says so when it is new or readable by others.
    func openStore(config: Config?, root: String, _ environment: Environment) throws(RosterError) -> any StateStore {
        let opened = try locator(environment).open(config: config, root: root)
        if opened.created {
            // Say so: a mistyped --state or ROSTER_STATE would otherwise plan "create everything".
            environment.stderr.write("note: created a new, empty store at \(opened.store.displayURL)\n")
        }
        if let fix = opened.exposure { warnExposed(opened.store.displayURL, fix: fix, environment) }
        return opened.store
    }

    /// Says that the store at `url` can be read by other local users, and how to stop that.
    func warnExposed(_ url: String, fix: String, _ environment: Environment) {
        environment.stderr.write("warning: the store \(url) can be read by other users of this machine, and "
                                 + "undelivered invitations hold tokens; run: \(fix)\n")
    }

    /// roster.yaml alone (the files need not be valid: these commands work on the store) and its store.
    func settingsAndStore(_ environment: Environment) throws(RosterError) -> (ProjectSettings, any StateStore) {
        let settings = loader(environment).settings()
        return (settings, try openStore(config: settings.config, root: settings.root, environment))
    }
}
