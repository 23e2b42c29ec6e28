import Foundation
import RosterCore
import RosterStore

/// What the application layer may see of the world, passed in so that tests, the CLI and a
/// long-running server each control it: never read from the process here.
public struct AppEnvironment: Sendable {
    /// Relative paths on the command line and shown paths are relative to it.
    public var workingDirectory: String
    /// Environment variables: `ROSTER_STATE`, `PGPASSWORD`, webhook secrets, the CI's user.
    public var variables: [String: String]
    /// The clock; validation reads today's UTC date from it, the retry schedule its times.
    public var now: @Sendable () -> Date
    /// Where invitation tokens, ids, a new store's lineage and retry jitter come from.
    public var random: any RandomSource

    public init(workingDirectory: String, variables: [String: String], now: @escaping @Sendable () -> Date,
                random: any RandomSource) {
        self.workingDirectory = workingDirectory
        self.variables = variables
        self.now = now
        self.random = random
    }

    /// `path` as given, or relative to the working directory.
    public func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : workingDirectory + "/" + path
    }

    /// Who acts: `explicit` (`--actor`), else the CI's user, else the OS user.
    public func actor(_ explicit: String?) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        for variable in ["GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR", "USER", "LOGNAME"] {
            if let value = variables[variable], !value.isEmpty { return value }
        }
        return "unknown"
    }

    /// The lock holder this process records while it holds a store's lock.
    public func lockHolder(actor: String) -> LockHolder {
        LockHolder(host: ProcessInfo.processInfo.hostName, pid: getpid(), actor: actor, since: Timestamp.string(now()))
    }
}
