import Foundation
import RosterCore

/// Expands roster.yaml's `sources` into the list of files to read.
///
/// A source is a file, a folder (every `*.yaml` and `*.yml` below it) or a glob (`*`, `?`,
/// and `**` for any number of folders), relative to the folder that holds roster.yaml.
/// Nothing outside that folder is read, symbolic links included. Files come out sorted by
/// their path relative to that folder, byte by byte, so every run reads them in one order.
struct SourceResolver {
    /// The real path of the folder that holds roster.yaml.
    let root: String
    /// The real path of roster.yaml itself, never read as a document.
    let configPath: String
    var diagnostics: [Diagnostic] = []

    /// Relative paths of the files to read, sorted and unique.
    mutating func resolve(_ sources: [Located<String>]) -> [String] {
        var files: Set<String> = []
        for source in sources {
            let found = resolve(source)
            if found.isEmpty, !diagnostics.contains(where: { $0.location == source.location }) {
                diagnostics.append(Diagnostic(.emptySource(source: source.value), at: source.location))
            }
            files.formUnion(found)
        }
        return files.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    private mutating func resolve(_ source: Located<String>) -> [String] {
        let pattern = source.value
        if pattern.contains(where: { "*?[".contains($0) }) {
            let matcher = Glob(pattern: normalized(pattern))
            var found: [String] = []
            walk(folder: root, relative: "", visited: []) { relative, _ in
                if matcher.matches(relative) { found.append(relative) }
            }
            if found.isEmpty {
                diagnostics.append(Diagnostic(.sourceNotFound(source: pattern), at: source.location))
            }
            return found
        }
        let absolute = pattern.hasPrefix("/") ? pattern : root + "/" + pattern
        guard let real = realPath(absolute) else {
            diagnostics.append(Diagnostic(.sourceNotFound(source: pattern), at: source.location))
            return []
        }
        guard let relative = inside(real) else {
            diagnostics.append(Diagnostic(.sourceOutsideRoot(source: pattern), at: source.location))
            return []
        }
        if isDirectory(real) {
            var found: [String] = []
            walk(folder: real, relative: relative, visited: []) { path, _ in
                if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { found.append(path) }
            }
            return found
        }
        return real == configPath ? [] : [relative]
    }

    /// Visits every regular file below `folder` that stays inside the root.
    private func walk(folder: String, relative: String, visited: Set<String>,
                      _ visit: (String, String) -> Void) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        var visited = visited
        visited.insert(folder)
        for name in names.sorted() where !name.hasPrefix(".") {
            let path = folder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            // Only a symbolic link can lead outside the root; resolve those alone (realpath costs a
            // system call per path component, and a directory holds thousands of plain files).
            let isLink = (info.st_mode & S_IFMT) == S_IFLNK
            guard let real = isLink ? realPath(path) : path, inside(real) != nil, real != configPath else { continue }
            let childRelative = relative.isEmpty ? name : relative + "/" + name
            if isLink ? isDirectory(real) : (info.st_mode & S_IFMT) == S_IFDIR {
                if !visited.contains(real) {
                    walk(folder: real, relative: childRelative, visited: visited, visit)
                }
            } else {
                visit(childRelative, real)
            }
        }
    }

    /// `real` relative to the root, or nil when it lies outside.
    private func inside(_ real: String) -> String? {
        if real == root { return "" }
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return real.hasPrefix(prefix) ? String(real.dropFirst(prefix.count)) : nil
    }

    private func normalized(_ pattern: String) -> String {
        var text = pattern
        while text.hasPrefix("./") { text.removeFirst(2) }
        return text
    }
}

/// The canonical absolute path with every link resolved; nil when it does not exist.
public func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

func isDirectory(_ path: String) -> Bool {
    var flag: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
}

/// A glob over `/`-separated relative paths: `*` and `?` stay within a folder, `**` spans folders.
struct Glob {
    private let segments: [Substring]

    init(pattern: String) {
        segments = pattern.split(separator: "/", omittingEmptySubsequences: true)
    }

    func matches(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return match(segments[...], parts[...])
    }

    private func match(_ pattern: ArraySlice<Substring>, _ parts: ArraySlice<Substring>) -> Bool {
        guard let head = pattern.first else { return parts.isEmpty }
        if head == "**" {
            var rest = parts
            while true {
                if match(pattern.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        }
        guard let part = parts.first, Glob.matchSegment(Array(head.utf8)[...], Array(part.utf8)[...]) else { return false }
        return match(pattern.dropFirst(), parts.dropFirst())
    }

    /// `*`, `?` and `[abc]` within one path segment.
    static func matchSegment(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        var p = pattern.startIndex
        var t = text.startIndex
        var star: (p: Int, t: Int)?
        while t < text.endIndex {
            if p < pattern.endIndex {
                let c = pattern[p]
                if c == UInt8(ascii: "*") {
                    star = (p, t)
                    p += 1
                    continue
                }
                if c == UInt8(ascii: "?") {
                    p += 1
                    t += 1
                    continue
                }
                if c == UInt8(ascii: "["), let close = pattern[p...].firstIndex(of: UInt8(ascii: "]")), close > p + 1 {
                    if pattern[(p + 1)..<close].contains(text[t]) {
                        p = close + 1
                        t += 1
                        continue
                    }
                } else if c == text[t] {
                    p += 1
                    t += 1
                    continue
                }
            }
            guard let s = star else { return false }
            p = s.p + 1
            t = s.t + 1
            star = (s.p, s.t + 1)
        }
        while p < pattern.endIndex, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }
}
