/// What roster wrote, reduced to a string, so a store can tell later whether the row was
/// changed outside roster (drift). A user's `invited` and `active` count as the same: accepting
/// an invitation is not drift.
public enum Fingerprint {
    private static let separator = "\u{1F}"

    public static func role(_ role: RoleState) -> String {
        [role.name ?? "", role.description ?? "", role.grants.joined(separator: ","), role.active ? "1" : "0"]
            .joined(separator: separator)
    }

    public static func user(_ user: UserState) -> String {
        [user.email, user.name ?? "", user.status == .inactive ? "inactive" : "active"].joined(separator: separator)
    }

    public static func customer(_ customer: CustomerState) -> String {
        [customer.name ?? "", customer.owner, customer.active ? "1" : "0"].joined(separator: separator)
    }

    public static func account(_ account: AccountState) -> String {
        [account.customer, account.name ?? "", account.service ?? "", account.owner, account.active ? "1" : "0"]
            .joined(separator: separator)
    }

    public static func membership(_ membership: MembershipState) -> String {
        [membership.roles.joined(separator: ","), membership.expires ?? ""].joined(separator: separator)
    }
}
