import Foundation
import RosterCore
import RosterStore

/// Accepting, re-sending and revoking one invitation (SPEC §6), for the CLI and the server.
public struct InvitationService {
    public let store: any StateStore
    public let settings: InvitationSettings
    /// The events endpoints, registered before each write so they hear of it.
    public let endpoints: [EventEndpoint]
    public let environment: AppEnvironment

    /// How long resend and revoke wait for an apply's lock.
    public static let lockWait: TimeInterval = 30

    public init(store: any StateStore, config: Config, environment: AppEnvironment) {
        self.store = store
        self.settings = config.invitations
        self.endpoints = config.events
        self.environment = environment
    }

    /// Makes the token's user active; returns the user's email. An unknown, used, revoked or
    /// expired token changes nothing.
    public func accept(token: String, actor: String) throws(RosterError) -> String {
        try storeCall {
            try EventFeed(store: store, environment: environment).register(endpoints)
            return try store.acceptInvitation(token: token, now: environment.now(), actor: actor)
        }
    }

    /// Issues a fresh token to a pending user and revokes the old one.
    public func resend(email: String, actor: String) throws(RosterError) {
        try underApplyLock(actor: actor) { context in try store.resendInvitation(email: email, context: context) }
    }

    public func revoke(email: String, actor: String) throws(RosterError) {
        try underApplyLock(actor: actor) { context in try store.revokeInvitation(email: email, context: context) }
    }

    /// Resend and revoke advance the store's serial, so they hold the apply lock as an apply does
    /// (waiting up to `lockWait` for it): an apply that planned afresh never finds its plan made
    /// stale by them. A lock held longer is `StoreError.lockHeld`, naming its holder.
    private func underApplyLock(actor: String, _ body: (ApplyContext) throws -> Void) throws(RosterError) {
        let context = ApplyContext(actor: actor, commit: nil, now: environment.now(), random: environment.random,
                                   invitations: settings)
        try storeCall {
            try store.withApplyLock(holder: environment.lockHolder(actor: actor), timeout: Self.lockWait) {
                try EventFeed(store: store, environment: environment).register(endpoints)
                try body(context)
            }
        }
    }
}
