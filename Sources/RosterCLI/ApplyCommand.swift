import ArgumentParser
import Foundation
import RosterCore
import RosterApp
import RosterStore

extension Rail: ExpressibleByArgument {}

/// `roster apply`: apply a fresh or saved plan in one transaction.
struct ApplyCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply the plan in one transaction: changes, audit records and invitation messages together.",
        discussion: """
        Without PLANFILE, plans afresh under the store's lock and shows the plan. On a terminal it asks \
        for 'yes'; without one it needs --auto-approve or a saved plan (else exit 4, nothing changed). \
        A saved plan applies exactly as reviewed, and is refused (exit 4) when the store moved on since. \
        Blocked safety rails refuse the apply (exit 4) unless lifted with --allow. Invitations and events \
        (to the events endpoints) are delivered after the commit; failures are retried by 'roster deliver'. One apply runs per store \
        at a time (SQLite: a lock file; PostgreSQL: an advisory lock, freed by the server if the \
        process dies): a held lock names its holder and exits 4, or is waited for with --lock-timeout.

        Examples:
          roster apply
          roster apply --auto-approve --actor ci-bot
          roster plan --out plan.json && roster apply plan.json
          roster apply plan.json --allow ownership-transfer --lock-timeout 2m
          roster apply --adopt --auto-approve      # a directory the platform already has: no invitations
          PGPASSWORD=… roster apply --state postgres://roster@db.internal:5432/directory --auto-approve
        """
    )

    @OptionGroup var options: GlobalOptions<TextOnly>

    @Argument(help: ArgumentHelp("A plan saved with 'roster plan --out'.", valueName: "planfile"))
    var planFile: String?

    @Flag(help: "Apply without asking (for CI).")
    var autoApprove = false

    @Option(name: .customLong("allow"), help: ArgumentHelp("Lift a safety rail for this apply; repeatable.", valueName: "rail"))
    var allowed: [Rail] = []

    @Option(help: ArgumentHelp("How long to wait for another apply's lock, e.g. 30s or 2m (default: do not wait).",
                               valueName: "duration"))
    var lockTimeout: String?

    @Option(help: ArgumentHelp("Who is applying, for the audit log (default: the CI's user, else $USER).", valueName: "name"))
    var actor: String?

    @Flag(help: "Adopt a directory that already exists on the platform: users the plan would invite are created active, without an invitation.")
    var adopt = false

    func validate() throws {
        if let lockTimeout, DurationSyntax.seconds(parsing: lockTimeout) == nil, lockTimeout != "0" {
            throw ValidationError("--lock-timeout takes a duration such as 30s, 5m or 1h, not '\(lockTimeout)'")
        }
    }

    func run(in environment: Environment) throws -> ExitStatus {
        let interactive = environment.stdinIsTerminal && !autoApprove
        guard autoApprove || planFile != nil || environment.stdinIsTerminal else { throw RosterError.approvalRequired }
        let saved = try planFile.map { try readPlan($0, in: environment) }
        let (files, store) = try filesAndStore(environment)
        let request = ApplyRequest(savedPlan: saved, allowed: Set(allowed),
                                   lockTimeout: TimeInterval(lockTimeout.flatMap(DurationSyntax.seconds(parsing:)) ?? 0),
                                   actor: environment.app.actor(actor), adopt: adopt)
        let result = try ApplyService(loading: files, store: store, environment: environment.app).apply(request, show: { plan in
            writePlan(plan, options: options, environment: environment)
        }, approve: { _ in
            guard interactive else { return true }
            environment.stdout.write("\nApply these changes? Only 'yes' is accepted: ")
            return environment.readLine()?.trimmingCharacters(in: .whitespaces) == "yes"
        })
        guard case .applied(_, let outcome) = result else { return .success }
        environment.stdout.write("\nApply complete: \(plural(outcome.applied, "change")) applied; the store is at serial \(outcome.serial).\n")
        let project = try files()
        // Also retries what an earlier apply left due; prints nothing when there is nothing.
        PhaseTimings.measure("deliver") { deliverAfterCommit(store: store, config: project.config, root: project.root, environment: environment) }
        return .success
    }

    /// The project and its store. An existing SQLite file is opened at once and the files load
    /// and validate on other cores meanwhile, so that the apply takes the lock and reads the store
    /// beside them (as `plan` reads it); the project comes when the apply first needs it (its
    /// diagnostics, then the store's exposure warning, on stderr as before). Any other store (a new
    /// file, created only once the files are valid, or PostgreSQL) is opened after the files.
    private func filesAndStore(_ environment: Environment) throws(RosterError)
        -> (@Sendable () throws(RosterError) -> Project, any StateStore) {
        let options = options
        guard let path = options.existingSQLiteFile(environment),
              let store = try? SQLiteStore(path: path, random: environment.app.random) else {
            let project = try PhaseTimings.measure("load files") { () throws(RosterError) in try options.project(environment) }
            return ({ project }, try options.openStore(config: project.config, root: project.root, environment))
        }
        let loading = Background { () -> Result<Project, RosterError> in
            let loaded = Result { () throws(RosterError) in
                try PhaseTimings.measure("load files") { () throws(RosterError) in try options.project(environment) }
            }
            guard case .success(let project) = loaded else { return loaded }
            // roster.yaml read twice, with an edit between: the store locked is not the one it names now.
            guard options.names(path, project, environment) else {
                let named = options.locator(environment).url(config: project.config)
                return .failure(.storeChanged(locked: store.displayURL, named: PostgresLocation.mask(named)))
            }
            if let fix = StoreLocator.exposureFix(store) { options.warnExposed(store.displayURL, fix: fix, environment) }
            return loaded
        }
        return ({ () throws(RosterError) in try loading.value().get() }, store)
    }

    private func readPlan(_ file: String, in environment: Environment) throws(RosterError) -> Plan {
        do {
            return try Plan.read(json: Data(contentsOf: URL(fileURLWithPath: environment.app.absolute(file))))
        } catch {
            throw .unreadablePlan(file: file, reason: error.localizedDescription)
        }
    }
}
