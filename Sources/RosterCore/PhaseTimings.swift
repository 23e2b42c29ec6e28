import Foundation

/// Wall-clock and CPU seconds of the named phases of one command, and the peak resident memory
/// and the resident set at each phase's end, for benchmarks and profiling: with `ROSTER_TIMINGS=1`
/// the CLI prints them on stderr (`timing: NAME 1.234 s, 1.50 s CPU, 512 MiB peak, 300 MiB now`)
/// as it exits.
/// Off, `measure` only runs its body.
public enum PhaseTimings {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var enabled = false
    nonisolated(unsafe) private static var phases: [(name: String, seconds: Double, cpu: Double, resident: Int, now: Int)] = []

    public static func enable() {
        lock.withLock { enabled = true }
    }

    public static func measure<T, E: Error>(_ name: String, _ body: () throws(E) -> T) throws(E) -> T {
        guard lock.withLock({ enabled }) else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let startCPU = usage().cpu
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let (cpu, resident) = usage()
            let now = Self.residentNow()
            lock.withLock { phases.append((name, seconds, cpu - startCPU, resident, now)) }
        }
        return try body()
    }

    /// The recorded phases in the order they ended, one line each; empty when off.
    public static func report() -> String {
        lock.withLock {
            phases.map {
                "timing: \($0.name) \(String(format: "%.3f", $0.seconds)) s, \(String(format: "%.2f", $0.cpu)) s CPU, "
                    + "\($0.resident) MiB peak, \($0.now) MiB now\n"
            }.joined()
        }
    }

    /// The resident set now, in MiB (from /proc/self/statm; 0 where there is none): beside the
    /// peak, what the phase left alive (freed memory malloc keeps counts too).
    private static func residentNow() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 128)
        let count = read(fd, &bytes, bytes.count)
        guard count > 0, let statm = String(validating: bytes[..<count], as: UTF8.self),
              let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
        return (pages * Int(sysconf(Int32(_SC_PAGESIZE)))) >> 20
    }

    /// The process's CPU seconds (user and system, every thread) and peak resident set so far.
    private static func usage() -> (cpu: Double, peakMiB: Int) {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return (0, 0) }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return (seconds(usage.ru_utime) + seconds(usage.ru_stime), usage.ru_maxrss >> 10)
    }
}
