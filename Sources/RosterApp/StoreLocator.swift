import Foundation
import RosterCore
import RosterStore

/// A store that was opened, and what the caller may want to tell the user about it.
public struct OpenedStore {
    public var store: any StateStore
    /// The store did not exist and was created empty (a mistyped URL would plan "create everything").
    public var created: Bool
    /// The SQLite file can be read by other local users; the fix to print.
    public var exposure: String?
}

/// Finds the store a command means: `--state`, else `ROSTER_STATE`, else roster.yaml's
/// `state`, else `sqlite:.roster/state.db` (relative to the folder of roster.yaml), and opens it.
public struct StoreLocator: Sendable {
    /// `--state`, when given.
    public var override: String?
    public var environment: AppEnvironment

    public init(override: String?, environment: AppEnvironment) {
        self.override = override
        self.environment = environment
    }

    public static let defaultURL = "sqlite:.roster/state.db"

    /// The store's URL as written (may hold a password: mask it before showing it).
    public func url(config: Config?) -> String {
        override ?? environment.variables["ROSTER_STATE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? config?.state ?? Self.defaultURL
    }

    /// The file of a `sqlite:PATH` URL (a relative path is relative to `root`, the folder of
    /// roster.yaml); nil for another kind of URL, "" when it names no file.
    public static func sqlitePath(_ url: String, root: String) -> String? {
        guard url.hasPrefix("sqlite:") else { return nil }
        var path = String(url.dropFirst("sqlite:".count))
        if path.hasPrefix("//") { path.removeFirst(2) }
        guard !path.isEmpty else { return "" }
        return path.hasPrefix("/") ? path : root + "/" + path
    }

    /// The SQLite file this locator names when it already holds a database; nil for any other
    /// store and for a missing or empty file (opening would create the store).
    public func existingSQLiteFile(config: Config, root: String) -> String? {
        guard let path = Self.sqlitePath(url(config: config), root: root), !path.isEmpty,
              let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber, size.intValue > 0
        else { return nil }
        return path
    }

    /// The command that makes `store` its owner's alone when other users can read it; nil when they cannot.
    public static func exposureFix(_ store: SQLiteStore) -> String? {
        store.readableByOthers ? "chmod 600 \(store.path)*" : nil
    }

    /// Opens the store, creating it when new.
    public func open(config: Config?, root: String) throws(RosterError) -> OpenedStore {
        let url = url(config: config)
        if let path = Self.sqlitePath(url, root: root) {
            guard !path.isEmpty else { throw .emptySQLitePath }
            let isNew = !FileManager.default.fileExists(atPath: path)
            let store = try storeCall { try SQLiteStore(path: path, random: environment.random) }
            return OpenedStore(store: store, created: isNew, exposure: Self.exposureFix(store))
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            let store = try storeCall {
                try PostgresStore(location: try PostgresLocation(url: url, environment: environment.variables),
                                  random: environment.random)
            }
            return OpenedStore(store: store, created: store.isNew, exposure: nil)
        }
        throw .unknownStateURL(url: PostgresLocation.mask(url))
    }

    /// Opens the store for a long-running, concurrent process (`roster serve`): SQLite's store
    /// itself (its `DatabasePool` is shared safely), or a pool of PostgreSQL connections that
    /// lends each call one of its own. Commands keep `open`, one connection for their run.
    public func openShared(config: Config?, root: String) throws(RosterError) -> any SharedStore {
        let url = url(config: config)
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try storeCall {
                try PostgresPool(location: try PostgresLocation(url: url, environment: environment.variables),
                                 random: environment.random)
            }
        }
        guard let store = try open(config: config, root: root).store as? SQLiteStore else {
            throw .unknownStateURL(url: PostgresLocation.mask(url))
        }
        return store
    }
}
