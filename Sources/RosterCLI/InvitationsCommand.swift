import ArgumentParser
import Foundation
import RosterCore
import RosterApp
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

    /// The invitation use cases over the project's store.
    static func service(_ options: some CommonOptions, _ environment: Environment) throws -> (InvitationService, ProjectSettings) {
        let (settings, store) = try options.settingsAndStore(environment)
        return (InvitationService(store: store, config: settings.config, environment: environment.app), settings)
    }

    /// After a write of its own, the new audit record goes out to the events endpoints (and,
    /// after a resend, the new message and anything else due).
    static func deliver(_ service: InvitationService, _ settings: ProjectSettings, _ environment: Environment,
                        invitations: Bool) {
        guard invitations || !settings.config.events.isEmpty else { return }
        deliverAfterCommit(store: service.store, config: settings.config, root: settings.root, environment: environment,
                           invitations: invitations)
    }

    struct List: ParsableCommand, RosterRunnable {
        static let configuration = CommandConfiguration(
            abstract: "List invitations (never their tokens).",
            discussion: "Example:\n  roster invitations list --status expired --format json")

        @OptionGroup var options: GlobalOptions<TextOrJSON>
        @Option(help: "Only invitations with this status: pending, accepted, expired or revoked.")
        var status: InvitationStatus?

        func run(in environment: Environment) throws -> ExitStatus {
            let (_, store) = try options.settingsAndStore(environment)
            let records = try storeCall { try store.invitations(status: status, now: environment.now()) }
            if options.output == .json {
                environment.stdout.write(try CanonicalJSON.pretty(records))
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

        @OptionGroup var options: GlobalOptions<TextOnly>
        @Argument(help: "The token from the invitation's link.") var token: String

        func run(in environment: Environment) throws -> ExitStatus {
            let (service, settings) = try InvitationsCommand.service(options, environment)
            let email = try service.accept(token: token, actor: environment.app.actor(nil))
            environment.stdout.write("Accepted: \(email) is now active.\n")
            InvitationsCommand.deliver(service, settings, environment, invitations: false)
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

        @OptionGroup var options: GlobalOptions<TextOnly>
        @Argument(help: "The invited user's email.") var email: String
        @Option(help: "Who is resending, for the audit log.") var actor: String?

        func run(in environment: Environment) throws -> ExitStatus {
            let (service, settings) = try InvitationsCommand.service(options, environment)
            try service.resend(email: email, actor: environment.app.actor(actor))
            environment.stdout.write("Issued a new invitation to \(email); any earlier token no longer works.\n")
            InvitationsCommand.deliver(service, settings, environment, invitations: true)
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

        @OptionGroup var options: GlobalOptions<TextOnly>
        @Argument(help: "The invited user's email.") var email: String
        @Option(help: "Who is revoking, for the audit log.") var actor: String?

        func run(in environment: Environment) throws -> ExitStatus {
            let (service, settings) = try InvitationsCommand.service(options, environment)
            try service.revoke(email: email, actor: environment.app.actor(actor))
            environment.stdout.write("Revoked the pending invitation of \(email); 'roster invitations resend \(email)' sends a new one.\n")
            InvitationsCommand.deliver(service, settings, environment, invitations: false)
            return .success
        }
    }
}

extension InvitationStatus: ExpressibleByArgument {}

