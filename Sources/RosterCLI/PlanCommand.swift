import ArgumentParser
import Foundation
import RosterCore
import RosterManifest
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
        """
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("Also save the plan as JSON, to apply exactly later with 'roster apply FILE'.",
                               valueName: "file"))
    var out: String?

    @Flag(help: "Exit 2 when the plan has changes, 0 when it has none.")
    var detailedExitcode = false

    func validate() throws {
        if options.format == .github {
            throw ValidationError("plan supports --format text, json or markdown")
        }
    }

    func run(in environment: Environment) throws -> ExitStatus {
        // An existing store is read on another core while the files load and validate; a new one
        // is created only once the files are known to be valid, as before.
        let early = existingStorePath(options: options, environment: environment).map { path in
            (path: path, snapshot: Background { [random = environment.random] in
                try? SQLiteStore(path: path, random: random).snapshot()
            })
        }
        let project: Project
        do {
            project = try Project.load(options: options, in: environment)
        } catch {
            // Invalid files: let the read finish, so the store is closed as if never opened.
            _ = early?.snapshot.value()
            throw error
        }
        // The files' digest reads them again: that too runs beside the rest.
        let info = Background { project.desiredInfo() }
        let desired = project.desired()
        let snapshot: Snapshot
        // Waited for in every case, so that no read outlives the command.
        let read = early?.snapshot.value()
        if let early, let read,
           early.path == sqlitePath(stateURL(options: options, config: project.config, environment: environment),
                                    root: project.manifest.root) {
            snapshot = read
        } else {
            // A new store, another kind of store, or a failed read: open it here, which creates
            // a missing store and reports errors.
            let store = try openStore(options: options, config: project.config, root: project.manifest.root,
                                      environment: environment)
            snapshot = try runtime { try store.snapshot() }
        }
        let plan = project.planner().plan(desired: desired, snapshot: snapshot, info: info.value())
        environment.releaseAtExit((snapshot, desired, plan))
        if let out {
            let path = out.hasPrefix("/") ? out : environment.workingDirectory + "/" + out
            do {
                try plan.jsonData().write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw CommandFailure.runtime("cannot write the plan to '\(out)': \(error.localizedDescription)")
            }
        }
        environment.stdout.write(renderPlan(plan, options: options, environment: environment))
        if let out, options.format == .text {
            environment.stdout.write("Saved the plan to \(out); apply it with: roster apply \(out)\n")
        }
        return detailedExitcode && !plan.isEmpty ? .changesPresent : .success
    }
}

/// The SQLite file `--state`, `ROSTER_STATE`, roster.yaml's `state` or the default names, as
/// `openStore` finds it, when it already holds a database; nil for any other store, for a
/// missing or empty file (opening would create the store) and when roster.yaml has errors.
private func existingStorePath(options: GlobalOptions, environment: Environment) -> String? {
    guard let configPath = ManifestLoader.findConfig(explicit: options.config, from: environment.workingDirectory) else {
        return nil
    }
    let manifest = ManifestLoader(displayBase: environment.workingDirectory).load(configPath: configPath, documents: false)
    guard !manifest.diagnostics.hasErrors,
          let path = sqlitePath(stateURL(options: options, config: manifest.config, environment: environment),
                                root: manifest.root), !path.isEmpty,
          let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber, size.intValue > 0
    else { return nil }
    return path
}

/// The plan in the format `--format` asks for; `command` is named in the hints of folded output.
func renderPlan(_ plan: Plan, options: GlobalOptions, environment: Environment, command: String = "roster plan") -> String {
    switch options.format {
    case .json: return JSONPlanRenderer().render(plan)
    case .markdown: return MarkdownPlanRenderer(command: command).render(plan)
    case .text, .github: return TextPlanRenderer(color: options.useColor(in: environment), command: command).render(plan)
    }
}

/// Runs a store operation, turning store errors into runtime failures (exit 1).
func runtime<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as StoreError {
        throw CommandFailure.runtime(error.description)
    }
}

/// Work that runs on another thread while this one does something else.
///
/// Plan reads the store (a second of SQLite on a large directory) while the files load, and
/// digests the files while it builds the desired state; apply builds it while reading the store.
final class Background<Value: Sendable>: @unchecked Sendable {
    // `result` is written once, by the worker, before it signals `done`; read only after waiting.
    private let done = DispatchSemaphore(value: 0)
    private var result: Value?

    /// Starts `body` on another thread.
    init(_ body: @escaping @Sendable () -> Value) {
        DispatchQueue.global(qos: .userInitiated).async {
            self.result = body()
            self.done.signal()
        }
    }

    /// The value of `body`, waiting for it when it is not ready yet.
    func value() -> Value {
        done.wait()
        done.signal()  // for the next caller
        guard let result else { preconditionFailure("Background finished without a value") }
        return result
    }
}
