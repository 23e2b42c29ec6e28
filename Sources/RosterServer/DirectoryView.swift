import Foundation
import RosterCore
import RosterStore

/// The directory as `roster serve` answers from it: one snapshot of the store, every user's
/// access resolved once by Core's `AccessResolver`, so that a check is a dictionary lookup.
/// Immutable: a refresh builds a new view and swaps it in whole (`ServerState`).
public final class DirectoryView: Sendable {
    /// The store's position when the view was read.
    public let status: StoreStatus
    let users: [String: UserAccess]
    /// Every user (by email key, sorted) holding anything on a scope: who-can's candidates.
    let holders: [ScopeRef: [String]]
    let customers: Set<String>
    let accounts: Set<String>
    /// Every `module:action` of the catalogue.
    let permissions: Set<String>

    struct UserAccess: Sendable {
        var user: UserState
        var scopes: [ScopeRef: AccessResolver.ScopeAccess]
    }

    /// Resolves every user's access in `snapshot` (read at `status`).
    public init(snapshot: Snapshot, status: StoreStatus, catalogue: Catalogue) {
        self.status = status
        let state = snapshot.state
        let resolved = AccessResolver(catalogue: catalogue).accessOfEveryUser(in: state)
        var users: [String: UserAccess] = [:]
        users.reserveCapacity(state.users.count)
        var holders: [ScopeRef: [String]] = [:]
        for (key, user) in state.users {
            let scopes = resolved[key] ?? []
            users[key] = UserAccess(user: user, scopes: Dictionary(uniqueKeysWithValues: scopes.map { ($0.scope, $0) }))
            for scope in scopes { holders[scope.scope, default: []].append(key) }
        }
        for scope in holders.keys { holders[scope]?.sort() }
        self.users = users
        self.holders = holders
        customers = Set(state.customers.keys)
        accounts = Set(state.accounts.keys)
        permissions = Set(catalogue.modules.flatMap { module in module.actions.map { "\(module.name.value):\($0.value)" } })
    }

    /// An answer to "may this user do this here?".
    public enum Decision: Sendable, Hashable {
        /// Allowed, through these grants (`owner of customer acme`, `role admin on account acme-live`).
        case permit(via: [String])
        /// Not allowed: a stable code and a reason to show.
        case deny(code: String, reason: String)
    }

    /// Whether the user `email` holds `permission` on `scope`.
    public func decide(email: String, permission: String, scope: ScopeRef) -> Decision {
        guard permissions.contains(permission) else {
            return .deny(code: "unknown-permission", reason: "'\(permission)' is not a permission of the catalogue")
        }
        guard let entry = users[Syntax.emailKey(email)] else {
            return .deny(code: "unknown-user", reason: "'\(email)' is not a user of the directory")
        }
        guard knows(scope) else { return .deny(code: "unknown-scope", reason: "\(scope) does not exist") }
        if entry.user.status == .inactive {
            return .deny(code: "user-inactive", reason: "'\(entry.user.email)' is inactive")
        }
        let via = (entry.scopes[scope]?.grants ?? []).filter { $0.permissions.contains(permission) }.map(\.grant.via)
        guard !via.isEmpty else {
            return .deny(code: "no-grant", reason: "'\(entry.user.email)' holds no grant of \(permission) on \(scope)")
        }
        return .permit(via: via)
    }

    /// Whether the store holds the scope (active or not).
    public func knows(_ scope: ScopeRef) -> Bool {
        scope.kind == .customer ? customers.contains(scope.id) : accounts.contains(scope.id)
    }

    /// The users holding `permission` on `scope`, sorted by email key.
    public func holders(of permission: String, on scope: ScopeRef) -> [UserState] {
        (holders[scope] ?? []).compactMap { key in
            guard let entry = users[key], entry.scopes[scope]?.permissions.contains(permission) == true else { return nil }
            return entry.user
        }
    }

    /// The ids of the scopes of `kind` on which `email` holds `permission`, sorted.
    public func scopes(of email: String, holding permission: String, kind: ScopeKind) -> [String] {
        guard let entry = users[Syntax.emailKey(email)] else { return [] }
        return entry.scopes.values.filter { $0.scope.kind == kind && $0.permissions.contains(permission) }.map(\.scope.id).sorted()
    }

    /// Every permission `email` holds on `scope`, sorted.
    public func permissions(of email: String, on scope: ScopeRef) -> [String] {
        users[Syntax.emailKey(email)]?.scopes[scope]?.permissions ?? []
    }

    /// How many users the view holds.
    public var userCount: Int { users.count }
}

/// What every request reads: the current view, swapped whole under a lock (a request takes a
/// reference and never sees half an update), whether the store answered its last check, and
/// whether the server is shutting down. Long polls wait here for a view with a newer record,
/// woken as soon as one is installed (at once after the server's own accept, within the
/// refresh interval after another process's write) or the server shuts down.
public final class ServerState: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var _view: DirectoryView
    private var _storeAnswers = true
    private var _shuttingDown = false
    private var waiters: [Int: (after: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
    private var nextWaiter = 0

    public init(view: DirectoryView) {
        _view = view
    }

    public var view: DirectoryView { lock.withLock { _view } }
    public var storeAnswers: Bool { lock.withLock { _storeAnswers } }
    public var shuttingDown: Bool { lock.withLock { _shuttingDown } }
    /// The view while the store answers its checks, else nil: both under one lock, as every
    /// evaluation asks.
    var answeringView: DirectoryView? { lock.withLock { _storeAnswers ? _view : nil } }

    /// Swaps in `view` unless the current one is newer (two refreshes that overlap), and wakes
    /// the long polls it has news for.
    func install(_ view: DirectoryView) {
        let woken: [CheckedContinuation<Void, Never>] = lock.withLock {
            let old = _view.status
            let new = view.status
            if new.lineage != old.lineage || (new.serial, new.lastSequence) >= (old.serial, old.lastSequence) {
                _view = view
            }
            _storeAnswers = true
            return takeWaiters { _view.status.lastSequence > $0 }
        }
        for continuation in woken { continuation.resume() }
    }

    func markStore(answering: Bool) {
        lock.withLock { _storeAnswers = answering }
    }

    func beginShutdown() {
        let woken = lock.withLock {
            _shuttingDown = true
            return takeWaiters { _ in true }
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns when the view holds a record after `sequence`, the server begins to shut down,
    /// or the calling task is cancelled (a long poll's deadline cancels it).
    func waitForRecord(after sequence: Int) async {
        let id = lock.withLock {
            nextWaiter += 1
            return nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now: Bool = lock.withLock {
                    // Checked under the lock the cancellation handler takes too, so a cancel that
                    // came first is seen here and one that comes later finds the waiter.
                    if _view.status.lastSequence > sequence || _shuttingDown || Task.isCancelled { return true }
                    waiters[id] = (sequence, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = lock.withLock { waiters.removeValue(forKey: id) }
            waiter?.continuation.resume()
        }
    }

    /// Removes and returns the waiters whose `after` passes `wake`; under `lock`.
    private func takeWaiters(_ wake: (Int) -> Bool) -> [CheckedContinuation<Void, Never>] {
        let ids = waiters.filter { wake($0.value.after) }.map(\.key)
        return ids.compactMap { waiters.removeValue(forKey: $0)?.continuation }
    }
}
