/// The exit codes of SPEC §4.4, shared by every command.
public enum ExitStatus: Int32, Sendable {
    /// Success; for `plan --detailed-exitcode`, no changes.
    case success = 0
    /// Runtime error: store unreachable, I/O, a bug.
    case runtimeError = 1
    /// `plan --detailed-exitcode` only: changes present.
    case changesPresent = 2
    /// The files are invalid.
    case invalidFiles = 3
    /// Refused: a safety rail, a held lock, a stale plan, or apply without approval.
    case refused = 4
    /// Bad command-line usage.
    case usage = 64
}
