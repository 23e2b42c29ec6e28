import ArgumentParser
import Foundation
import RosterCore
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
        let project = try Project.load(options: options, in: environment)
        let store = try openStore(options: options, config: project.config, root: project.manifest.root,
                                  environment: environment)
        let snapshot = try runtime { try store.snapshot() }
        let desired = project.desired()
        let plan = project.planner().plan(desired: desired, snapshot: snapshot, info: project.desiredInfo())
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
