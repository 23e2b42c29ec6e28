import ArgumentParser
import Foundation
import RosterCore
import RosterApp
import RosterStore

/// `roster history`: the audit log.
struct HistoryCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show the audit log: every change with its serial, time, actor and commit.",
        discussion: """
        Examples:
          roster history --user dan@partner.example
          roster history --since 2026-11-01 --format json
        """)

    @OptionGroup var options: GlobalOptions<TextOrJSON>
    @Option(help: ArgumentHelp("Only records about this user.", valueName: "email")) var user: String?
    @Option(help: ArgumentHelp("Only records from this UTC day on (YYYY-MM-DD).", valueName: "date")) var since: String?

    func validate() throws {
        if let since, Day(parsing: since) == nil {
            throw ValidationError("--since takes a date written YYYY-MM-DD, not '\(since)'")
        }
    }

    func run(in environment: Environment) throws -> ExitStatus {
        let (_, store) = try options.settingsAndStore(environment)
        let from = since.flatMap(Day.init(parsing:)).map(\.startDate)
        let records = try storeCall { try store.auditRecords(afterSerial: nil, user: user, since: from) }
        if options.output == .json {
            environment.stdout.write(try CanonicalJSON.pretty(records))
            return .success
        }
        if records.isEmpty { environment.stdout.write("No history.\n") }
        for record in records {
            environment.stdout.write("serial \(record.serial)  \(record.at)  \(record.actor)"
                + (record.commit.map { "  \($0.prefix(12))" } ?? "")
                + "  \(record.action) \(record.entityType) \(record.entityID)\n")
        }
        return .success
    }
}

/// `roster audit verify`.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check the audit log.",
        discussion: "Example:\n  roster audit verify",
        subcommands: [Verify.self])

    struct Verify: ParsableCommand, RosterRunnable {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the audit log's hash chain; exit 1 when a record was changed or removed.",
            discussion: "Example:\n  roster audit verify")

        @OptionGroup var options: GlobalOptions<TextOrJSON>

        func run(in environment: Environment) throws -> ExitStatus {
            let (_, store) = try options.settingsAndStore(environment)
            let result = try storeCall { try store.verifyAudit() }
            if options.output == .json {
                environment.stdout.write(try CanonicalJSON.pretty(AuditVerificationJSON(result)))
                return result.firstBroken == nil ? .success : .runtimeError
            }
            if let broken = result.firstBroken {
                environment.stderr.write("error: the audit log was rewritten at record \(broken): \(result.reason ?? "")\n")
                return .runtimeError
            }
            environment.stdout.write("The audit log is intact: \(plural(result.records, "record")) verified.\n")
            return .success
        }
    }
}

/// `roster audit verify --format json`.
private struct AuditVerificationJSON: Encodable {
    var intact: Bool
    var records: Int
    var firstBroken: Int?
    var reason: String?

    init(_ result: AuditVerification) {
        intact = result.firstBroken == nil
        records = result.records
        firstBroken = result.firstBroken
        reason = result.reason
    }
}

extension Day {
    /// 00:00 UTC of this day.
    var startDate: Date {
        // Days from 1970-01-01 (Howard Hinnant's days-from-civil).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Date(timeIntervalSince1970: TimeInterval(days) * 86_400)
    }
}
