import Foundation
import RosterCore
import RosterDelivery
import RosterStore

/// What one events endpoint received in a run.
public struct EndpointReport: Sendable, Hashable {
    public var name: String
    /// Events sent and acknowledged.
    public var delivered = 0
    /// Records its `types` filter left out (the cursor moved past them without a request).
    public var filtered = 0
    /// The event that failed and holds back the later ones, with why.
    public var failure: String?
    public var failedSequence: Int?
    /// When the held-back event is tried next.
    public var nextAttempt: Date?
    /// The endpoint was not due yet (an earlier failure's wait): nothing was sent.
    public var waiting = false
    /// The endpoint's secret is missing or malformed: nothing was sent.
    public var setupError: String?

    public var isEmpty: Bool { delivered == 0 && failure == nil && setupError == nil }
}

/// Sends the audit log to the events endpoints (SPEC §11): for each endpoint, the records
/// after its cursor in `seq` order, one signed request each (`webhook-id` `evt_<lineage>_<seq>`).
/// A failing event holds back the later ones of that endpoint only, retried on the §6.2
/// schedule and then every 10 h, never skipped. The cursor moves in the transaction that
/// records the attempts: after every `recordEvery` events, at a failure and at the end, so a
/// crash re-sends at most that many, with the same ids.
public struct EventFeed {
    public let store: any StateStore
    public let environment: AppEnvironment
    public var recordEvery = 100
    /// Records read from the store at a time.
    public var pageSize = 1000

    public init(store: any StateStore, environment: AppEnvironment) {
        self.store = store
        self.environment = environment
    }

    /// Gives each new endpoint its cursor: `from: now` starts after the records already there.
    /// Called before a command writes, so the endpoint hears of that command's own change.
    public func register(_ endpoints: [EventEndpoint]) throws {
        guard !endpoints.isEmpty else { return }
        let known = try store.eventCursors()
        for endpoint in endpoints where known[endpoint.name] == nil {
            _ = try store.registerEndpoint(endpoint.name, fromStart: endpoint.fromStart, at: environment.now())
        }
    }

    /// Every endpoint in turn; one endpoint's failure never stops the next.
    public func deliver(to endpoints: [EventEndpoint], ignoringSchedule: Bool) throws -> [EndpointReport] {
        guard !endpoints.isEmpty else { return [] }
        let lineage = try store.status().lineage
        return try endpoints.map { try deliver(to: $0, lineage: lineage, ignoringSchedule: ignoringSchedule) }
    }

    private func deliver(to endpoint: EventEndpoint, lineage: String, ignoringSchedule: Bool) throws -> EndpointReport {
        var report = EndpointReport(name: endpoint.name)
        let start = try store.registerEndpoint(endpoint.name, fromStart: endpoint.fromStart, at: environment.now())
        if !ignoringSchedule, let next = start.nextAttemptAt, next > environment.now() {
            report.waiting = true
            report.nextAttempt = next
            return report
        }
        var position = start.cursor
        var recorded = start.cursor
        var lastRecordedAt = Date()
        var sender: WebhookSender?
        defer { if let sender { runBlocking { await sender.shutdown() } } }
        while true {
            let records = try store.records(afterSequence: position, limit: pageSize)
            guard !records.isEmpty else { break }
            for record in records {
                guard let event = Event(record), endpoint.wants(event.type) else {
                    position = record.sequence
                    report.filtered += 1
                    continue
                }
                if sender == nil {
                    do throws(DeliveryError) {
                        let signer = try WebhookSigner(variable: endpoint.webhook.secretEnv, variables: environment.variables)
                        sender = WebhookSender(url: endpoint.webhook.url, signer: signer, timeout: endpoint.webhook.timeout,
                                               now: environment.now)
                    } catch {
                        report.setupError = error.description
                        // What was filtered out so far is passed for good; the event waits.
                        _ = try store.recordEventAttempt(endpoint: endpoint.name, expected: recorded, cursor: position,
                                                         failure: nil, at: environment.now())
                        return report
                    }
                }
                guard let sender else { break }
                let body = try event.body()
                let outcome = runBlocking { await sender.send(id: event.webhookID(lineage: lineage), body: body) }
                if let reason = outcome.failureReason {
                    let retryAfter: TimeInterval? = if case .temporaryFailure(_, let wait) = outcome { wait } else { nil }
                    // Earlier attempts count only while this event is still the first one due.
                    let next = RetrySchedule.next(afterAttempt: (report.delivered == 0 ? start.attempts : 0) + 1,
                                                  at: environment.now(), retryAfter: retryAfter,
                                                  jitter: RetrySchedule.jitter(environment.random), forever: true)
                        ?? environment.now()
                    report.failure = reason
                    report.failedSequence = record.sequence
                    report.nextAttempt = next
                    _ = try store.recordEventAttempt(endpoint: endpoint.name, expected: recorded, cursor: position,
                                                     failure: EventFailure(error: "seq \(record.sequence): \(reason)", nextAttempt: next),
                                                     at: environment.now())
                    return report
                }
                position = record.sequence
                report.delivered += 1
                if report.delivered % recordEvery == 0 || Date().timeIntervalSince(lastRecordedAt) > 1 {
                    guard try store.recordEventAttempt(endpoint: endpoint.name, expected: recorded, cursor: position,
                                                       failure: nil, at: environment.now()) else { return report }
                    recorded = position
                    lastRecordedAt = Date()
                }
            }
        }
        if position != recorded {
            _ = try store.recordEventAttempt(endpoint: endpoint.name, expected: recorded, cursor: position, failure: nil,
                                             at: environment.now())
        }
        return report
    }
}
