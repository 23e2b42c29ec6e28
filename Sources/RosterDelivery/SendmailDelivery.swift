import Foundation
import RosterCore

/// The `sendmail` delivery kind: the RFC 5322 message on the standard input of a
/// sendmail-compatible command (`sendmail -t -i`, `msmtp -t`, postfix, exim), run without a
/// shell. Exit 0 is delivered; the sysexits a mail transfer agent uses for "try later" and a
/// timeout are temporary; any other exit is a permanent failure, reported with its stderr.
public struct SendmailDelivery: DeliveryChannel {
    /// The program (a path) and its arguments.
    public let program: String
    public let arguments: [String]
    public let timeout: Int
    public let sender: MailAddress?

    /// EX_TEMPFAIL 75, EX_UNAVAILABLE 69, EX_OSERR 71, EX_IOERR 74 (SPEC §6.1).
    public static let temporaryExits: Set<Int32> = [75, 69, 71, 74]

    /// A few commands at once: each is a process of its own talking to the mail server.
    public var concurrency: Int { 4 }

    /// Finds the command's program now (on `searchPath` when it has no slash), so a missing
    /// one is one clear error for the run instead of a failure per message.
    public init(settings: SendmailSettings, sender: MailAddress?, searchPath: String?) throws(DeliveryError) {
        guard let words = CommandLineWords.split(settings.command), let first = words.first else {
            throw .commandNotFound(program: settings.command)
        }
        guard let program = Self.locate(first, searchPath: searchPath ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin") else {
            throw .commandNotFound(program: first)
        }
        self.program = program
        self.arguments = Array(words.dropFirst())
        self.timeout = settings.timeout
        self.sender = sender
    }

    static func locate(_ name: String, searchPath: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for folder in searchPath.split(separator: ":") where !folder.isEmpty {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public func deliver(_ message: OutboundInvitation) async -> DeliveryOutcome {
        let text = InvitationMessage(message, sender: sender).text
        return await withCheckedContinuation { continuation in
            Self.onThreadOfItsOwn {
                continuation.resume(returning: run(input: Data(text.utf8)))
            }
        }
    }

    /// Runs `body` on a new thread. Each command blocks three threads (waiting for it, writing
    /// its input, reading its errors) for as long as it runs; on Dispatch's global queue they
    /// starve its few worker threads, and a command could wait a second for its input.
    static func onThreadOfItsOwn(_ body: @escaping @Sendable () -> Void) {
        Thread { body() }.start()
    }

    /// Runs the command once with `input` on its standard input; blocks until it ends or is killed.
    func run(input: Data) -> DeliveryOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let stdin = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        let ended = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in ended.signal() }
        do {
            try process.run()
        } catch {
            return .permanentFailure(reason: "cannot run '\(program)': \(error.localizedDescription)")
        }
        // The error output is read while the command runs, so a chatty one never blocks on a full pipe.
        let errorOutput = ErrorOutput()
        let reading = DispatchSemaphore(value: 0)
        Self.onThreadOfItsOwn {
            errorOutput.data = stderr.fileHandleForReading.readDataToEndOfFile()
            reading.signal()
        }
        // A command that exits without reading its input must not kill roster with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        // The input is written from another thread, so the timeout also stops a command that
        // hangs without reading a message larger than a pipe holds; once it is killed the
        // write fails (EPIPE) and that thread ends.
        let writer = stdin.fileHandleForWriting
        Self.onThreadOfItsOwn {
            try? writer.write(contentsOf: input)
            try? writer.close()
        }
        if ended.wait(timeout: .now() + .seconds(timeout)) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            ended.wait()
            _ = reading.wait(timeout: .now() + .seconds(2))
            return .temporaryFailure(reason: "'\(program)' did not finish within \(timeout) s and was stopped", retryAfter: nil)
        }
        _ = reading.wait(timeout: .now() + .seconds(2))
        let said = String(decoding: errorOutput.data.prefix(2000), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " | ")
        if process.terminationReason == .uncaughtSignal {
            return .temporaryFailure(reason: "'\(program)' was killed by signal \(process.terminationStatus)", retryAfter: nil)
        }
        let status = process.terminationStatus
        if status == 0 { return .delivered }
        let reason = "'\(program)' exited with \(status)" + (said.isEmpty ? "" : ": \(said)")
        return Self.temporaryExits.contains(status) ? .temporaryFailure(reason: reason, retryAfter: nil)
                                                    : .permanentFailure(reason: reason)
    }
}

/// What a command wrote to its standard error, handed from the reading thread.
private final class ErrorOutput: @unchecked Sendable {
    var data = Data()
}
