import Foundation
import RosterCore

/// Everything read from a project: roster.yaml, the documents, and what was wrong.
public struct Manifest: Sendable {
    /// roster.yaml as the user would write its path.
    public var configFile: String
    /// The real path of the folder that holds roster.yaml; relative paths in it resolve here.
    public var root: String
    public var config: Config
    public var directory: Directory
    /// The document files read, as shown to the user, in reading order.
    public var files: [String]
    /// Problems found while reading (syntax, shape, sources); validation adds the rest.
    public var diagnostics: [Diagnostic]

    /// An empty manifest for the project at `configFile`, before anything is read.
    public init(configFile: String, root: String, diagnostics: [Diagnostic] = []) {
        self.configFile = configFile
        self.root = root
        self.config = Config()
        self.directory = Directory()
        self.files = []
        self.diagnostics = diagnostics
    }

    /// True when some file could not be read completely, so cross-file checks would mislead.
    public var isIncomplete: Bool {
        diagnostics.contains { diagnostic in
            switch diagnostic.code {
            case .yamlSyntax, .aliasBudget, .undefinedAlias, .nestingTooDeep, .fileTooLarge,
                 .unreadableFile, .sourceNotFound, .sourceOutsideRoot, .configNotFound:
                return true
            default:
                return false
            }
        }
    }
}

/// Finds roster.yaml, reads it and every source file, and decodes the documents.
public struct ManifestLoader: Sendable {
    public var limits: LoaderLimits
    /// Paths are shown relative to this folder when they lie below it (normally the working directory).
    public var displayBase: String

    public init(displayBase: String, limits: LoaderLimits = LoaderLimits()) {
        self.displayBase = realPath(displayBase) ?? displayBase
        self.limits = limits
    }

    /// The roster.yaml to use: `explicit` when given, else `./roster.yaml`, else the nearest
    /// one found walking up from `directory`. Nil when there is none.
    public static func findConfig(explicit: String?, from directory: String) -> String? {
        if let explicit {
            let path = explicit.hasPrefix("/") ? explicit : directory + "/" + explicit
            return isDirectory(path) ? path + "/roster.yaml" : path
        }
        var folder = realPath(directory) ?? directory
        while true {
            let candidate = folder + "/roster.yaml"
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            guard let slash = folder.lastIndex(of: "/"), folder != "/" else { return nil }
            folder = slash == folder.startIndex ? "/" : String(folder[..<slash])
        }
    }

    /// Loads the project whose configuration is at `configPath`.
    ///
    /// With `documents: false` only roster.yaml is read: commands that need the project's
    /// settings but not its directory (invitations, history, show) stay fast on a large one.
    public func load(configPath: String, documents: Bool = true) -> Manifest {
        let shownConfig = display(realPath(configPath) ?? configPath)
        var manifest = Manifest(configFile: shownConfig, root: "")
        guard let realConfig = realPath(configPath), !isDirectory(realConfig) else {
            manifest.diagnostics.append(Diagnostic(.unreadableFile(reason: "no such file; run 'roster init' or pass --config PATH"),
                                                   at: .file(shownConfig)))
            return manifest
        }
        let root = String(realConfig[..<(realConfig.lastIndex(of: "/") ?? realConfig.startIndex)])
        manifest.root = root.isEmpty ? "/" : root
        guard let configTree = readTree(realConfig, shown: shownConfig, into: &manifest.diagnostics),
              !manifest.isIncomplete else {
            // A roster.yaml that could not be read completely says nothing reliable about sources.
            return manifest
        }
        var configDecoder = ConfigDecoder(tree: configTree)
        manifest.config = configDecoder.decode()
        manifest.diagnostics += configDecoder.reader.diagnostics
        guard documents else { return manifest }

        var resolver = SourceResolver(root: manifest.root, configPath: realConfig)
        let paths = resolver.resolve(manifest.config.sources).map { manifest.root + "/" + $0 }
        manifest.diagnostics += resolver.diagnostics
        manifest.files = paths.map(display)
        // Hundreds of runs: room for them all first, and each let go of once appended, so the
        // arrays are not grown and copied run by run (validate's peak rose by 10 MiB otherwise).
        var runs = readDocuments(paths, shown: manifest.files)
        manifest.directory.reserveCapacity(runs.map(\.directory))
        for index in runs.indices {
            manifest.directory.append(contentsOf: runs[index].directory)
            manifest.diagnostics += runs[index].diagnostics
            runs[index] = Run()
        }
        return manifest
    }

    /// The documents and problems of a run of consecutive files.
    private struct Run: Sendable {
        var directory = Directory()
        var diagnostics: [Diagnostic] = []
    }

    /// Reads and decodes `paths` in runs of consecutive files spread over the processor's
    /// cores (parsing is most of the time of a large directory). The runs come back in file
    /// order, so the result is the same as reading the files one after another.
    ///
    /// The runs are short, and each core takes the next one as it comes free: files differ in
    /// size, and a folder of large files sorts together (a hundred files of users can hold a
    /// fifth of the bytes), so a few runs of as many files each left one core parsing alone at
    /// the end.
    private func readDocuments(_ paths: [String], shown: [String]) -> [Run] {
        let runs = Parallel.split(paths.count, into: (paths.count + Self.filesPerRun - 1) / Self.filesPerRun)
        return Parallel.map(runs.count) { run in read(runs[run], of: paths, shown: shown) }
    }

    /// How many files a run of `readDocuments` holds at most.
    static let filesPerRun = 16

    private func read(_ files: Range<Int>, of paths: [String], shown: [String]) -> Run {
        var run = Run()
        for index in files {
            guard let tree = readTree(paths[index], shown: shown[index], into: &run.diagnostics) else { continue }
            var decoder = DocumentDecoder(tree: tree)
            decoder.decode(into: &run.directory)
            run.diagnostics += decoder.reader.diagnostics
        }
        return run
    }

    /// Reads and parses one file, bounded in size.
    private func readTree(_ path: String, shown: String, into diagnostics: inout [Diagnostic]) -> YAMLTree? {
        switch readRegularFile(path, limit: limits.maxFileBytes) {
        case .success(let bytes):
            let (tree, problems) = YAMLLoader(limits: limits).load(bytes, file: shown)
            diagnostics += problems
            return tree
        case .failure(let problem):
            diagnostics.append(Diagnostic(problem, at: .file(shown)))
            return nil
        }
    }

    /// A path as the user should see it: relative to `displayBase` when below it.
    func display(_ path: String) -> String {
        let base = displayBase.hasSuffix("/") ? displayBase : displayBase + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }
}

/// The bytes of a regular file of at most `limit` bytes.
///
/// A FIFO or device would block or never end, so only regular files are read; the size is
/// checked before reading and again while reading, in case the file grows meanwhile.
func readRegularFile(_ path: String, limit: Int) -> Result<[UInt8], Problem> {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
        return .failure(.unreadableFile(reason: String(cString: strerror(errno))))
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
        return .failure(.unreadableFile(reason: "not a regular file"))
    }
    let size = Int(info.st_size)
    guard size <= limit else { return .failure(.fileTooLarge(bytes: size, limit: limit)) }
    var bytes = [UInt8](repeating: 0, count: size + 1)
    var count = 0
    while true {
        if count == bytes.count {
            guard bytes.count <= limit else { return .failure(.fileTooLarge(bytes: bytes.count, limit: limit)) }
            bytes.append(contentsOf: [UInt8](repeating: 0, count: max(4096, bytes.count)))
        }
        let got = bytes.withUnsafeMutableBytes { buffer -> Int in
            guard let base = buffer.baseAddress else { return 0 }
            return read(fd, base + count, buffer.count - count)
        }
        if got < 0 {
            if errno == EINTR { continue }
            return .failure(.unreadableFile(reason: String(cString: strerror(errno))))
        }
        if got == 0 { break }
        count += got
    }
    guard count <= limit else { return .failure(.fileTooLarge(bytes: count, limit: limit)) }
    bytes.removeSubrange(count...)
    return .success(bytes)
}

extension Directory {
    /// Room for the documents of `parts` besides these, so appending them copies each once.
    mutating func reserveCapacity(_ parts: [Directory]) {
        roles.reserveCapacity(roles.count + parts.reduce(0) { $0 + $1.roles.count })
        users.reserveCapacity(users.count + parts.reduce(0) { $0 + $1.users.count })
        customers.reserveCapacity(customers.count + parts.reduce(0) { $0 + $1.customers.count })
        accounts.reserveCapacity(accounts.count + parts.reduce(0) { $0 + $1.accounts.count })
    }

    /// Appends the documents of `other` after these, kind by kind.
    mutating func append(contentsOf other: Directory) {
        roles += other.roles
        users += other.users
        customers += other.customers
        accounts += other.accounts
    }
}
