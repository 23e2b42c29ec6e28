import ArgumentParser
import Foundation
import RosterApp
import RosterCore
import RosterStore

/// `roster events`: the audit log read as the event feed (SPEC §11).
struct EventsCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print the audit log as events: every change, in seq order, without gaps.",
        discussion: """
        With --format json, one event body per line, byte for byte what a webhook receiver gets. \
        Types: \(EventType.allCases.map(\.rawValue).joined(separator: ", ")).

        Examples:
          roster events --since 120 --limit 50
          roster events --type user.deactivated --format json
          roster events --type 'membership.*'
        """)

    @OptionGroup var options: GlobalOptions<TextOrJSON>

    @Option(help: ArgumentHelp("Only the events after this seq.", valueName: "seq"))
    var since: Int = 0

    @Option(help: ArgumentHelp("At most this many events.", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Only events of this type: e.g. user.deactivated, 'user.*' or '*'.", valueName: "pattern"))
    var type: String?

    func validate() throws {
        guard since >= 0 else { throw ValidationError("--since takes a seq of 0 or more, not \(since)") }
        if let limit, limit < 1 { throw ValidationError("--limit takes 1 or more, not \(limit)") }
        if let type, EventTypePattern(type) == nil {
            throw ValidationError("--type '\(type)' is not an event type"
                + (EventTypePattern.suggestion(for: type).map { "; did you mean '\($0)'?" } ?? "; 'roster events --help' lists them"))
        }
    }

    func run(in environment: Environment) throws -> ExitStatus {
        let (_, store) = try options.settingsAndStore(environment)
        let pattern = type.flatMap(EventTypePattern.init)
        var after = since
        var printed = 0
        var out = ""
        page: while true {
            let records = try storeCall { try store.records(afterSequence: after, limit: 1000) }
            guard let last = records.last else { break }
            after = last.sequence
            for record in records {
                guard let event = Event(record), pattern?.matches(event.type) ?? true else { continue }
                if options.output == .json {
                    out += String(decoding: try event.body(), as: UTF8.self) + "\n"
                } else {
                    out += event.line + "\n"
                }
                printed += 1
                if let limit, printed >= limit { break page }
            }
            environment.stdout.write(out)
            out = ""
        }
        environment.stdout.write(out)
        if printed == 0 && options.output == .text {
            environment.stdout.write("No events\(since > 0 ? " after #\(since)" : "")\(type.map { " of type \($0)" } ?? "").\n")
        }
        return .success
    }
}
