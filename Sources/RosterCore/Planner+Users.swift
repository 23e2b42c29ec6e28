import Foundation

// MARK: Users

extension PlanWork {
    /// `previousEmails` naming a stored user: carry the identity, memberships and history over.
    mutating func planRenames() {
        var renamed: [String: String] = [:]
        for (old, new) in desired.renames.sorted(by: { $0.key < $1.key }) {
            guard var user = stored.users[old], stored.users[new] == nil, let target = want.users[new] else { continue }
            let before = user
            user.key = new
            user.email = target.email
            stored.users[old] = nil
            stored.users[new] = user
            renamed[old] = new
            if var invitation = invitations.removeValue(forKey: old) {
                invitation.user = new
                invitations[new] = invitation
            }
            affectedUsers.insert(new)
            add(.users, Change(action: .rename, type: .user, id: target.email, before: .user(before), after: .user(user),
                               risk: .medium, source: source { $0.user(new) }, reason: "previousEmails lists \(before.email)"))
        }
        guard !renamed.isEmpty else { return }
        for (key, membership) in stored.memberships {
            guard let new = renamed[key.user] else { continue }
            var moved = membership
            moved.key.user = new
            stored.memberships[key] = nil
            stored.memberships[moved.key] = moved
        }
        for (id, customer) in stored.customers { if let new = renamed[customer.owner] { stored.customers[id]?.owner = new } }
        for (id, account) in stored.accounts { if let new = renamed[account.owner] { stored.accounts[id]?.owner = new } }
    }

    mutating func planUsers() {
        let settings = planner.config.invitations
        let (pending, now) = (invitations, planner.now)
        let differences = Self.differences(declared: want.users, stored: stored.users) { key, user, old in
            Self.isUnchanged(key, user, old: old, invitations: pending, now: now)
        }
        let invitedAnew = planner.adopt ? [:] : newInvitationPlans(differences.changed.filter {
            stored.users[$0] == nil && want.users[$0]?.status == .active
        })
        for key in differences.changed {
            guard let user = want.users[key] else { continue }
            let entity = EntityKey.user(key)
            guard let old = stored.users[key] else {
                if user.status == .active && planner.adopt {
                    affectedUsers.insert(key)
                    add(.users, Change(action: .adopt, type: .user, id: user.email, after: .user(user),
                                       source: source { $0.user(key) }, reason: "already on the platform: active, no invitation"))
                } else if user.status == .active {
                    affectedUsers.insert(key)
                    var invited = user
                    invited.status = .invited
                    add(.users, Change(action: .invite, type: .user, id: user.email, after: .user(invited),
                                       source: source { $0.user(key) }, invitation: invitedAnew[key] ?? invitationPlan(for: key)))
                }
                continue
            }
            switch (old.status, user.status) {
            case (.inactive, .active):
                affectedUsers.insert(key)
                var after = user
                after.status = snapshot.everAccepted.contains(key) || planner.adopt ? .active : .invited
                let invitation = after.status == .invited ? invitationPlan(for: key) : nil
                let adopted = planner.adopt && !snapshot.everAccepted.contains(key)
                add(.users, Change(action: .reactivate, type: .user, id: user.email, before: .user(old), after: .user(after),
                                   drift: drifted(entity), source: source { $0.user(key) },
                                   reason: invitation != nil ? "never accepted: invited anew"
                                       : adopted ? "adopted: active, no invitation" : nil,
                                   invitation: invitation))
            case (.invited, .active), (.active, .active):
                if old.email != user.email || old.name != user.name {
                    var after = user
                    after.status = old.status
                    add(.users, Change(action: .update, type: .user, id: user.email, before: .user(old), after: .user(after),
                                       drift: drifted(entity), source: source { $0.user(key) }))
                }
                if old.status == .invited, let pending = invitations[key], pending.expiresAt <= planner.now {
                    if settings.reissueExpired && pending.reissueCount < settings.maxReissues {
                        add(.invitations, Change(action: .reissueInvitation, type: .invitation, id: user.email,
                                                 source: source { $0.user(key) },
                                                 reason: "expired; re-issue \(pending.reissueCount + 1) of \(settings.maxReissues)",
                                                 invitation: invitationPlan(for: key, replaces: pending.id)))
                    } else if settings.reissueExpired {
                        warnings.append("invitation of '\(user.email)' expired and was re-issued \(pending.reissueCount) times "
                                        + "(maxReissues \(settings.maxReissues)); run 'roster invitations resend \(user.email)' to send a new one")
                    }
                }
            case (.active, .inactive), (.invited, .inactive):
                deactivate(old, reason: "declared inactive", source: source { $0.user(key) })
            case (.inactive, .inactive), (_, .invited):
                break
            }
        }
        for key in differences.removed {
            guard let old = stored.users[key], old.status != .inactive else { continue }
            deactivate(old, reason: Change.removedFromFiles, source: nil)
        }
        grantsByUser = nil  // only invitations need it, and they are all planned
    }

    /// True when `planUsers` has nothing to do for a declared user that is stored: the same
    /// email and name, and active in both or inactive in both, with no expired invitation to
    /// re-issue. Keep in step with the cases of `planUsers`.
    static func isUnchanged(_ key: String, _ user: UserState, old: UserState, invitations: [String: PendingInvitation],
                            now: Date) -> Bool {
        guard old.email == user.email, old.name == user.name else { return false }
        switch (old.status, user.status) {
        case (.inactive, .inactive), (.active, .active):
            return true
        case (.invited, .active):
            guard let invitation = invitations[key] else { return true }
            return invitation.expiresAt > now
        default:
            return false
        }
    }

    mutating func deactivate(_ user: UserState, reason: String, source: String?) {
        affectedUsers.insert(user.key)
        var after = user
        after.status = .inactive
        if let pending = invitations[user.key] {
            add(.invitations, Change(action: .revokeInvitation, type: .invitation, id: user.email, risk: .medium,
                                     reason: "user deactivated; invitation \(pending.id)"))
        }
        add(.deactivations, Change(action: .deactivate, type: .user, id: user.email, before: .user(user), after: .user(after),
                                   risk: .high, drift: drifted(EntityKey.user(user.key)), source: source, reason: reason))
    }

    /// The invitations of the users `keys`, made on every core (a first plan makes one per user).
    private mutating func newInvitationPlans(_ keys: [String]) -> [String: InvitationPlan] {
        guard !keys.isEmpty else { return [:] }
        let (grants, want) = (grantsIndex(), want)
        let plans = Parallel.map(keys) { Self.invitationPlan(for: $0, replaces: nil, grants: grants[$0] ?? [:], in: want) }
        return Dictionary(uniqueKeysWithValues: zip(keys, plans))
    }

    /// The invitation a user would get now: scopes and roles from the files, inviter by SPEC §6.
    mutating func invitationPlan(for key: String, replaces: String? = nil) -> InvitationPlan {
        Self.invitationPlan(for: key, replaces: replaces, grants: grantsIndex()[key] ?? [:], in: want)
    }

    /// What each user owns or is a member of in the files, built on first use.
    private mutating func grantsIndex() -> UserParts<[ScopeRef: [String]]> {
        if let grantsByUser { return grantsByUser }
        let want = want
        let index = UserParts(users: want.users.count) { includes in
            var index: [String: [ScopeRef: [String]]] = [:]
            for customer in want.customers.values where customer.active && includes(customer.owner) {
                index[customer.owner, default: [:]][ScopeRef(.customer, customer.id)] = ["owner"]
            }
            for account in want.accounts.values where account.active && includes(account.owner) {
                index[account.owner, default: [:]][ScopeRef(.account, account.id)] = ["owner"]
            }
            for membership in want.memberships.values where includes(membership.key.user) {
                index[membership.key.user, default: [:]][membership.key.scope, default: []].append(contentsOf: membership.roles)
            }
            return index
        }
        grantsByUser = index
        return index
    }

    private static func invitationPlan(for key: String, replaces: String?, grants: [ScopeRef: [String]],
                                       in want: DirectoryState) -> InvitationPlan {
        // Customers sort before accounts, then by id: the first scope someone else owns names the inviter.
        let scopes = grants.keys.sorted()
        var inviter: String?
        for scope in scopes {
            let owner = scope.kind == .customer ? want.customers[scope.id]?.owner : want.accounts[scope.id]?.owner
            if let owner, owner != key {
                inviter = want.users[owner]?.email ?? owner
                break
            }
        }
        return InvitationPlan(user: key, email: want.users[key]?.email ?? key, inviter: inviter,
                              grants: scopes.map { InvitationGrant(scope: $0, roles: Array(Set(grants[$0] ?? [])).sorted()) },
                              replaces: replaces)
    }
}
