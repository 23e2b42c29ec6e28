import Foundation
import RosterCore

/// Writes each message as an RFC 5322 `.eml` file in a folder (the `file` delivery kind).
///
/// The file is named after the Message-ID and replaces any earlier copy atomically, so a
/// retry after a crash rewrites the same file: delivery is at-least-once and duplicates
/// collapse. The folder (0700) and the files (0600) are the owner's alone: an undelivered
/// invitation's token is in them.
public struct FileDelivery: DeliveryChannel {
    public let folder: String
    public let sender: MailAddress?

    public init(folder: String, sender: MailAddress? = nil) {
        self.folder = folder
        self.sender = sender
    }

    public func deliver(_ message: OutboundInvitation) async -> DeliveryOutcome {
        deliverNow(message)
    }

    /// The same, synchronously: files need no event loop.
    public func deliverNow(_ message: OutboundInvitation) -> DeliveryOutcome {
        var isFolder: ObjCBool = false
        if !FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
            if let problem = Self.makeFolders(folder) {
                return .temporaryFailure(reason: "cannot create the outbox folder \(folder): \(problem); "
                                            + "fix it or set invitations.delivery.path", retryAfter: nil)
            }
        } else if !isFolder.boolValue {
            return .temporaryFailure(reason: "\(folder) is not a folder; remove it or set invitations.delivery.path",
                                     retryAfter: nil)
        }
        let name = message.messageID.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "@" }
        let path = folder + "/" + name + ".eml"
        let bytes = Array(InvitationMessage(message, sender: sender).text.utf8)
        do throws(AtomicFile.Failure) {
            try AtomicFile.write(path, temporary: path + ".tmp", mode: 0o600) { write in write(bytes) }
        } catch {
            return .temporaryFailure(reason: error.description, retryAfter: nil)
        }
        return .delivered
    }

    /// Makes `path` and the folders above it that are missing (0700, the owner's alone); nil when
    /// done, else the system's reason, after the folder it concerns when that is one above
    /// (Foundation's `createDirectory` said only "The operation could not be completed").
    static func makeFolders(_ path: String) -> String? {
        var made = ""
        for (index, part) in path.split(separator: "/").enumerated() {
            made += index == 0 && !path.hasPrefix("/") ? String(part) : "/" + part
            if mkdir(made, 0o700) != 0, errno != EEXIST {
                let reason = String(cString: strerror(errno))
                return made == path ? reason : "\(made): \(reason)"
            }
        }
        return nil
    }
}
