import ArgumentParser
import Foundation

/// roster's version, printed by `roster version` and `roster --version`.
public let rosterVersion = "0.1.0"

/// The output formats of `--format`; each command says which it supports.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json, markdown, github
}

/// The options every command accepts after its name (SPEC §9).
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Path to roster.yaml (default: ./roster.yaml, else the nearest one above).",
                               valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("Store URL, overriding ROSTER_STATE and roster.yaml: sqlite:PATH, or "
                               + "postgres://user[:password]@host[:port]/db[?sslmode=require&connect_timeout=10&schema=roster] "
                               + "(password also from PGPASSWORD).", valueName: "url"))
    var state: String?

    @Option(help: "Output format: text, json, markdown or github.")
    var format: OutputFormat = .text

    @Flag(name: .customLong("no-color"), help: "Never colour the output (also when NO_COLOR is set).")
    var noColor = false

    /// Refuses (exit 64) a `--format` the command cannot print, rather than silently printing text.
    func require(_ formats: OutputFormat..., for command: String) throws {
        guard formats.contains(format) else {
            throw ValidationError("\(command) supports --format " + formats.map(\.rawValue).joined(separator: " or ")
                                  + ", not \(format.rawValue)")
        }
    }

    /// Colour only on a terminal, never with `--no-color` or `NO_COLOR`.
    func useColor(in environment: Environment) -> Bool {
        !noColor && environment.stdoutIsTerminal && (environment.variables["NO_COLOR"] ?? "").isEmpty
    }
}

/// A command that runs in a given environment and returns an exit status.
protocol RosterRunnable {
    func run(in environment: Environment) throws -> ExitStatus
}

/// The root command: `roster COMMAND [options]`.
struct RosterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roster",
        abstract: "File-based GitOps directory manager: customers, accounts, users, roles and memberships as YAML.",
        discussion: """
        Exit codes: 0 success, 1 runtime error, 2 changes present (plan --detailed-exitcode), \
        3 invalid files, 4 refused, 64 bad usage.

        Example:
          roster validate --config examples/quickstart/roster.yaml
        """,
        version: rosterVersion,
        subcommands: [InitCommand.self, Validate.self, PlanCommand.self, ApplyCommand.self, DiffCommand.self, ShowCommand.self,
                      HistoryCommand.self, AuditCommand.self, InvitationsCommand.self, DeliverCommand.self, SchemaCommand.self,
                      Version.self]
    )
}

/// Runs roster with `arguments` (without the program name) and returns the exit code.
///
/// Commands run in-process against `environment`, which is how the tests drive them.
public func runRoster(_ arguments: [String], in environment: Environment) -> Int32 {
    do {
        let command = try RosterCommand.parseAsRoot(arguments)
        if let runnable = command as? RosterRunnable {
            return try runnable.run(in: environment).rawValue
        }
        var plain = command
        try plain.run()
        return ExitStatus.success.rawValue
    } catch let failure as CommandFailure {
        environment.stderr.write("error: \(failure.message)\n")
        return failure.status.rawValue
    } catch {
        let code = RosterCommand.exitCode(for: error)
        let message = RosterCommand.fullMessage(for: error)
        if code == .success {
            environment.stdout.write(message.isEmpty ? "" : message + "\n")
        } else {
            environment.stderr.write(message.isEmpty ? "" : "error: \(message)\n".replacingOccurrences(of: "error: Error: ", with: "error: "))
        }
        return code.rawValue
    }
}

/// The process entry point: runs roster on the command line's arguments and exits.
public func rosterMain() -> Never {
    exit(runRoster(Array(CommandLine.arguments.dropFirst()), in: .process()))
}
