import Foundation
import GRDBSQLite

/// Copies a large transaction's pages from the WAL into the database file on a thread of its
/// own, over a connection of its own, while the process goes on (a first apply goes on to
/// deliver its invitations).
///
/// SQLite checkpoints on the connection that commits, as part of the commit, once the WAL holds
/// more than 1,000 pages: after the 440,000 changes of a first apply that is some 465 MB copied
/// before `apply` can go on, about 3 s (BENCHMARKS.md). A commit of 10,000 rows or more skips
/// it (`SQLiteStore.largeTransaction`) and this runs a PASSIVE checkpoint instead, then syncs the
/// file (`writeOut`): it takes no lock a reader or the writer waits for, the writer's later
/// commits skip their own checkpoints while it runs (`isRunning`), and a crash in the middle of
/// it is a checkpoint SQLite finishes at the next open, as always. The store waits for it before
/// it closes.
final class SQLiteCheckpointer: @unchecked Sendable {
    // @unchecked: `running` is guarded by `lock`; `path` and `done` are constants.
    private let path: String
    private let lock = NSLock()
    private var running = false
    private let done = DispatchGroup()

    init(path: String) {
        self.path = path
    }

    /// Starts a checkpoint unless one is running (it will copy what there is when it gets there).
    func start() {
        guard lock.withLock({ () -> Bool in
            defer { running = true }
            return !running
        }) else { return }
        done.enter()
        let thread = Thread { [self] in
            var handle: OpaquePointer?
            // A read first: a new connection opens the file, and finds it in WAL mode, only then.
            // Best effort: what it leaves is copied by a later commit or when the store closes.
            if sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
               sqlite3_exec(handle, "SELECT COUNT(*) FROM sqlite_schema", nil, nil, nil) == SQLITE_OK {
                _ = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            }
            sqlite3_close(handle)
            Self.writeOut(path)
            lock.withLock { running = false }
            done.leave()
        }
        thread.name = "roster.sqlite.checkpoint"
        thread.start()
    }

    /// Whether a checkpoint is copying or writing out: the writer's commits leave checkpoints to
    /// it meanwhile.
    var isRunning: Bool {
        lock.withLock { running }
    }

    /// Has the kernel write the file's copied pages to disk, here rather than in a commit.
    ///
    /// SQLite syncs the file only after a checkpoint that copied every frame of the WAL; the
    /// commits of the delivery after a first apply add frames while this one copies, so it
    /// stopped short of that sync, and the next commit's own checkpoint then waited 0.6–0.8 s in
    /// `fdatasync` for the 480 MB this one had copied (`strace`, 2026-12-06), with the delivery
    /// waiting on it. A sync changes nothing SQLite relies on: it only writes the pages sooner.
    private static func writeOut(_ path: String) {
        let file = open(path, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return }
        _ = fdatasync(file)
        close(file)
    }

    /// Waits for a running checkpoint to end.
    func wait() {
        done.wait()
    }
}
