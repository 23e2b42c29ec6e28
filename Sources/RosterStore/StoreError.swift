import Foundation
import RosterCore

/// Errors a store reports; wording for users lives in `description`.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    case lockHeld(holder: LockHolder?)
    case stalePlan(planLineage: String, planSerial: Int, lineage: String, serial: Int, since: [AuditRecord])
    case unknownToken
    case tokenUsed(email: String)
    case tokenRevoked(email: String)
    case tokenExpired(email: String, expiredAt: String)
    case noPendingInvitation(email: String)
    case unknownUser(email: String)
    case inconsistent(PlanMismatch)
    /// An audit row whose action or entity type this version does not know.
    case unknownAuditEntry(sequence: Int, action: String, entityType: String)
    /// An outbox message whose invitation cannot be read back.
    case unreadableInvitation(id: String)
    /// The database's own words for a failure, with nothing of roster's around them.
    case database(String)
    case cannotOpen(path: String, detail: String)
    case migrationBusy(path: String, seconds: Int)
    case lockFile(path: String, reason: String)
    case postgres(PostgresFailure)
    /// A state URL that cannot be used as written (a usage error, not a runtime one).
    case badURL(PostgresURLProblem)

    public var description: String {
        switch self {
        case .lockHeld(let holder):
            return "the store is locked by another apply"
                + (holder.map { ": \($0)" } ?? "") + "; wait for it, or retry with --lock-timeout 5m"
        case .stalePlan(let planLineage, let planSerial, let lineage, let serial, let since):
            if planLineage != lineage {
                return "the saved plan was made for another store (lineage \(planLineage), this store is \(lineage)); run 'roster plan' again"
            }
            var text = "the saved plan is stale: it was made at serial \(planSerial), the store is at serial \(serial); run 'roster plan' again"
            if !since.isEmpty {
                text += "\nchanged since:"
                for record in since.prefix(50) {
                    text += "\n  serial \(record.serial) \(record.at) \(record.actor): \(record.action) \(record.entityType) \(record.entityID)"
                }
                if since.count > 50 { text += "\n  … and \(since.count - 50) more (roster history)" }
            }
            return text
        case .unknownToken:
            return "unknown invitation token; check the link, or ask for a new invitation ('roster invitations resend EMAIL')"
        case .tokenUsed(let email):
            return "this invitation for '\(email)' was already accepted"
        case .tokenRevoked(let email):
            return "this invitation for '\(email)' was revoked; ask for a new one ('roster invitations resend \(email)')"
        case .tokenExpired(let email, let at):
            return "this invitation for '\(email)' expired at \(at); ask for a new one ('roster invitations resend \(email)')"
        case .noPendingInvitation(let email):
            return "'\(email)' has no pending invitation"
        case .unknownUser(let email):
            return "'\(email)' is not in the store"
        case .unknownAuditEntry(let sequence, let action, let entityType):
            return "audit record \(sequence) says '\(action)' of '\(entityType)', which this roster does not know; upgrade roster"
        case .unreadableInvitation(let id):
            return "the outbox message of invitation \(id) cannot be read back; revoke or resend that invitation"
        case .inconsistent(let mismatch):
            return "the plan does not fit the store: \(mismatch); run 'roster plan' again"
        case .database(let detail):
            return "store error: \(detail)"
        case .cannotOpen(let path, let detail):
            return "store error: cannot open \(path): \(detail)"
        case .migrationBusy(let path, let seconds):
            return "store error: another process has been migrating \(path) for over \(seconds) s"
        case .lockFile(let path, let reason):
            return "store error: cannot open lock file \(path): \(reason)"
        case .postgres(let failure):
            return "store error: \(failure)"
        case .badURL(let problem):
            return problem.description
        }
    }
}


/// Why a plan cannot be applied to the store as it is (it was made against another state).
public enum PlanMismatch: Sendable, Hashable, CustomStringConvertible {
    case userMissing(email: String)
    case renameWithoutPreviousUser
    case membershipNotActive(id: String)
    case reissueNamesNoInvitation(change: String)
    case invitationNotPending(id: String)
    case cannotApply(action: ChangeAction, type: EntityType)
    case noUserWithID(Int64)

    public var description: String {
        switch self {
        case .userMissing(let email): return "user '\(email)' is not in the store"
        case .renameWithoutPreviousUser: return "rename without a previous user"
        case .membershipNotActive(let id): return "membership \(id) is not active"
        case .reissueNamesNoInvitation(let change): return "reissue-invitation \(change) names no invitation"
        case .invitationNotPending(let id): return "invitation \(id) is no longer pending"
        case .cannotApply(let action, let type): return "cannot apply \(action.rawValue) \(type.rawValue)"
        case .noUserWithID(let id): return "no user with id \(id)"
        }
    }
}

/// What is wrong with a `postgres://` URL; never repeats the password.
public enum PostgresURLProblem: Sendable, Hashable, CustomStringConvertible {
    /// `url` is shown masked.
    case notPostgres(url: String)
    case noHost(url: String)
    case portOutOfRange(port: Int)
    case unsupportedSSLMode(value: String)
    case badConnectTimeout(value: String)
    case badSchema(value: String)
    case unknownParameter(name: String)

    public var description: String {
        let expected = "expected postgres://user:password@host:5432/database"
        switch self {
        case .notPostgres(let url): return "'\(url)' is not a PostgreSQL URL; \(expected)"
        case .noHost(let url): return "'\(url)' names no host; \(expected)"
        case .portOutOfRange(let port): return "port \(port) is out of range 1-65535"
        case .unsupportedSSLMode(let value): return "sslmode=\(value) is not supported; use disable, require or verify-full"
        case .badConnectTimeout(let value): return "connect_timeout=\(value) is not a number of seconds from 1 to 3600"
        case .badSchema(let value):
            return "schema=\(value) is not a plain lowercase name (a-z, 0-9 and _, up to 63, not starting with a digit or pg_)"
        case .unknownParameter(let name):
            return "unknown parameter '\(name)' in the PostgreSQL URL; roster knows sslmode, connect_timeout and schema"
        }
    }
}

/// How talking to a PostgreSQL server failed, naming the server (never a password) and what to do.
public enum PostgresFailure: Sendable, Hashable, CustomStringConvertible {
    case refusedUser(server: String, user: String, message: String)
    case noDatabase(server: String, database: String)
    case lockWaitExceeded(message: String)
    case sessionEnded(server: String, message: String)
    case serverError(server: String, state: String, message: String)
    case connectTimeout(server: String, seconds: Int)
    case cannotConnect(server: String, reason: String)
    case noTLS(server: String, sslmode: String)
    case passwordNeeded(server: String, user: String)
    case connectionLost(server: String)
    case noAnswer(server: String, seconds: Int)
    /// A pooled store had no connection to lend within its lease timeout.
    case noConnection(server: String)
    case lostWhileCommitting(url: String)
    case failed(server: String, code: String)

    public var description: String {
        let nothingStored = "nothing of the open transaction was stored"
        switch self {
        case .refusedUser(let server, let user, let message):
            return "the PostgreSQL server at \(server) refused user '\(user)': \(message); "
                + "check the user and the password (in the URL or PGPASSWORD)"
        case .noDatabase(let server, let database):
            return "database '\(database)' does not exist on \(server); create it (createdb \(database)) or fix the URL"
        case .lockWaitExceeded(let message):
            return "another roster process held the store's lock for longer than the wait allowed (\(message)); try again"
        case .sessionEnded(let server, let message):
            return "the PostgreSQL server at \(server) ended the connection (\(message)); \(nothingStored)"
        case .serverError(let server, let state, let message):
            return "PostgreSQL error \(state) at \(server): \(message)"
        case .connectTimeout(let server, let seconds):
            return "could not connect to the PostgreSQL server at \(server) within \(seconds) s; "
                + "check the host and port, or raise connect_timeout in the URL"
        case .cannotConnect(let server, let reason):
            return "cannot connect to the PostgreSQL server at \(server): \(reason); check the host and port and that the server runs"
        case .noTLS(let server, let sslmode):
            return "the PostgreSQL server at \(server) does not offer TLS, which sslmode=\(sslmode) demands"
        case .passwordNeeded(let server, let user):
            return "the PostgreSQL server at \(server) asks user '\(user)' for a password; give it in the URL or PGPASSWORD"
        case .connectionLost(let server):
            return "lost the connection to the PostgreSQL server at \(server); \(nothingStored)"
        case .noAnswer(let server, let seconds):
            return "the PostgreSQL server at \(server) did not answer within \(seconds) s; \(nothingStored)"
        case .noConnection(let server):
            return "no connection to the PostgreSQL server at \(server) could be had in time; it may be down or too busy"
        case .lostWhileCommitting(let url):
            return "the connection to \(url) was lost while committing; the change was stored in full or not at all: "
                + "'roster history' shows which"
        case .failed(let server, let code):
            return "PostgreSQL connection to \(server) failed (\(code))"
        }
    }
}
