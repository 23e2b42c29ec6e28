import Foundation
import RosterCore
import RosterManifest

/// Owners and members that no file declares but the files at `HEAD` (or the commit before it)
/// did: removed users, so validation can say "remove its member entries too" rather than
/// guess at another person.
///
/// Reading a revision costs a `git archive` of the project, so it runs only when some owner or
/// member is undeclared, and finds nothing outside a git repository.
public enum FormerUsers {
    /// The revisions looked at, nearest first.
    static let revisions = ["HEAD", "HEAD~1"]

    /// Those of `emails` (lower-cased, undeclared) that the files of `manifest` declared at HEAD
    /// or HEAD~1, by lower-cased email; paths shown relative to `displayBase`, as now.
    public static func find(_ emails: Set<String>, for manifest: Manifest, displayBase: String) -> [String: FormerUser] {
        var wanted = emails
        guard !wanted.isEmpty, !manifest.root.isEmpty else { return [:] }
        let git = Git(folder: manifest.root)
        guard let top = git.topLevel.flatMap(realPath), let folderInRepo = relative(manifest.root, to: top) else {
            return [:]
        }
        let configName = (manifest.configFile as NSString).lastPathComponent
        var template = Array((NSTemporaryDirectory() + "/roster-former-XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else { return [:] }
        let folder = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cwdInRepo = realPath(displayBase).flatMap { relative($0, to: top) }
        var found: [String: FormerUser] = [:]
        for (index, revision) in revisions.enumerated() where !wanted.isEmpty {
            guard let commit = git.commit(revision) else { break }
            let tree = folder + "/\(index)"
            guard (try? Git(folder: top).extract(commit: commit, path: folderInRepo, into: tree)) != nil else { break }
            let base = cwdInRepo.map { $0.isEmpty ? tree : tree + "/" + $0 } ?? tree
            let configPath = tree + (folderInRepo.isEmpty ? "" : "/" + folderInRepo) + "/" + configName
            let old = ManifestLoader(displayBase: base).load(configPath: configPath)
            for user in old.directory.users {
                let key = Syntax.emailKey(user.email.value)
                guard wanted.remove(key) != nil else { continue }
                var location = user.email.location
                location.file = "\(revision):\(location.file)"
                found[key] = FormerUser(email: user.email.value, source: .revision(revision), location: location)
            }
        }
        return found
    }

    /// Lower-cased emails that own or are members of something but are declared by no user.
    public static func undeclared(in directory: Directory) -> Set<String> {
        let declared = Set(directory.users.map { Syntax.emailKey($0.email.value) })
        var missing = Set<String>()
        func check(_ email: Located<String>?) {
            guard let email else { return }
            let key = Syntax.emailKey(email.value)
            if !declared.contains(key) { missing.insert(key) }
        }
        for customer in directory.customers {
            check(customer.owner)
            customer.members.forEach { check($0.user) }
        }
        for account in directory.accounts {
            check(account.owner)
            account.members.forEach { check($0.user) }
        }
        return missing
    }

    /// `path` relative to `base` ("" when equal), or nil when outside it.
    private static func relative(_ path: String, to base: String) -> String? {
        if path == base { return "" }
        return path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : nil
    }
}
