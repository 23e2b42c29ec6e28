import ArgumentParser
import Foundation
import RosterApp
import RosterCore

/// `roster export --out DIR`: the stored directory as YAML files.
struct ExportCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the stored directory as YAML files: roles.yaml, users.yaml, customers/ID.yaml.",
        discussion: """
        Sorted and byte-deterministic; inactive users, customers and accounts are kept with \
        'status: inactive', ended memberships are left out. Point roster.yaml's sources at DIR and \
        'roster plan' shows no changes: the way to adopt a store's contents into git, or to move a \
        directory to a new store. Refuses a non-empty DIR unless --force, which replaces the files \
        an export writes and leaves anything else alone.

        Examples:
          roster export --out directory
          roster export --out /tmp/snapshot --state postgres://roster@db.internal/directory --force
        """)

    @OptionGroup var options: GlobalOptions<TextOnly>
    @Option(help: ArgumentHelp("The folder to write into.", valueName: "dir")) var out: String
    @Flag(help: "Write into a non-empty folder, replacing the files of an earlier export.") var force = false

    func run(in environment: Environment) throws -> ExitStatus {
        let (settings, store) = try options.settingsAndStore(environment)
        let snapshot = try storeCall { try store.snapshot() }
        let export = try DirectoryExport(snapshot: snapshot, storeURL: store.displayURL, limits: settings.config.limits)
        environment.releaseAtExit(snapshot)
        try export.write(to: environment.app.absolute(out), force: force)
        environment.stdout.write("Exported \(plural(snapshot.state.users.count, "user")), "
            + "\(plural(snapshot.state.customers.count, "customer")) and \(plural(snapshot.state.accounts.count, "account")) "
            + "to \(out) (\(plural(export.files.count, "file"))); point roster.yaml's sources at it.\n")
        return .success
    }
}
