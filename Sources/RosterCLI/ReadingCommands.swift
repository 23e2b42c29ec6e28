import ArgumentParser
import Foundation
import RosterApp
import RosterCore
import RosterStore

/// `--customer ID | --account ID`: the scope a reading command is about.
struct ScopeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A customer's id.", valueName: "id")) var customer: String?
    @Option(help: ArgumentHelp("An account's id.", valueName: "id")) var account: String?

    func validate() throws {
        if customer != nil && account != nil { throw ValidationError("give --customer or --account, not both") }
    }

    var scope: ScopeRef? {
        customer.map { ScopeRef(.customer, $0) } ?? account.map { ScopeRef(.account, $0) }
    }
}

/// Where a reading command answers from: the store, or the files with `--files`.
struct AnswerSource {
    let queries: AccessQueries
    let store: (any StateStore)?
    let project: Project?

    /// `--files` loads and validates the project and never opens or creates a store.
    init(files: Bool, options: some CommonOptions, environment: Environment) throws {
        if files {
            let project = try options.project(environment)
            self.project = project
            store = nil
            queries = AccessQueries(catalogue: project.config.permissions)
        } else {
            let (settings, store) = try options.settingsAndStore(environment)
            self.store = store
            project = nil
            queries = AccessQueries(catalogue: settings.config.permissions)
        }
    }
}

/// `roster access EMAIL`: a user's effective permissions per scope, with their provenance.
struct AccessCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "access",
        abstract: "Show a user's effective permissions per scope, each with where it comes from.",
        discussion: """
        From the store by default (what holds now); with --files from the files alone, without \
        touching or creating a store (what will hold once they are applied: in a pull request). \
        An unknown user exits 1 naming the closest ones.

        Examples:
          roster access dan@partner.example
          roster access dan@partner.example --account bluebird-tv --files
          roster access dan@partner.example --format json
        """)

    @OptionGroup var options: GlobalOptions<TextOrJSON>
    @Argument(help: "The user's email.") var email: String
    @OptionGroup var scope: ScopeOptions
    @Flag(help: "Answer from the files alone (no store).") var files = false

    func run(in environment: Environment) throws -> ExitStatus {
        let source = try AnswerSource(files: files, options: options, environment: environment)
        let report = try source.project.map { try source.queries.access(of: email, in: $0, on: scope.scope) }
            ?? source.queries.access(of: email, in: storeOf(source), on: scope.scope)
        if options.output == .json {
            environment.stdout.write(try CanonicalJSON.pretty(report))
            return .success
        }
        var out = "\(report.email)\(report.name.map { " (\($0))" } ?? ""), \(report.status.rawValue), "
            + (report.source == .store ? "in the store:\n" : "in the files:\n")
        if report.scopes.isEmpty { out += "  no permissions\(scope.scope.map { " on \($0)" } ?? "")\n" }
        for entry in report.scopes {
            out += "  \(entry.type.rawValue) \(entry.id)\n"
            for grant in entry.grants {
                out += "    \(grant.permissions.joined(separator: ", "))  \(provenance(grant))\n"
            }
        }
        environment.stdout.write(out)
        return .success
    }
}

/// `roster who-can MODULE:ACTION`: every user holding a permission on a scope, and how.
struct WhoCanCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "who-can",
        abstract: "List every user who holds one permission on a customer or account, and how.",
        discussion: """
        A permission not in the catalogue, '*', or an unknown scope exits 64 with a suggestion. \
        From the store by default; with --files from the files alone.

        Examples:
          roster who-can streams:delete --account acme-live
          roster who-can billing:update --customer acme --files --format json
        """)

    @OptionGroup var options: GlobalOptions<TextOrJSON>
    @Argument(help: ArgumentHelp("The permission, e.g. streams:delete.", valueName: "module:action")) var permission: String
    @OptionGroup var scope: ScopeOptions
    @Flag(help: "Answer from the files alone (no store).") var files = false

    func validate() throws {
        if scope.scope == nil { throw ValidationError("name the scope with --customer ID or --account ID") }
        if permission.contains("*") { throw ValidationError(RosterError.wildcardPermission(permission: permission).description) }
    }

    func run(in environment: Environment) throws -> ExitStatus {
        guard let scope = scope.scope else { return .usage }
        let source = try AnswerSource(files: files, options: options, environment: environment)
        let report = try source.project.map { try source.queries.whoCan(permission, on: scope, in: $0) }
            ?? source.queries.whoCan(permission, on: scope, in: storeOf(source))
        if options.output == .json {
            environment.stdout.write(try CanonicalJSON.pretty(report))
            return .success
        }
        var out = "Who can \(report.permission) on \(scope)" + (report.source == .store ? " (in the store):\n" : " (in the files):\n")
        for holder in report.holders {
            out += "  \(holder.email)\(holder.name.map { " (\($0))" } ?? "")\(holder.status == .active ? "" : ", \(holder.status.rawValue)")"
                + "  " + holder.via.map(provenance).joined(separator: "; ") + "\n"
        }
        out += report.holders.isEmpty ? "Nobody.\n" : "\(plural(report.holders.count, "user")).\n"
        environment.stdout.write(out)
        return .success
    }
}

/// `via role admin on account acme-live since 2026-11-02`, `owner of customer acme, declared at …`.
private func provenance(_ grant: AccessReport.Grant) -> String {
    (grant.via.hasPrefix("owner") ? grant.via : "via \(grant.via)")
        + (grant.since.map { " since \($0)" } ?? "") + (grant.declaredAt.map { ", declared at \($0)" } ?? "")
}

private func storeOf(_ source: AnswerSource) throws -> any StateStore {
    guard let store = source.store else { preconditionFailure("a store answer has a store") }
    return store
}
