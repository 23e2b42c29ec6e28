import ArgumentParser
import RosterApp
import RosterCore

/// `roster version`.
struct Version: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        abstract: "Print roster's version.",
        discussion: "Example:\n  roster version --format json"
    )

    @OptionGroup var options: GlobalOptions<TextOrJSON>

    func run(in environment: Environment) throws -> ExitStatus {
        switch options.output {
        case .json:
            environment.stdout.write(try CanonicalJSON.pretty(["version": rosterVersion]))
        default:
            environment.stdout.write("roster \(rosterVersion)\n")
        }
        return .success
    }
}
