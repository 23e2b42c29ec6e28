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
    public func load(configPath: String) -> Manifest {
        let shownConfig = display(realPath(configPath) ?? configPath)
        var manifest = Manifest(configFile: shownConfig, root: "")
        guard let realConfig = realPath(configPath), !isDirectory(realConfig) else {
            manifest.diagnostics.append(Diagnostic(.unreadableFile(reason: "no such file; run 'roster init' or pass --config PATH"),
                                                   at: .file(shownConfig)))
            return manifest
        }
        let root = String(realConfig[..<(realConfig.lastIndex(of: "/") ?? realConfig.startIndex)])
        manifest.root = root.isEmpty ? "/" : root
        guard let configTree = readTree(realConfig, shown: shownConfig, into: &manifest.diagnostics) else {
            return manifest
        }
        var configDecoder = ConfigDecoder(tree: configTree)
        manifest.config = configDecoder.decode()
        manifest.diagnostics += configDecoder.reader.diagnostics

        var resolver = SourceResolver(root: manifest.root, configPath: realConfig)
        let relativeFiles = resolver.resolve(manifest.config.sources)
        manifest.diagnostics += resolver.diagnostics
        for relative in relativeFiles {
            let shown = display(manifest.root + "/" + relative)
            manifest.files.append(shown)
            guard let tree = readTree(manifest.root + "/" + relative, shown: shown, into: &manifest.diagnostics) else {
                continue
            }
            var decoder = DocumentDecoder(tree: tree)
            decoder.decode(into: &manifest.directory)
            manifest.diagnostics += decoder.reader.diagnostics
        }
        return manifest
    }

    /// Reads and parses one file, bounded in size.
    private func readTree(_ path: String, shown: String, into diagnostics: inout [Diagnostic]) -> YAMLTree? {
        let attributes = (try? FileManager.default.attributesOfItem(atPath: path)) ?? [:]
        guard attributes[.type] as? FileAttributeType == .typeRegular else {
            // A FIFO or device would block or never end; only regular files are read.
            diagnostics.append(Diagnostic(.unreadableFile(reason: "not a regular file"), at: .file(shown)))
            return nil
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        if size > limits.maxFileBytes {
            diagnostics.append(Diagnostic(.fileTooLarge(bytes: size, limit: limits.maxFileBytes), at: .file(shown)))
            return nil
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            diagnostics.append(Diagnostic(.unreadableFile(reason: "permission denied or not a regular file"), at: .file(shown)))
            return nil
        }
        defer { try? handle.close() }
        // Read one byte past the bound so a file that grew since `stat` is still refused.
        let data = (try? handle.read(upToCount: limits.maxFileBytes + 1)) ?? Data()
        if data.count > limits.maxFileBytes {
            diagnostics.append(Diagnostic(.fileTooLarge(bytes: data.count, limit: limits.maxFileBytes), at: .file(shown)))
            return nil
        }
        let (tree, problems) = YAMLLoader(limits: limits).load([UInt8](data), file: shown)
        diagnostics += problems
        return tree
    }

    /// A path as the user should see it: relative to `displayBase` when below it.
    func display(_ path: String) -> String {
        let base = displayBase.hasSuffix("/") ? displayBase : displayBase + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }
}
