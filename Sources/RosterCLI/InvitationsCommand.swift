import ArgumentParser
import Foundation
import RosterCore
import RosterManifest
import RosterStore

/// `roster invitations list|accept|resend|revoke`.
struct InvitationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invitations",
        abstract: "List, accept, resend and revoke invitations.",
        discussion: """
        Examples:
          roster invitations list --status pending
          roster invitations accept 8kQ…Zw
          roster invitations resend dan@partner.example
          roster invitations revoke dan@partner.example
        """,
        subcommands: [List.self, Accept.self, Resend.self, Revoke.self]
    )

    /// Opens the store of the project found from the options (the files need not be valid).
    /// Reads roster.yaml alone (not the directory: these commands work on the store) and opens the store.
    static func store(_ options: GlobalOptions, _ environment: Environment) throws -> (any StateStore, Config, String) {
        let configPath = ManifestLoader.findConfig(explicit: options.config, from: environment.workingDirectory)
        let manifest = configPath.map {
            ManifestLoader(displayBase: environment.workingDirectory).load(configPath: $0, documents: false)
        }
        let root = manifest.map(\.root).flatMap { $0.isEmpty ? nil : $0 } ?? environment.workingDirectory
        let config = manifest?.config ?? Config()
        return (try openStore(options: options, config: config, root: root, environment: environment), config, root)
    }

    static func context(_ config: Config, _ actor: String?, _ environment: Environment) -> ApplyContext {
        ApplyContext(actor: resolveActor(actor, environment: environment), commit: nil, now: environment.now(),
                     random: environment.random, invitations: config.invitations)
    }

    /// Resend and revoke advance the store's serial, so they hold the apply lock as an apply does
    /// (waiting up to 30 s for it): an apply that planned afresh never finds its plan made stale
    /// by them. A lock held longer exits 4 naming its holder.
    static func underApplyLock(_ store: any StateStore, context: ApplyContext, _ body: () throws -> Void) throws {
        let holder = LockHolder(host: ProcessInfo.processInfo.hostName, pid: getpid(), actor: context.actor,
                                since: Timestamp.string(context.now))
        do {
            try store.withApplyLock(holder: holder, timeout: 30, body)
        } catch let error as StoreError {
            if case .lockHeld = error { throw CommandFailure.refused(error.description) }
            throw CommandFailure.runtime(error.description)
        }
    }

    struct List: ParsableCommand, RosterRunnable {
        static let configuration = CommandConfiguration(
            abstract: "List invitations (never their tokens).",
            discussion: "Example:\n  roster invitations list --status expired --format json")

        @OptionGroup var options: GlobalOptions
        @Option(help: "Only invitations with this status: pending, accepted, expired or revoked.")
        var status: InvitationStatus?

        func validate() throws {
            try options.require(.text, .json, for: "invitations list")
        }

        func run(in environment: Environment) throws -> ExitStatus {
            let (store, _, _) = try InvitationsCommand.store(options, environment)
            let records = try runtime { try store.invitations(status: status, now: environment.now()) }
            if options.format == .json {
                environment.stdout.write(encodeJSON(records))
                return .success
            }
            if records.isEmpty {
                environment.stdout.write("No invitations\(status.map { " with status \($0.rawValue)" } ?? "").\n")
            }
            for record in records {
                environment.stdout.write("\(record.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) "
                    + "\(record.email)  issued \(record.issuedAt)  expires \(record.expiresAt)"
                    + (record.inviter.map { "  by \($0)" } ?? "")
                    + (record.reissueCount > 0 ? "  (re-issued \(record.reissueCount)×)" : "") + "\n")
            }
            return .success
        }
    }

    struct Accept: ParsableCommand, RosterRunnable {
        static let configuration = CommandConfiguration(
            abstract: "Accept an invitation: its user becomes active.",
            discussion: "An unknown, used, revoked or expired token is an error (exit 1) and changes nothing.\n\nExample:\n  roster invitations accept 8kQ…Zw")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The token from the invitation's link.") var token: String

        func validate() throws {
            try options.require(.text, for: "invitations accept")
        }

        func run(in environment: Environment) throws -> ExitStatus {
            let (store, _, _) = try InvitationsCommand.store(options, environment)
            let email = try runtime {
                try store.acceptInvitation(token: token, now: environment.now(),
                                           actor: resolveActor(nil, environment: environment))
            }
            environment.stdout.write("Accepted: \(email) is now active.\n")
            return .success
        }
    }

    struct Resend: ParsableCommand, RosterRunnable {
        static let configuration = CommandConfiguration(
            abstract: "Issue a fresh token to an invited user and revoke the old one.",
            discussion: """
            Holds the store's apply lock meanwhile, as an apply does (waits up to 30 s for it; exit 4 if held longer).

            Example:
              roster invitations resend dan@partner.example
            """)

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The invited user's email.") var email: String
        @Option(help: "Who is resending, for the audit log.") var actor: String?

        func validate() throws {
            try options.require(.text, for: "invitations resend")
        }

        func run(in environment: Environment) throws -> ExitStatus {
            let (store, config, root) = try InvitationsCommand.store(options, environment)
            let context = InvitationsCommand.context(config, actor, environment)
            try InvitationsCommand.underApplyLock(store, context: context) {
                try store.resendInvitation(email: email, context: context)
            }
            environment.stdout.write("Issued a new invitation to \(email); any earlier token no longer works.\n")
            deliver(store: store, config: config, root: root, environment: environment)
            return .success
        }
    }

    struct Revoke: ParsableCommand, RosterRunnable {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a user's pending invitation.",
            discussion: """
            Holds the store's apply lock meanwhile, as an apply does (waits up to 30 s for it; exit 4 if held longer).

            Example:
              roster invitations revoke dan@partner.example
            """)

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The invited user's email.") var email: String
        @Option(help: "Who is revoking, for the audit log.") var actor: String?

        func validate() throws {
            try options.require(.text, for: "invitations revoke")
        }

        func run(in environment: Environment) throws -> ExitStatus {
            let (store, config, _) = try InvitationsCommand.store(options, environment)
            let context = InvitationsCommand.context(config, actor, environment)
            try InvitationsCommand.underApplyLock(store, context: context) {
                try store.revokeInvitation(email: email, context: context)
            }
            environment.stdout.write("Revoked the pending invitation of \(email); 'roster invitations resend \(email)' sends a new one.\n")
            return .success
        }
    }
}

extension InvitationStatus: ExpressibleByArgument {}

/// `roster deliver`: retry invitation messages still in the outbox.
struct DeliverCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "deliver",
        abstract: "Deliver invitation messages still waiting in the outbox.",
        discussion: "Delivery is at-least-once, each message with a stable Message-ID. Exit 1 when some failed.\n\nExample:\n  roster deliver")

    @OptionGroup var options: GlobalOptions

    func validate() throws {
        try options.require(.text, for: "deliver")
    }

    func run(in environment: Environment) throws -> ExitStatus {
        let (store, config, root) = try InvitationsCommand.store(options, environment)
        let report = deliver(store: store, config: config, root: root, environment: environment)
        if report.delivered == 0 && report.failed.isEmpty {
            environment.stdout.write("Nothing to deliver.\n")
        }
        return report.failed.isEmpty ? .success : .runtimeError
    }
}
