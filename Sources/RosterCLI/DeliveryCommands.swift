import ArgumentParser
import Foundation
import RosterApp
import RosterCore
import RosterStore

/// `roster deliver`: make every delivery attempt that is due (SPEC §6.2).
struct DeliverCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "deliver",
        abstract: "Deliver the invitation messages that are due (run it on a schedule).",
        discussion: """
        A failed attempt is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (each ±20%): 8 \
        attempts, then the message is 'failed' (a Retry-After on a 429 or 503 waits longer when it asks \
        to). Delivery is at-least-once, each message with a stable id (Message-ID, webhook-id). One run \
        per store at a time: a second one says so and leaves. Exit 0 when nothing it tried failed, else 1.

        Examples:
          roster deliver                       # e.g. every 5 minutes from cron or a scheduled CI job
          roster deliver --now                 # try every pending message, due or not
          roster deliver --retry-failed        # give failed messages a fresh schedule, and try them
        """)

    @OptionGroup var options: GlobalOptions<TextOrJSON>

    @Flag(help: "Try every pending message now, ignoring the retry schedule.")
    var now = false

    @Flag(help: "Return failed messages to pending with a fresh schedule, then try them.")
    var retryFailed = false

    func run(in environment: Environment) throws -> ExitStatus {
        let (settings, store) = try options.settingsAndStore(environment)
        let report = try DeliveryService(store: store, config: settings.config, root: settings.root, environment: environment.app)
            .deliver(ignoringSchedule: now, retryFailed: retryFailed,
                     progress: DeliveryProgress.reporter(environment))
        if options.output == .json {
            environment.stdout.write(try CanonicalJSON.pretty(DeliveryReportJSON(report)))
        } else {
            describe(report, environment: environment, after: false)
            if report.isEmpty { environment.stdout.write("Nothing to deliver.\n") }
        }
        return report.hasFailures ? .runtimeError : .success
    }
}

/// `roster outbox`: what is waiting, what went, what failed.
struct OutboxCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "List invitation messages with their status, attempts, last error and next attempt (never a token).",
        discussion: """
        Examples:
          roster outbox --status failed
          roster outbox --format json
        """)

    @OptionGroup var options: GlobalOptions<TextOrJSON>

    @Option(help: "Only messages with this status: pending, delivered, failed or revoked.")
    var status: OutboxStatus?

    func run(in environment: Environment) throws -> ExitStatus {
        let (settings, store) = try options.settingsAndStore(environment)
        let entries = try storeCall { try store.outbox(status: status) }
        let endpoints = try endpointRows(settings.config.events, store)
        if options.output == .json {
            environment.stdout.write(try CanonicalJSON.pretty(OutboxJSON(messages: entries, endpoints: endpoints)))
            return .success
        }
        for endpoint in endpoints {
            environment.stdout.write("endpoint \(endpoint.name)  at #\(endpoint.cursor)  \(plural(endpoint.backlog, "record")) behind"
                + (endpoint.lastError.map { "  \(plural(endpoint.attempts, "failed attempt")), last error: \($0)" } ?? "")
                + (endpoint.nextAttempt.map { "  next try \($0)" } ?? "") + "\n")
        }
        if entries.isEmpty {
            environment.stdout.write("No messages\(status.map { " with status \($0.rawValue)" } ?? "").\n")
        }
        var out = ""
        for entry in entries {
            out += "\(entry.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(entry.recipient)  "
                + "\(plural(entry.attempts, "attempt"))"
                + (entry.deliveredAt.map { "  delivered \($0)" } ?? "")
                + (entry.status == .pending ? "  next \(entry.nextAttemptAt ?? "at the next run")" : "")
                + (entry.lastError.map { "  last error: \($0)" } ?? "") + "\n"
        }
        environment.stdout.write(out)
        return .success
    }

    /// Each endpoint of roster.yaml with its cursor (one not yet registered starts where `from` says).
    private func endpointRows(_ endpoints: [EventEndpoint], _ store: any StateStore) throws -> [EndpointRow] {
        guard !endpoints.isEmpty else { return [] }
        let cursors = try storeCall { try store.eventCursors() }
        let last = try storeCall { try store.status() }.lastSequence
        return endpoints.map { endpoint in
            let cursor = cursors[endpoint.name]
            let at = cursor?.cursor ?? (endpoint.fromStart ? 0 : last)
            return EndpointRow(name: endpoint.name, url: endpoint.webhook.url, cursor: at, backlog: last - at,
                               attempts: cursor?.attempts ?? 0, lastError: cursor?.lastError,
                               nextAttempt: cursor?.nextAttemptAt.map(Timestamp.string))
        }
    }
}

/// One events endpoint as `roster outbox` shows it.
private struct EndpointRow: Encodable {
    var name, url: String
    /// The last seq it received.
    var cursor: Int
    /// Records after the cursor (its `types` may leave some out).
    var backlog: Int
    var attempts: Int
    var lastError: String?
    var nextAttempt: String?
}

/// `roster outbox --format json`.
private struct OutboxJSON: Encodable {
    var messages: [OutboxEntry]
    var endpoints: [EndpointRow]
}

extension OutboxStatus: ExpressibleByArgument {}

/// Delivery right after a commit (apply, resend): never fails the command; what did not go
/// is left for `roster deliver`.
func deliverAfterCommit(store: any StateStore, config: Config, root: String, environment: Environment, invitations: Bool = true) {
    do {
        let report = try DeliveryService(store: store, config: config, root: root, environment: environment.app)
            .deliver(invitations: invitations, progress: DeliveryProgress.reporter(environment))
        describe(report, environment: environment, after: true)
    } catch {
        environment.stderr.write("warning: delivery stopped: \(error); 'roster deliver' retries\n")
    }
}

/// Prints what a delivery run did: a count on stdout, each failure on stderr.
private func describe(_ report: DeliveryReport, environment: Environment, after commit: Bool) {
    if report.busy {
        environment.stderr.write("note: another delivery run holds the outbox; it or the next 'roster deliver' sends the rest\n")
    }
    if let error = report.setupError {
        environment.stderr.write((commit ? "warning: " : "error: ") + "\(error)\n")
    }
    if report.delivered > 0 { environment.stdout.write("Delivered \(plural(report.delivered, "invitation")).\n") }
    for endpoint in report.endpoints {
        if endpoint.delivered > 0 {
            environment.stdout.write("Sent \(plural(endpoint.delivered, "event")) to \(endpoint.name).\n")
        }
        if let error = endpoint.setupError {
            environment.stderr.write((commit ? "warning: " : "error: ") + "events endpoint \(endpoint.name): \(error)\n")
        }
        if let failure = endpoint.failure, let seq = endpoint.failedSequence {
            environment.stderr.write("warning: events endpoint \(endpoint.name) failed at event #\(seq): \(failure); it and the "
                                     + "events after it are retried from \(endpoint.nextAttempt.map(Timestamp.string) ?? "the next run") "
                                     + "by 'roster deliver'\n")
        }
    }
    // A line for each failure, up to `failuresShownPerReason` of one reason; then one line for the
    // rest of each such reason, after the others (one cause, such as an outbox path that is a
    // file, would otherwise print a line for every invitation: 100,000 of a first apply).
    func fail(_ who: String, _ reason: String, retry: Date?) {
        if let retry {
            environment.stderr.write("warning: delivery failed for \(who): \(reason); "
                                     + "'roster deliver' retries from \(Timestamp.string(retry))\n")
        } else {
            environment.stderr.write("error: delivery failed for good for \(who): \(reason); "
                                     + "'roster deliver --retry-failed' tries again\n")
        }
    }
    var failures: [FailureKind: (count: Int, firstRetry: Date?)] = [:]
    var summed: [FailureKind] = []
    for failure in report.failures {
        let kind = FailureKind(reason: failure.reason, givenUp: failure.nextAttempt == nil)
        let count = failures[kind]?.count ?? 0
        var firstRetry: Date?  // of the failures the last line counts
        if count < failuresShownPerReason {
            fail(failure.recipient, failure.reason, retry: failure.nextAttempt)
        } else {
            if count == failuresShownPerReason { summed.append(kind) }
            firstRetry = [failures[kind]?.firstRetry, failure.nextAttempt].compactMap { $0 }.min()
        }
        failures[kind] = (count + 1, firstRetry)
    }
    for kind in summed {
        guard let (count, firstRetry) = failures[kind] else { continue }
        fail(plural(count - failuresShownPerReason, "more invitation"), kind.reason, retry: firstRetry)
    }
}

/// The failures of one reason printed one by one, before a line counts the rest of them.
private let failuresShownPerReason = 10

/// Failures that share a line once there are many of them.
private struct FailureKind: Hashable {
    var reason: String
    var givenUp: Bool
}

/// `roster deliver --format json`.
private struct DeliveryReportJSON: Encodable {
    struct Failure: Encodable {
        var recipient: String
        var reason: String
        var nextAttempt: String?
    }
    struct Endpoint: Encodable {
        var name: String
        var delivered, filtered: Int
        var failedSeq: Int?
        var failure: String?
        var nextAttempt: String?
        var waiting: Bool
        var error: String?
    }
    var delivered: Int
    var failed: [Failure]
    var busy: Bool
    var error: String?
    var endpoints: [Endpoint]

    init(_ report: DeliveryReport) {
        endpoints = report.endpoints.map {
            Endpoint(name: $0.name, delivered: $0.delivered, filtered: $0.filtered, failedSeq: $0.failedSequence,
                     failure: $0.failure, nextAttempt: $0.nextAttempt.map(Timestamp.string), waiting: $0.waiting,
                     error: $0.setupError)
        }
        delivered = report.delivered
        failed = report.failures.map { Failure(recipient: $0.recipient, reason: $0.reason, nextAttempt: $0.nextAttempt.map(Timestamp.string)) }
        busy = report.busy
        error = report.setupError?.description
    }
}

/// `Delivering 12,000 of 100,000…` on a terminal's stderr, redrawn in place; nothing on a pipe.
enum DeliveryProgress {
    static func reporter(_ environment: Environment) -> ((Int, Int) -> Void)? {
        guard environment.stderrIsTerminal else { return nil }
        let started = environment.now()
        return { done, total in
            // Small runs finish before anyone could read a counter.
            guard total >= 1000 || environment.now().timeIntervalSince(started) > 2 else { return }
            environment.stderr.write("\r\u{1B}[KDelivering \(grouped(done)) of \(grouped(total))…" + (done == total ? "\n" : ""))
        }
    }

    private static func grouped(_ number: Int) -> String {
        let digits = Array(String(number))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return out
    }
}
