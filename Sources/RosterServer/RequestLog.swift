import Foundation
import Logging

/// A swift-log handler that writes lines to a file descriptor (stderr) through a buffer: lines
/// are appended under a lock and written by a thread of their own every `interval`, or at once
/// when the buffer is full, for a warning or worse, and at `flush()`. Under load the request log
/// (one line per request) is then a few writes a second instead of one per request, and the
/// timestamp is formatted once a second; no line is dropped.
///
/// The lines read like swift-log's `StreamLogHandler`'s:
/// `2026-12-01T21:59:49+0000 info roster.serve: method=POST ms=0.12 route=/x status=200 [RosterServer] request`.
public final class BufferedLogWriter: @unchecked Sendable {
    // @unchecked: `buffer`, `second` and `stamp` are read and written under `lock`; `fd` is a constant.
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var second = -1
    private var stamp = ""
    private let fd: Int32
    private let limit = 64 * 1024

    /// Writes to `fd` (2: stderr), flushing every `interval` from a background thread.
    public init(fd: Int32 = 2, interval: TimeInterval = 0.1) {
        self.fd = fd
        buffer.reserveCapacity(limit)
        let thread = Thread { [weak self] in
            while let writer = self {
                Thread.sleep(forTimeInterval: interval)
                writer.flush()
            }
        }
        thread.name = "roster.serve.log"
        thread.start()
    }

    /// A log handler of `label` writing here.
    public func handler(label: String) -> any LogHandler {
        Handler(label: label, writer: self)
    }

    /// Writes what is buffered.
    public func flush() {
        let bytes: [UInt8] = lock.withLock {
            let taken = buffer
            buffer.removeAll(keepingCapacity: true)
            return taken
        }
        write(bytes)
    }

    /// Appends one line: the timestamp, then `line` (the rest of it, newline included).
    fileprivate func append(_ line: [UInt8], urgent: Bool) {
        let full: [UInt8]? = lock.withLock {
            buffer.append(contentsOf: timestamp().utf8)
            buffer.append(contentsOf: line)
            guard urgent || buffer.count >= limit else { return nil }
            let taken = buffer
            buffer.removeAll(keepingCapacity: true)
            return taken
        }
        if let full { write(full) }
    }

    /// `2026-12-01T21:59:49+0000`, UTC, formatted again only when the second changes; under `lock`.
    private func timestamp() -> String {
        var now = time(nil)
        guard now != second else { return stamp }
        var parts = tm()
        gmtime_r(&now, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        stamp = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))+0000"
        second = now
        return stamp
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    private struct Handler: LogHandler {
        let label: String
        let writer: BufferedLogWriter
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        /// The line after its timestamp, built outside the writer's lock: metadata sorted by
        /// key (the event's over the logger's), without a merged dictionary or a text per pair.
        func log(event: LogEvent) {
            var pairs: [(key: String, value: Logger.Metadata.Value)] = []
            pairs.reserveCapacity(metadata.count + (event.metadata?.count ?? 0))
            let explicit = event.metadata ?? [:]
            let provided = metadataProvider?.get() ?? [:]
            for (key, value) in metadata where explicit[key] == nil && provided[key] == nil { pairs.append((key, value)) }
            for (key, value) in provided where explicit[key] == nil { pairs.append((key, value)) }
            for (key, value) in explicit { pairs.append((key, value)) }
            pairs.sort { $0.key < $1.key }
            var line: [UInt8] = []
            line.reserveCapacity(200)
            line.append(UInt8(ascii: " "))
            line.append(contentsOf: event.level.rawValue.utf8)
            line.append(UInt8(ascii: " "))
            line.append(contentsOf: label.utf8)
            line.append(UInt8(ascii: ":"))
            for (key, value) in pairs {
                line.append(UInt8(ascii: " "))
                line.append(contentsOf: key.utf8)
                line.append(UInt8(ascii: "="))
                if case .string(let text) = value {
                    line.append(contentsOf: text.utf8)
                } else {
                    line.append(contentsOf: value.description.utf8)
                }
            }
            line.append(contentsOf: " [".utf8)
            line.append(contentsOf: event.source.utf8)
            line.append(contentsOf: "] ".utf8)
            line.append(contentsOf: event.message.description.utf8)
            line.append(UInt8(ascii: "\n"))
            writer.append(line, urgent: event.level >= .warning)
        }
    }
}
