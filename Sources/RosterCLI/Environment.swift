import Foundation
import RosterApp
import RosterCore

/// Where a command writes text: the process's stdout or stderr, or a buffer in tests.
public final class TextSink: @unchecked Sendable {
    private let lock = NSLock()
    private let handle: FileHandle?
    private var buffer = ""

    /// A sink that writes through to `handle`.
    public init(handle: FileHandle) {
        self.handle = handle
    }

    /// A sink that keeps what is written, for tests.
    public init() {
        self.handle = nil
    }

    public func write(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        if let handle {
            handle.write(Data(text.utf8))
        } else {
            buffer += text
        }
    }

    /// Writes bytes that are whole UTF-8 (a chunk of a streamed document).
    public func write(bytes: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        if let handle {
            bytes.withUnsafeBytes { handle.write(Data($0)) }
        } else {
            buffer += String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Everything written so far (buffered sinks only).
    public var text: String {
        lock.lock()
        defer { lock.unlock() }
        return buffer
    }
}

/// What a command may see of the world: passed in so tests control every part of it.
public struct Environment: Sendable {
    public var workingDirectory: String
    public var variables: [String: String]
    public var stdout: TextSink
    public var stderr: TextSink
    /// Whether stdout is a terminal (colour and prompts are for terminals only).
    public var stdoutIsTerminal: Bool
    /// The clock; validation reads today's UTC date from it.
    public var now: @Sendable () -> Date
    /// Where invitation tokens, ids and a new store's lineage come from.
    public var random: any RandomSource
    /// Whether stderr is a terminal (progress of long work is shown only there).
    public var stderrIsTerminal = false
    /// Whether stdin is a terminal (apply asks for approval only there).
    public var stdinIsTerminal: Bool
    /// Reads one line of stdin; nil at end of input.
    public var readLine: @Sendable () -> String?
    /// True when the process ends right after the command: large values are then left to the
    /// operating system instead of being freed one object at a time (a tenth of a second for
    /// a 100,000-user directory). Tests run many commands in one process and keep it false.
    public var exitsAfterCommand = false

    public init(workingDirectory: String, variables: [String: String], stdout: TextSink, stderr: TextSink,
                stdoutIsTerminal: Bool, now: @escaping @Sendable () -> Date,
                random: any RandomSource = SystemRandomSource(), stdinIsTerminal: Bool = false,
                readLine: @escaping @Sendable () -> String? = { nil }) {
        self.workingDirectory = workingDirectory
        self.variables = variables
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutIsTerminal = stdoutIsTerminal
        self.now = now
        self.random = random
        self.stdinIsTerminal = stdinIsTerminal
        self.readLine = readLine
    }

    /// The real process: its directory, variables, standard streams and the system clock.
    public static func process() -> Environment {
        Environment(workingDirectory: FileManager.default.currentDirectoryPath,
                    variables: ProcessInfo.processInfo.environment,
                    stdout: TextSink(handle: .standardOutput),
                    stderr: TextSink(handle: .standardError),
                    stdoutIsTerminal: isatty(STDOUT_FILENO) == 1,
                    now: { Date() },
                    random: SystemRandomSource(),
                    stdinIsTerminal: isatty(STDIN_FILENO) == 1,
                    readLine: { Swift.readLine() })
            .exitingAfterCommand()
            .withTerminalStderr(isatty(STDERR_FILENO) == 1)
    }
}

extension Environment {
    /// What the application layer sees of this environment (no streams, no terminal).
    var app: AppEnvironment {
        AppEnvironment(workingDirectory: workingDirectory, variables: variables, now: now, random: random)
    }

    func withTerminalStderr(_ isTerminal: Bool) -> Environment {
        var copy = self
        copy.stderrIsTerminal = isTerminal
        return copy
    }

    func exitingAfterCommand() -> Environment {
        var copy = self
        copy.exitsAfterCommand = true
        return copy
    }

    /// Keeps `value` alive until the process exits, when it is about to.
    func releaseAtExit<T>(_ value: T) {
        guard exitsAfterCommand else { return }
        _ = Unmanaged.passRetained(Box(value))
    }
}

/// A reference to hold a value of any type.
private final class Box<T> {
    let value: T
    init(_ value: T) { self.value = value }
}
