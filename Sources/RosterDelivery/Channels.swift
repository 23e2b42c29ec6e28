import Foundation
import RosterCore

/// Why a channel cannot be made for a run: nothing is attempted, every message stays pending.
public enum DeliveryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The variable that should hold a webhook secret is unset or empty.
    case missingSecret(variable: String)
    /// The secret is not `whsec_` and base64 of 24 to 64 bytes.
    case malformedSecret(variable: String, problem: String)
    /// The sendmail command's program is not there.
    case commandNotFound(program: String)

    public var description: String {
        let howToMake = #"make one with: echo "whsec_$(openssl rand -base64 32)""#
        switch self {
        case .missingSecret(let variable):
            return "the webhook secret variable \(variable) is not set; set it to the receiver's whsec_ secret "
                + "(\(howToMake)); the messages stay pending"
        case .malformedSecret(let variable, let problem):
            return "the webhook secret in \(variable) \(problem); it must be 'whsec_' followed by base64 of 24 to 64 "
                + "bytes (\(howToMake)); the messages stay pending"
        case .commandNotFound(let program):
            return "the sendmail command '\(program)' does not exist or cannot be run; install it (e.g. Debian's msmtp "
                + "or a mail server's sendmail) or set invitations.delivery.command; the messages stay pending"
        }
    }
}

/// Every delivery kind, resolved by its identifier (`invitations.delivery.kind`) in one place.
public enum DeliveryChannels {
    /// The identifiers roster.yaml accepts, in the order the docs list them.
    public static let kinds = ["file", "webhook", "sendmail"]

    /// Makes the channel for `settings`: `root` is the folder of roster.yaml (relative paths),
    /// `variables` the environment a webhook secret is read from, `now` the clock of signatures.
    public static func make(_ settings: InvitationSettings, root: String, variables: [String: String],
                            now: @escaping @Sendable () -> Date) throws(DeliveryError) -> any DeliveryChannel {
        switch settings.delivery {
        case .file(let path):
            return FileDelivery(folder: path.hasPrefix("/") ? path : root + "/" + path, sender: settings.from)
        case .webhook(let webhook):
            let signer = try WebhookSigner(variable: webhook.secretEnv, variables: variables)
            return WebhookDelivery(sender: WebhookSender(url: webhook.url, signer: signer, timeout: webhook.timeout, now: now))
        case .sendmail(let sendmail):
            return try SendmailDelivery(settings: sendmail, sender: settings.from, searchPath: variables["PATH"])
        }
    }
}
