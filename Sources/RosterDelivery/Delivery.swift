import Foundation
import RosterCore
import RosterStore

/// Sends one invitation message somewhere; throws when it could not.
public protocol DeliveryChannel {
    func deliver(_ message: OutboxMessage) throws
}

/// What a delivery run did.
public struct DeliveryReport: Sendable, Hashable {
    public var delivered = 0
    public var failed: [String] = []

    public init() {}
}

/// Writes each message as an RFC 5322 `.eml` file in a folder (the `file` delivery kind).
///
/// The file is named after the message id and written atomically, so a retry after a crash
/// overwrites the same file: delivery is at-least-once and duplicates collapse.
public struct FileDelivery: DeliveryChannel {
    public let folder: String

    public init(folder: String) {
        self.folder = folder
    }

    public func deliver(_ message: OutboxMessage) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let name = message.id.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "@" }
        let url = URL(fileURLWithPath: folder).appendingPathComponent(name + ".eml")
        try Data(message.text.utf8).write(to: url, options: .atomic)
    }
}

/// Delivers every undelivered message of a store through a channel, after the apply committed.
public struct Deliverer {
    public let store: any StateStore
    public let channel: any DeliveryChannel

    public init(store: any StateStore, channel: any DeliveryChannel) {
        self.store = store
        self.channel = channel
    }

    /// Tries each pending message once; a failure is recorded and left for `roster deliver`.
    ///
    /// Deliveries are marked in batches: a crash between sending and marking sends those
    /// messages again (at-least-once), with the same Message-ID.
    public func deliverPending(now: () -> Date, batch: Int = 1000) throws -> DeliveryReport {
        var report = DeliveryReport()
        var delivered: [String] = []
        for message in try store.undeliveredMessages() {
            do {
                try channel.deliver(message)
                delivered.append(message.id)
                report.delivered += 1
            } catch {
                try store.markFailed(messageID: message.id, error: "\(error)", at: now())
                report.failed.append("\(message.recipient): \(error.localizedDescription)")
            }
            if delivered.count >= batch {
                try store.markDelivered(messageIDs: delivered, at: now())
                delivered.removeAll(keepingCapacity: true)
            }
        }
        try store.markDelivered(messageIDs: delivered, at: now())
        return report
    }
}
