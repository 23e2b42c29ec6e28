import Foundation

/// Writes a file through a temporary file beside it, renamed over the path only once complete:
/// a failed or interrupted write leaves the old file (or none), never half of the new one.
public enum AtomicFile {
    /// What went wrong, with the system's words: "cannot write PATH: No space left on device".
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Writes `path` with `mode` through `temporary`; `body` hands over the bytes, in chunks.
    public static func write(_ path: String, temporary: String, mode: mode_t,
                             _ body: (_ write: @escaping ([UInt8]) -> Void) -> Void) throws(Failure) {
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("cannot write \(temporary)") }
        var error: Int32 = 0
        body { bytes in
            guard error == 0 else { return }
            var done = 0
            while done < bytes.count {
                let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, $0.count - done) }
                guard written > 0 else {
                    error = errno
                    return
                }
                done += written
            }
        }
        close(fd)
        guard error == 0 else {
            unlink(temporary)
            throw Failure(description: "cannot write \(temporary): \(String(cString: strerror(error)))")
        }
        guard rename(temporary, path) == 0 else {
            let failure = failure("cannot rename \(temporary) to \(path)")
            unlink(temporary)
            throw failure
        }
    }

    private static func failure(_ what: String) -> Failure {
        Failure(description: "\(what): \(String(cString: strerror(errno)))")
    }
}
