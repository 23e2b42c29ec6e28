import Foundation
import RosterCore
import RosterDelivery
import RosterStore

/// One message an attempt did not deliver.
public struct DeliveryFailure: Sendable, Hashable {
    public var recipient: String
    public var reason: String
    /// When it is tried next; nil when it is now `failed` (no attempts left, or a permanent failure).
    public var nextAttempt: Date?
}

/// What a delivery run did.
public struct DeliveryReport: Sendable {
    public var delivered = 0
    public var failures: [DeliveryFailure] = []
    /// Another delivery run holds the store's delivery lock: this one sent nothing.
    public var busy = false
    /// The channel could not be made (a missing secret, no sendmail): nothing was attempted.
    public var setupError: RosterError?
    /// What each events endpoint received, in the order of roster.yaml.
    public var endpoints: [EndpointReport] = []

    public init() {}

    /// Nothing was attempted and nothing is wrong.
    public var isEmpty: Bool {
        delivered == 0 && failures.isEmpty && !busy && setupError == nil && endpoints.allSatisfy(\.isEmpty)
    }

    /// Whether anything tried failed (the exit status of `roster deliver`).
    public var hasFailures: Bool {
        !failures.isEmpty || setupError != nil || endpoints.contains { $0.failure != nil || $0.setupError != nil }
    }
}

/// Delivers the outbox (SPEC §6.2) and then the event feed (SPEC §11) under the store's
/// delivery lock (one run per store at a time). Messages that are due (all pending ones with
/// `ignoringSchedule`) go through the configured channel, each batch's outcomes recorded in one
/// transaction; then each events endpoint gets the records after its cursor, in order.
public struct DeliveryService {
    public let store: any StateStore
    public let settings: InvitationSettings
    public let endpoints: [EventEndpoint]
    /// The folder of roster.yaml.
    public let root: String
    public let environment: AppEnvironment
    /// `invitations.acceptUrl` split at each `{token}`.
    private let acceptURLParts: [String]?
    /// Messages read from the store at a time.
    public var pageSize = 1000

    public init(store: any StateStore, config: Config, root: String, environment: AppEnvironment) {
        self.store = store
        self.settings = config.invitations
        self.acceptURLParts = config.invitations.acceptURL?.components(separatedBy: "{token}")
        self.endpoints = config.events
        self.root = root
        self.environment = environment
    }

    /// Delivers what is due. `progress` hears (done, total) after every batch of messages;
    /// `invitations: false` sends only events (after an accept or a revoke).
    public func deliver(ignoringSchedule: Bool = false, retryFailed: Bool = false, invitations: Bool = true,
                        progress: ((Int, Int) -> Void)? = nil) throws(RosterError) -> DeliveryReport {
        let ran: DeliveryReport? = try storeCall {
            try store.withDeliveryLock { () throws -> DeliveryReport in
                var report = DeliveryReport()
                if invitations {
                    try deliverInvitations(ignoringSchedule: ignoringSchedule, retryFailed: retryFailed, report: &report,
                                           progress: progress)
                }
                report.endpoints = try EventFeed(store: store, environment: environment)
                    .deliver(to: endpoints, ignoringSchedule: ignoringSchedule)
                return report
            }
        }
        guard let ran else {
            var report = DeliveryReport()
            report.busy = true
            return report
        }
        return ran
    }

    private func deliverInvitations(ignoringSchedule: Bool, retryFailed: Bool, report: inout DeliveryReport,
                                    progress: ((Int, Int) -> Void)?) throws {
        if retryFailed { _ = try store.retryFailedMessages() }
        let dueBy = ignoringSchedule ? nil : environment.now()
        let total = try store.countPendingMessages(dueBy: dueBy)
        guard total > 0 else { return }
        let channel: any DeliveryChannel
        do throws(DeliveryError) {
            channel = try DeliveryChannels.make(settings, root: root, variables: environment.variables, now: environment.now)
        } catch {
            report.setupError = .delivery(error)
            return
        }
        defer { runBlocking { await channel.shutdown() } }
        try run(channel, dueBy: dueBy, total: total, report: &report, progress: progress)
    }

    /// Pages through the due messages in order; a batch goes out (up to the channel's
    /// concurrency at once) and its outcomes are recorded before the next is sent, so a crash
    /// re-sends at most one batch, with the same ids. The file channel writes its next batch
    /// while the last one's outcomes are recorded (a crash then re-writes at most two batches of
    /// files, each under the same name and with the same bytes).
    private func run(_ channel: any DeliveryChannel, dueBy: Date?, total: Int, report: inout DeliveryReport,
                     progress: ((Int, Int) -> Void)?) throws {
        let writesAhead = channel is FileDelivery
        let batch = writesAhead ? 500 : channel.concurrency
        var after: String?
        var done = 0
        /// The file channel's batch being written, with its outcomes once written.
        var writing: Background<([OutboundInvitation], [DeliveryOutcome])>?
        // The channel is shut down after this returns: no batch may still be going out then.
        defer { _ = writing?.value() }

        func record(_ messages: [OutboundInvitation], _ outcomes: [DeliveryOutcome]) throws {
            let now = environment.now()
            var updates: [OutboxUpdate] = []
            for (message, outcome) in zip(messages, outcomes) {
                let update = schedule(message, outcome, at: now)
                updates.append(update)
                if update.status == .delivered {
                    report.delivered += 1
                } else {
                    report.failures.append(DeliveryFailure(recipient: message.recipient.email,
                                                           reason: outcome.failureReason ?? "",
                                                           nextAttempt: update.nextAttempt))
                }
            }
            try store.recordAttempts(updates, at: now)
            done += messages.count
            progress?(done, total)
        }

        while true {
            let page = try store.pendingMessages(dueBy: dueBy, after: after, limit: pageSize)
            guard let last = page.last else { break }
            after = last.messageID
            for start in stride(from: 0, to: page.count, by: batch) {
                let messages = page[start..<min(page.count, start + batch)].map(withAcceptURL)
                guard writesAhead else {
                    try record(messages, Self.send(messages, through: channel))
                    continue
                }
                let written = writing?.value()  // the batch before, its files all written
                writing = Background { (messages, Self.send(messages, through: channel)) }
                if let (sent, outcomes) = written { try record(sent, outcomes) }
            }
        }
        if let (sent, outcomes) = writing?.value() { try record(sent, outcomes) }
    }

    private func withAcceptURL(_ message: OutboundInvitation) -> OutboundInvitation {
        var message = message
        // A base64url token needs no escaping in a URL.
        message.acceptURL = acceptURLParts?.joined(separator: message.token)
        return message
    }

    /// The outcomes of `messages`, in their order, with up to the channel's concurrency in flight.
    private static func send(_ messages: [OutboundInvitation], through channel: any DeliveryChannel) -> [DeliveryOutcome] {
        if let files = channel as? FileDelivery { return files.deliverNow(messages) }
        return runBlocking {
            await withTaskGroup(of: (Int, DeliveryOutcome).self) { group in
                for (index, message) in messages.enumerated() {
                    group.addTask { (index, await channel.deliver(message)) }
                }
                var outcomes = [DeliveryOutcome](repeating: .delivered, count: messages.count)
                for await (index, outcome) in group { outcomes[index] = outcome }
                return outcomes
            }
        }
    }

    /// The outbox's next state for `message` after `outcome` (SPEC §6.2).
    func schedule(_ message: OutboundInvitation, _ outcome: DeliveryOutcome, at now: Date) -> OutboxUpdate {
        switch outcome {
        case .delivered:
            return OutboxUpdate(messageID: message.messageID, status: .delivered)
        case .permanentFailure(let reason):
            return OutboxUpdate(messageID: message.messageID, status: .failed, error: reason)
        case .temporaryFailure(let reason, let retryAfter):
            let next = RetrySchedule.next(afterAttempt: message.attempts + 1, at: now, retryAfter: retryAfter,
                                          jitter: RetrySchedule.jitter(environment.random))
            return OutboxUpdate(messageID: message.messageID, status: next == nil ? .failed : .pending,
                                nextAttempt: next, error: reason)
        }
    }
}
