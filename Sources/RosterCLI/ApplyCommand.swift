import ArgumentParser
import Foundation
import RosterCore
import RosterDelivery
import RosterStore

/// The safety rails `--allow` can lift (SPEC §5.3).
enum RailName: String, ExpressibleByArgument, CaseIterable {
    case massDeactivation = "mass-deactivation"
    case massRemoval = "mass-removal"
    case ownershipTransfer = "ownership-transfer"
    case customerDeactivation = "customer-deactivation"
    case accountMove = "account-move"
}

/// `roster apply`: apply a fresh or saved plan in one transaction.
struct ApplyCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply the plan in one transaction: changes, audit records and invitation messages together.",
        discussion: """
        Without PLANFILE, plans afresh under the store's lock and shows the plan. On a terminal it asks \
        for 'yes'; without one it needs --auto-approve or a saved plan (else exit 4, nothing changed). \
        A saved plan applies exactly as reviewed, and is refused (exit 4) when the store moved on since. \
        Blocked safety rails refuse the apply (exit 4) unless lifted with --allow. Invitations are \
        delivered after the commit; failures are retried by 'roster deliver'. One apply runs per store \
        at a time (SQLite: a lock file; PostgreSQL: an advisory lock, freed by the server if the \
        process dies): a held lock names its holder and exits 4, or is waited for with --lock-timeout.

        Examples:
          roster apply
          roster apply --auto-approve --actor ci-bot
          roster plan --out plan.json && roster apply plan.json
          roster apply plan.json --allow ownership-transfer --lock-timeout 2m
          PGPASSWORD=… roster apply --state postgres://roster@db.internal:5432/directory --auto-approve
        """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("A plan saved with 'roster plan --out'.", valueName: "planfile"))
    var planFile: String?

    @Flag(help: "Apply without asking (for CI).")
    var autoApprove = false

    @Option(name: .customLong("allow"), help: ArgumentHelp("Lift a safety rail for this apply; repeatable.", valueName: "rail"))
    var allowed: [RailName] = []

    @Option(help: ArgumentHelp("How long to wait for another apply's lock, e.g. 30s or 2m (default: do not wait).",
                               valueName: "duration"))
    var lockTimeout: String?

    @Option(help: ArgumentHelp("Who is applying, for the audit log (default: the CI's user, else $USER).", valueName: "name"))
    var actor: String?

    func validate() throws {
        if let lockTimeout, DurationSyntax.seconds(parsing: lockTimeout) == nil, lockTimeout != "0" {
            throw ValidationError("--lock-timeout takes a duration such as 30s, 5m or 1h, not '\(lockTimeout)'")
        }
        if options.format != .text {
            throw ValidationError("apply prints text; use 'roster plan --format \(options.format.rawValue)' for other formats")
        }
    }

    func run(in environment: Environment) throws -> ExitStatus {
        let interactive = environment.stdinIsTerminal && !autoApprove
        guard autoApprove || planFile != nil || environment.stdinIsTerminal else {
            throw CommandFailure.refused("apply needs approval: run it on a terminal to answer the prompt, "
                                         + "pass --auto-approve, or apply a saved plan ('roster apply plan.json'); nothing was changed")
        }
        let saved = try planFile.map { try readPlan($0, in: environment) }
        let project = try Project.load(options: options, in: environment)
        let store = try openStore(options: options, config: project.config, root: project.manifest.root,
                                  environment: environment)
        let actorName = resolveActor(actor, environment: environment)
        let holder = LockHolder(host: ProcessInfo.processInfo.hostName, pid: getpid(), actor: actorName,
                                since: Timestamp.string(environment.now()))
        let timeout = TimeInterval(lockTimeout.flatMap(DurationSyntax.seconds(parsing:)) ?? 0)
        let outcome: ApplyOutcome?
        do {
            outcome = try store.withApplyLock(holder: holder, timeout: timeout) { () throws -> ApplyOutcome? in
                let plan: Plan
                if let saved {
                    plan = saved
                } else {
                    // The files' desired state and digest are built on another core while the store is read.
                    let fromFiles = Background { (project.desired(), project.desiredInfo()) }
                    let snapshot = try store.snapshot()
                    let (desired, info) = fromFiles.value()
                    plan = project.planner().plan(desired: desired, snapshot: snapshot, info: info)
                }
                environment.stdout.write(renderPlan(plan, options: options, environment: environment))
                guard !plan.isEmpty else { return nil }
                let allowedNames = Set(allowed.map(\.rawValue))
                let blocked = plan.blockedRails.filter { !allowedNames.contains($0.rail) }
                guard blocked.isEmpty else {
                    throw CommandFailure.refused("blocked by safety rails: "
                        + blocked.map { "\($0.rail) (\($0.message))" }.joined(separator: "; ")
                        + "; review the plan, then pass " + blocked.map { "--allow \($0.rail)" }.joined(separator: " "))
                }
                if interactive {
                    environment.stdout.write("\nApply these changes? Only 'yes' is accepted: ")
                    guard environment.readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
                        throw CommandFailure.refused("apply cancelled; nothing was changed")
                    }
                }
                let context = ApplyContext(actor: actorName, commit: plan.desired.commit, now: environment.now(),
                                           random: environment.random, invitations: project.config.invitations)
                return try store.apply(plan, context: context)
            }
        } catch let error as StoreError {
            switch error {
            case .lockHeld, .stalePlan: throw CommandFailure.refused(error.description)
            default: throw CommandFailure.runtime(error.description)
            }
        }
        guard let outcome else { return .success }
        environment.stdout.write("\nApply complete: \(plural(outcome.applied, "change")) applied; the store is at serial \(outcome.serial).\n")
        // Also retries what an earlier apply left undelivered; prints nothing when there is nothing.
        deliver(store: store, config: project.config, root: project.manifest.root, environment: environment)
        return .success
    }

    private func readPlan(_ file: String, in environment: Environment) throws -> Plan {
        let path = file.hasPrefix("/") ? file : environment.workingDirectory + "/" + file
        do {
            return try Plan.read(json: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw CommandFailure(status: .usage, message: "cannot read the saved plan '\(file)': \(error.localizedDescription); "
                                 + "save one with 'roster plan --out \(file)'")
        }
    }
}

/// Delivers pending invitation messages and says what happened; never fails the command.
@discardableResult
func deliver(store: any StateStore, config: Config, root: String, environment: Environment) -> DeliveryReport {
    let channel: any DeliveryChannel
    switch config.invitations.delivery {
    case .file(let path):
        channel = FileDelivery(folder: path.hasPrefix("/") ? path : root + "/" + path)
    case .webhook, .sendmail:
        environment.stderr.write("warning: this build delivers invitations to files only; messages stay in the outbox\n")
        return DeliveryReport()
    }
    do {
        let report = try Deliverer(store: store, channel: channel).deliverPending(now: environment.now)
        if report.delivered > 0 { environment.stdout.write("Delivered \(plural(report.delivered, "invitation")).\n") }
        for failure in report.failed {
            environment.stderr.write("warning: delivery failed for \(failure); 'roster deliver' retries\n")
        }
        return report
    } catch {
        environment.stderr.write("warning: delivery stopped: \(error); 'roster deliver' retries\n")
        return DeliveryReport()
    }
}
