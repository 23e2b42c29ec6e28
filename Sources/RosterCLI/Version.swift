import ArgumentParser

/// `roster version`.
struct Version: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        abstract: "Print roster's version.",
        discussion: "Example:\n  roster version --format json"
    )

    @OptionGroup var options: GlobalOptions

    func validate() throws {
        try options.require(.text, .json, for: "version")
    }

    func run(in environment: Environment) throws -> ExitStatus {
        switch options.format {
        case .json:
            environment.stdout.write(encodeJSON(["version": rosterVersion]))
        default:
            environment.stdout.write("roster \(rosterVersion)\n")
        }
        return .success
    }
}
