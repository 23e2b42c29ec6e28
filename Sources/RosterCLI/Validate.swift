import ArgumentParser
import Foundation
import RosterCore
import RosterManifest

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

    @OptionGroup var options: GlobalOptions

    func validate() throws {
        if options.format == .markdown {
            throw ValidationError("validate supports --format text, json or github, not markdown")
        }
    }

    func run(in environment: Environment) throws -> ExitStatus {
        let loaded = loadAndValidate(options: options, in: environment)
        defer { environment.releaseAtExit(loaded) }
        let report = ValidationReport(diagnostics: loaded.diagnostics, files: loaded.manifest.files.count,
                                      roles: loaded.manifest.directory.roles.count,
                                      users: loaded.manifest.directory.users.count,
                                      customers: loaded.manifest.directory.customers.count,
                                      accounts: loaded.manifest.directory.accounts.count,
                                      referencesChecked: !loaded.manifest.isIncomplete)
        let reporter: DiagnosticReporter
        switch options.format {
        case .json: reporter = JSONReporter()
        case .github: reporter = GitHubReporter()
        case .text, .markdown: reporter = TextReporter(color: options.useColor(in: environment))
        }
        environment.stdout.write(reporter.render(report))
        return loaded.diagnostics.hasErrors ? .invalidFiles : .success
    }
}

/// A project read and checked: the manifest and every diagnostic, sorted.
struct CheckedManifest {
    var manifest: Manifest
    var diagnostics: [Diagnostic]
}

/// Finds roster.yaml, loads it and its sources, and runs every validation rule.
func loadAndValidate(options: GlobalOptions, in environment: Environment) -> CheckedManifest {
    guard let configPath = ManifestLoader.findConfig(explicit: options.config, from: environment.workingDirectory) else {
        let diagnostic = Diagnostic(.configNotFound(searched: environment.workingDirectory), at: .file("roster.yaml"))
        return CheckedManifest(manifest: Manifest(configFile: "roster.yaml", root: environment.workingDirectory),
                               diagnostics: [diagnostic])
    }
    return checkManifest(configPath: configPath, displayBase: environment.workingDirectory,
                         today: Day(containing: environment.now()), lookBack: true)
}

/// Loads the project at `configPath` and runs every validation rule as of `today`.
///
/// With `lookBack`, an undeclared owner or member that the files at HEAD declared is reported
/// as removed (git is asked only when there is one).
func checkManifest(configPath: String, displayBase: String, today: Day, lookBack: Bool = false) -> CheckedManifest {
    validate(ManifestLoader(displayBase: displayBase).load(configPath: configPath), today: today,
             lookBackFrom: lookBack ? displayBase : nil)
}

/// Runs every validation rule on a loaded project as of `today`.
///
/// `lookBackFrom` (the display base) asks git about undeclared owners and members, as
/// `checkManifest` says; `stored` then finds those git did not among the store's users.
func validate(_ manifest: Manifest, today: Day, lookBackFrom displayBase: String? = nil,
              stored: ((Set<String>) -> [String: FormerUser])? = nil) -> CheckedManifest {
    var validator = Validator(config: manifest.config, directory: manifest.directory, today: today)
    validator.checkReferences = !manifest.isIncomplete
    var found = validator.run()
    // Only an invalid directory pays for the look back: valid files are validated once.
    if let displayBase, found.contains(where: { $0.code == .unknownUser }) {
        let undeclared = FormerUsers.undeclared(in: manifest.directory)
        var former = FormerUsers.find(undeclared, for: manifest, displayBase: displayBase)
        let rest = undeclared.subtracting(former.keys)
        if !rest.isEmpty, let stored {
            former.merge(stored(rest)) { git, _ in git }
        }
        if !former.isEmpty {
            validator.formerUsers = former
            found = validator.run()
        }
    }
    let diagnostics = (manifest.diagnostics + found).sorted()
    return CheckedManifest(manifest: manifest, diagnostics: diagnostics)
}
