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
        if let problem = folderProblem() { return problem }
        return write(message)
    }

    /// The outcomes of `messages`, in their order: the folder is checked once, and the files are
    /// written on every core (composing a message and the kernel's work on its file are most of
    /// a delivery run).
    public func deliverNow(_ messages: [OutboundInvitation]) -> [DeliveryOutcome] {
        if let problem = folderProblem() { return messages.map { _ in problem } }
        return Parallel.map(messages) { write($0) }
    }

    /// Why no message can be written now (the folder is missing and cannot be made, or is a
    /// file); nil when the folder is there.
    private func folderProblem() -> DeliveryOutcome? {
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
        return nil
    }

    private func write(_ message: OutboundInvitation) -> DeliveryOutcome {
        let path = folder + "/" + Self.fileName(message.messageID) + ".eml"
        let bytes = Array(InvitationMessage(message, sender: sender).text.utf8)
        do throws(AtomicFile.Failure) {
            try AtomicFile.write(path, temporary: path + ".tmp", mode: 0o600) { write in write(bytes) }
        } catch {
            return .temporaryFailure(reason: error.description, retryAfter: nil)
        }
        return .delivered
    }

    /// The Message-ID's letters, digits, `-`, `.` and `@` (roster's `<invitation-…@roster>` loses
    /// its angle brackets); byte by byte when it is ASCII, as roster's own are.
    static func fileName(_ messageID: String) -> String {
        guard messageID.utf8.allSatisfy({ $0 < 0x80 }) else {
            return messageID.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "@" }
        }
        return String(decoding: messageID.utf8.filter { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "@"): true
            default: false
            }
        }, as: UTF8.self)
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
