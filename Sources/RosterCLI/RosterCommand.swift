import ArgumentParser
import Foundation
import RosterApp
import RosterCore

/// Every output format of `--format`; each command prints only some (its `FormatSet`).
enum OutputFormat: String, CaseIterable, Sendable {
    case text, json, markdown, github
}

/// The formats one command prints: its `--help` lists exactly these, and any other
/// `--format` is refused before the command runs, worded in one place.
protocol FormatSet {
    static var formats: [OutputFormat] { get }
}

enum TextOnly: FormatSet { static let formats: [OutputFormat] = [.text] }
enum TextOrJSON: FormatSet { static let formats: [OutputFormat] = [.text, .json] }
enum PlanFormats: FormatSet { static let formats: [OutputFormat] = [.text, .json, .markdown] }
enum DiagnosticFormats: FormatSet { static let formats: [OutputFormat] = [.text, .json, .github] }

extension FormatSet {
    /// "text, json or markdown".
    static var list: String {
        let names = formats.map(\.rawValue)
        return names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
    }
}

/// What every command's options offer, whatever its formats.
protocol CommonOptions {
    var config: String? { get }
    var state: String? { get }
    var output: OutputFormat { get }
    var noColor: Bool { get }
}

extension CommonOptions {
    /// Colour only on a terminal, never with `--no-color` or `NO_COLOR`.
    func useColor(in environment: Environment) -> Bool {
        !noColor && environment.stdoutIsTerminal && (environment.variables["NO_COLOR"] ?? "").isEmpty
    }

    func loader(_ environment: Environment) -> ProjectLoader {
        ProjectLoader(configOption: config, environment: environment.app)
    }

    func locator(_ environment: Environment) -> StoreLocator {
        StoreLocator(override: state, environment: environment.app)
    }
}

/// The options every command accepts after its name (SPEC §9).
struct GlobalOptions<Formats: FormatSet>: ParsableArguments, CommonOptions {
    @Option(help: ArgumentHelp("Path to roster.yaml (default: ./roster.yaml, else the nearest one above).",
                               valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("Store URL, overriding ROSTER_STATE and roster.yaml: sqlite:PATH, or "
                               + "postgres://user[:password]@host[:port]/db[?sslmode=require&connect_timeout=10&schema=roster] "
                               + "(password also from PGPASSWORD).", valueName: "url"))
    var state: String?

    @Option(help: ArgumentHelp("Output format: \(Formats.list).", valueName: Formats.formats.map(\.rawValue).joined(separator: "|")),
            completion: .list(Formats.formats.map(\.rawValue)))
    var format: String = OutputFormat.text.rawValue

    @Flag(name: .customLong("no-color"), help: "Never colour the output (also when NO_COLOR is set).")
    var noColor = false

    var output: OutputFormat { OutputFormat(rawValue: format) ?? .text }

    /// Refuses (exit 64) a `--format` the command cannot print, rather than silently printing text.
    func validate() throws {
        guard let chosen = OutputFormat(rawValue: format), Formats.formats.contains(chosen) else {
            throw ValidationError("--format \(format) is not available here; this command prints \(Formats.list)")
        }
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
        subcommands: [InitCommand.self, Validate.self, PlanCommand.self, ApplyCommand.self, DiffCommand.self, ShowCommand.self, AccessCommand.self, WhoCanCommand.self, ExportCommand.self,
                      HistoryCommand.self, AuditCommand.self, InvitationsCommand.self, DeliverCommand.self, OutboxCommand.self, EventsCommand.self, ServeCommand.self,
                      SchemaCommand.self, Version.self]
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
    } catch let failure as RosterError {
        environment.stderr.write("error: \(failure)\n")
        return failure.exitStatus.rawValue
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
    let environment = Environment.process()
    let timed = !(environment.variables["ROSTER_TIMINGS"] ?? "").isEmpty
    if timed { PhaseTimings.enable() }
    let status = PhaseTimings.measure("total") { runRoster(Array(CommandLine.arguments.dropFirst()), in: environment) }
    if timed { environment.stderr.write(PhaseTimings.report()) }
    exit(status)
}
