import Foundation

/// An exclusive lock on a file (`flock`), held by this process until released or until it
/// dies: a killed apply never leaves the lock behind. The holder is written into the file so
/// whoever waits can say who it is waiting for.
final class FileLock {
    private let path: String
    private var descriptor: Int32 = -1

    init(path: String) {
        self.path = path
    }

    /// Waits up to `timeout` seconds; returns false (with the current holder, if readable) when still held.
    func acquire(holder: LockHolder, timeout: TimeInterval) throws -> (acquired: Bool, holder: LockHolder?) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.lockFile(path: path, reason: String(cString: strerror(errno))) }
        _ = fchmod(fd, 0o600)
        let deadline = Date().addingTimeInterval(max(0, timeout))
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if Date() >= deadline {
                let current = Self.readHolder(path)
                close(fd)
                return (false, current)
            }
            usleep(50_000)
        }
        descriptor = fd
        if let data = try? JSONEncoder().encode(holder) {
            _ = ftruncate(fd, 0)
            _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        return (true, nil)
    }

    func release() {
        guard descriptor >= 0 else { return }
        _ = ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    private static func readHolder(_ path: String) -> LockHolder? {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return nil }
        return try? JSONDecoder().decode(LockHolder.self, from: data)
    }
}
