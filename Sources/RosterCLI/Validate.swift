import ArgumentParser
import Foundation
import RosterCore
import RosterApp

/// `roster validate`: load every source and report every problem at once.
struct Validate: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        abstract: "Check the files and report every problem at once, by file, line and column.",
        discussion: """
        Never touches the store. Exits 0 when the files are valid (warnings allowed) and 3 when \
        any error is found. Formats: text (default), json, github (workflow annotations).

        Examples:
          roster validate
          roster validate --config examples/quickstart/roster.yaml --format json
          roster validate --format github      # in a GitHub Actions step
        """
    )

    @OptionGroup var options: GlobalOptions<DiagnosticFormats>

    func run(in environment: Environment) throws -> ExitStatus {
        let loaded = options.loader(environment).check()
        defer { environment.releaseAtExit(loaded) }
        let report = ValidationReport(diagnostics: loaded.diagnostics, files: loaded.manifest.files.count,
                                      roles: loaded.manifest.directory.roles.count,
                                      users: loaded.manifest.directory.users.count,
                                      customers: loaded.manifest.directory.customers.count,
                                      accounts: loaded.manifest.directory.accounts.count,
                                      referencesChecked: !loaded.manifest.isIncomplete)
        let reporter = DiagnosticReporters.reporter(for: options.output, color: options.useColor(in: environment))
        environment.stdout.write(try reporter.render(report))
        return loaded.diagnostics.hasErrors ? .invalidFiles : .success
    }
}
