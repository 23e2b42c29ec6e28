import ArgumentParser
import Foundation
import RosterCore
import RosterApp
import RosterStore

/// `roster plan`: what apply would change, and who gains and loses which access.
struct PlanCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show the changes that would make the store match the files, and the access they grant and remove.",
        discussion: """
        Reads the files and the store; never writes the directory (a new store is created empty). \
        Blocked safety rails are shown but do not fail the plan. Exit 0, or with --detailed-exitcode \
        0 for no changes and 2 for changes; 3 when the files are invalid.

        Examples:
          roster plan
          roster plan --out plan.json --format markdown > plan.md
          roster plan --detailed-exitcode
          roster plan --adopt --out plan.json      # adopting users the platform already has
        """
    )

    @OptionGroup var options: GlobalOptions<PlanFormats>

    @Option(help: ArgumentHelp("Also save the plan as JSON, to apply exactly later with 'roster apply FILE'.",
                               valueName: "file"))
    var out: String?

    @Flag(help: "Exit 2 when the plan has changes, 0 when it has none.")
    var detailedExitcode = false

    @Flag(help: "Plan adopting the users it would invite: created active, without an invitation (roster apply --adopt).")
    var adopt = false

    func run(in environment: Environment) throws -> ExitStatus {
        // An existing store is read on another core while the files load and validate; a new one
        // is created only once the files are known to be valid, as before.
        let early = options.existingSQLiteFile(environment)
            .map { path in
                (path: path, read: Background { [random = environment.random] () -> (Snapshot, exposure: (url: String, fix: String)?)? in
                    guard let store = try? SQLiteStore(path: path, random: random),
                          let snapshot = try? store.snapshot() else { return nil }
                    return (snapshot, StoreLocator.exposureFix(store).map { (store.displayURL, $0) })
                })
            }
        let project: Project
        do {
            project = try PhaseTimings.measure("load files") { () throws(RosterError) in try options.project(environment) }
        } catch {
            // Invalid files: let the read finish, so the store is closed as if never opened.
            _ = early?.read.value()
            throw error
        }
        // The files' digest reads them again: that too runs beside the rest.
        let info = Background { project.desiredInfo() }
        let desired = PhaseTimings.measure("desired state") { project.desired() }
        let snapshot: Snapshot
        // Waited for in every case, so that no read outlives the command.
        let read = PhaseTimings.measure("read store") { early?.read.value() }
        if let early, let read, options.names(early.path, project, environment) {
            snapshot = read.0
            // The early read skips openStore: it warns here as openStore would.
            if let exposure = read.exposure { options.warnExposed(exposure.url, fix: exposure.fix, environment) }
        } else {
            // A new store, another kind of store, or a failed read: open it here, which creates
            // a missing store and reports errors.
            let store = try options.openStore(config: project.config, root: project.root, environment)
            snapshot = try storeCall { try store.snapshot() }
        }
        let plan = PhaseTimings.measure("plan") { project.planner(adopt: adopt).plan(desired: desired, snapshot: snapshot, info: info.value()) }
        environment.releaseAtExit((snapshot, desired, plan))
        if let out {
            let path = environment.app.absolute(out)
            do throws(AtomicFile.Failure) {
                try AtomicFile.write(path, temporary: path + ".tmp-\(getpid())", mode: 0o644) { write in plan.writeJSON(write) }
            } catch {
                throw RosterError.cannotWrite(what: "the plan", path: out, reason: error.description)
            }
        }
        writePlan(plan, options: options, environment: environment)
        if let out, options.output == .text {
            environment.stdout.write("Saved the plan to \(out); apply it with: roster apply \(out)\n")
        }
        return detailedExitcode && !plan.isEmpty ? .changesPresent : .success
    }
}

/// Writes the plan to stdout in the format `--format` asks for; `command` is named in the hints
/// of folded output.
func writePlan(_ plan: Plan, options: some CommonOptions, environment: Environment, command: String = "roster plan") {
    PhaseTimings.measure("render") {
        PlanRenderers.renderer(for: options.output, color: options.useColor(in: environment), command: command)
            .write(plan, to: environment.stdout)
    }
}
