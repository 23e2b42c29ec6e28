import Foundation

/// Writes a file so that it appears only once complete: a failed or interrupted write leaves
/// the old file (or none), never half of the new one.
///
/// On Linux the bytes go into an unnamed file in the target's folder (`O_TMPFILE`), which is
/// then given its name (`linkat`): one change to the folder instead of two (create a temporary
/// name, rename it), and a crash leaves nothing behind. 100,000 outbox messages took about a
/// quarter less of the kernel's time (BENCHMARKS.md). Where the name is taken (a file is
/// replaced), or the file system has no unnamed files, the bytes go through `temporary`,
/// renamed over the path.
public enum AtomicFile {
    /// What went wrong, with the system's words: "cannot write PATH: No space left on device".
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Writes `path` with `mode` (less the umask); `body` hands over the bytes, in chunks.
    /// `temporary` is the name used when the file is replaced.
    public static func write(_ path: String, temporary: String, mode: mode_t,
                             _ body: (_ write: @escaping ([UInt8]) -> Void) -> Void) throws(Failure) {
        #if os(Linux)
        let unnamed = canNameUnnamedFiles ? open(folder(of: path), unnamedFile | O_WRONLY | O_CLOEXEC, mode) : -1
        if unnamed >= 0 {
            defer { close(unnamed) }
            try fill(unnamed, naming: path, body)
            if name(unnamed, path) { return }
            guard errno == EEXIST else { throw failure("cannot create \(path)") }
            // Replacing a file: the complete copy gets the temporary name, then takes the path.
            var named = name(unnamed, temporary)
            if !named, errno == EEXIST {  // left by a crash
                unlink(temporary)
                named = name(unnamed, temporary)
            }
            guard named else { throw failure("cannot create \(temporary)") }
            return try replace(path, with: temporary)
        }
        #endif
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("cannot write \(temporary)") }
        do throws(Failure) {
            try fill(fd, naming: temporary, body)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        try replace(path, with: temporary)
    }

    /// Writes what `body` hands over to `fd`; the first error stops it.
    private static func fill(_ fd: Int32, naming path: String, _ body: (_ write: @escaping ([UInt8]) -> Void) -> Void)
        throws(Failure) {
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
        guard error == 0 else { throw Failure(description: "cannot write \(path): \(String(cString: strerror(error)))") }
    }

    private static func replace(_ path: String, with temporary: String) throws(Failure) {
        guard rename(temporary, path) == 0 else {
            let failure = failure("cannot rename \(temporary) to \(path)")
            unlink(temporary)
            throw failure
        }
    }

    #if os(Linux)
    /// `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`), which Glibc's module does not export.
    private static let unnamedFile: Int32 = 0o20_000_000 | O_DIRECTORY
    /// An unnamed file is named through /proc (`AT_EMPTY_PATH` needs a capability).
    private static let canNameUnnamedFiles = access("/proc/self/fd", X_OK) == 0

    /// Gives the unnamed file `fd` the name `path`; false (with errno) when that fails.
    private static func name(_ fd: Int32, _ path: String) -> Bool {
        linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0
    }

    private static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
    #endif

    private static func failure(_ what: String) -> Failure {
        Failure(description: "\(what): \(String(cString: strerror(errno)))")
    }
}
