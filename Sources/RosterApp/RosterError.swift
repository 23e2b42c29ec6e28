import Foundation
import RosterCore
import RosterDelivery
import RosterStore

/// Everything a roster command or request can fail with, as data. `description` is the one
/// place that words it (user values quoted, what to do next); `exitStatus` the one mapping to
/// SPEC §4.4's exit codes.
public enum RosterError: Error, Sendable, CustomStringConvertible {
    // Usage (64)
    /// `sqlite:` without a path.
    case emptySQLitePath
    /// A state URL of no known kind (shown masked).
    case unknownStateURL(url: String)
    case unreadablePlan(file: String, reason: String)
    case unknownRevision(revision: String, repository: String)
    case unknownPermission(permission: String, suggestion: String?)
    case wildcardPermission(permission: String)
    case unknownScope(scope: ScopeRef, suggestion: String?)

    // Invalid files (3)
    case invalidFiles(errors: Int)
    /// `roster diff`: the files are invalid at these revisions ("the working tree" for none).
    case invalidFilesAt(revisions: [String])
    case configNotFound(searched: String)

    // Refused (4)
    case approvalRequired
    case cancelled
    case railsBlocked([RailCheck])

    // Runtime (1), or as the store error says
    case store(StoreError)
    case delivery(DeliveryError)
    case cannotWrite(what: String, path: String, reason: String)
    case notStored(entity: String)
    /// `roster access` for an email the store (or the files) does not hold.
    case unknownUser(email: String, closest: [String])
    case exportFolderNotEmpty(path: String)
    /// A stored customer id that is not a slug cannot name a file of an export.
    case unsafeExportName(id: String)
    case notInRepository(folder: String)
    case cannotReadRevision(revision: String, reason: String)
    /// `gitignore`: an existing .gitignore, which init extends rather than overwrites.
    case refusingToOverwrite(paths: [String], gitignore: String?)
    case cannotCreateProject(folder: String, reason: String)
    /// `roster serve` cannot listen on the address (in use, not this machine's).
    case cannotListen(address: String, reason: String)
    /// `roster apply`: roster.yaml named one store when the apply opened it and another once the
    /// files had loaded (edited in between).
    case storeChanged(locked: String, named: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .emptySQLitePath, .unknownStateURL, .unreadablePlan, .unknownRevision, .unknownPermission, .wildcardPermission,
             .unknownScope:
            return .usage
        case .invalidFiles, .invalidFilesAt, .configNotFound: return .invalidFiles
        case .approvalRequired, .cancelled, .railsBlocked: return .refused
        case .store(let error):
            switch error {
            case .lockHeld, .stalePlan: return .refused
            case .badURL: return .usage
            default: return .runtimeError
            }
        case .delivery, .cannotWrite, .notStored, .unknownUser, .exportFolderNotEmpty, .unsafeExportName, .notInRepository, .cannotReadRevision, .refusingToOverwrite,
             .cannotCreateProject, .cannotListen, .storeChanged:
            return .runtimeError
        }
    }

    public var description: String {
        switch self {
        case .emptySQLitePath:
            return "the state URL 'sqlite:' names no file; write sqlite:PATH, e.g. sqlite:.roster/state.db"
        case .unknownStateURL(let url):
            return "unknown state URL '\(url)'; use sqlite:PATH or postgres://user@host:5432/db"
        case .unreadablePlan(let file, let reason):
            return "cannot read the saved plan '\(file)': \(reason); save one with 'roster plan --out \(file)'"
        case .unknownRevision(let revision, let repository):
            return "revision '\(revision)' does not exist in the repository at \(repository)"
        case .unknownPermission(let permission, let suggestion):
            return "'\(permission)' is not a permission of the catalogue in roster.yaml"
                + (suggestion.map { "; did you mean '\($0)'?" } ?? "; write MODULE:ACTION, e.g. streams:delete")
        case .wildcardPermission(let permission):
            return "'\(permission)' is not a permission: '*' stands for every action only in roles; name one, e.g. streams:delete"
        case .unknownScope(let scope, let suggestion):
            return "\(scope.kind.rawValue) '\(scope.id)' does not exist" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
        case .invalidFiles(let errors):
            return "the files are invalid (\(plural(errors, "error"))); fix them and run again ('roster validate' lists them)"
        case .invalidFilesAt(let revisions):
            return "the files are invalid at " + revisions.joined(separator: " and ") + "; fix them to see the diff"
        case .configNotFound(let searched):
            return Problem.configNotFound(searched: searched).message
        case .approvalRequired:
            return "apply needs approval: run it on a terminal to answer the prompt, pass --auto-approve, "
                + "or apply a saved plan ('roster apply plan.json'); nothing was changed"
        case .cancelled:
            return "apply cancelled; nothing was changed"
        case .railsBlocked(let rails):
            return "blocked by safety rails: " + rails.map { "\($0.rail.rawValue) (\($0.message))" }.joined(separator: "; ")
                + "; review the plan, then pass " + rails.map { "--allow \($0.rail.rawValue)" }.joined(separator: " ")
        case .store(let error):
            return error.description
        case .delivery(let error):
            return error.description
        case .cannotWrite(let what, let path, let reason):
            return "cannot write \(what) to '\(path)': \(reason)"
        case .notStored(let entity):
            return "'\(entity)' is not a stored customer, account or user; 'roster show' lists them"
        case .unknownUser(let email, let closest):
            return "'\(email)' is not a user of the directory"
                + (closest.isEmpty ? "" : "; the closest are " + closest.map { "'\($0)'" }.joined(separator: ", "))
        case .exportFolderNotEmpty(let path):
            return "'\(path)' is not empty; export into an empty folder, or pass --force to replace the files roster writes there"
        case .unsafeExportName(let id):
            return "the stored customer id '\(id)' is not a slug and cannot name a file; fix it in the store first"
        case .notInRepository(let folder):
            return "\(folder) is not in a git repository; 'roster diff' compares git revisions"
        case .cannotReadRevision(let revision, let reason):
            return "cannot read the files of '\(revision)': \(reason)"
        case .refusingToOverwrite(let paths, let gitignore):
            return "refusing to overwrite \(paths.map { "'\($0)'" }.joined(separator: ", ")); nothing was written. "
                + "Move \(paths.count == 1 ? "it" : "them") away, or create the project elsewhere with --directory DIR"
                + (gitignore.map { " ('\($0)' is not in the way: init adds '.roster/' to an existing one)" } ?? "")
        case .cannotCreateProject(let folder, let reason):
            return "cannot create the project in '\(folder)': \(reason); nothing was kept"
        case .cannotListen(let address, let reason):
            return "cannot listen on \(address): \(reason); pick another with --listen HOST:PORT or serve.listen"
        case .storeChanged(let locked, let named):
            return "roster.yaml changed while apply read it: it named the store \(locked), now \(named); "
                + "nothing was applied, run the apply again"
        }
    }
}

/// Runs a store operation, turning store errors into roster errors.
public func storeCall<T>(_ body: () throws -> T) throws(RosterError) -> T {
    do {
        return try body()
    } catch let error as StoreError {
        throw .store(error)
    } catch let error as RosterError {
        throw error
    } catch {
        throw .store(.database("\(error)"))
    }
}
