import Foundation

/// The process's memory, beyond what Swift manages.
public enum Memory {
    /// Gives the pages of memory freed so far back to the system (glibc's `malloc_trim`; a no-op
    /// where there is none). glibc keeps freed memory for the thread arena it came from: memory a
    /// phase lets go of on one thread is not reused by allocations on another, so before such a
    /// phase the resident set would add the two up.
    public static func returnFreedMemory() {
        typealias Trim = @convention(c) (Int) -> Int32
        // The program's own handle: its lookups reach the C library's symbols.
        guard let program = dlopen(nil, RTLD_NOW), let symbol = dlsym(program, "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
    }
}
