/// What roster wrote, reduced to a 64-bit FNV-1a hash of its fields, so a store can tell later
/// whether the row was changed outside roster (drift) without keeping a copy of every row.
/// A user's `invited` and `active` count as the same: accepting an invitation is not drift.
public enum Fingerprint {
    public static func role(_ role: RoleState) -> Int64 {
        var hash = FNV()
        hash.add(role.name)
        hash.add(role.description)
        for module in role.permissions.keys.sorted() {
            hash.add(module)
            for action in role.permissions[module] ?? [] { hash.add(action) }
        }
        hash.add(role.active)
        return hash.value
    }

    public static func user(_ user: UserState) -> Int64 {
        var hash = FNV()
        hash.add(user.email)
        hash.add(user.name)
        hash.add(user.status != .inactive)
        return hash.value
    }

    public static func customer(_ customer: CustomerState) -> Int64 {
        var hash = FNV()
        hash.add(customer.name)
        hash.add(customer.owner)
        hash.add(customer.active)
        return hash.value
    }

    public static func account(_ account: AccountState) -> Int64 {
        var hash = FNV()
        hash.add(account.customer)
        hash.add(account.name)
        hash.add(account.service)
        hash.add(account.owner)
        hash.add(account.active)
        return hash.value
    }

    public static func membership(_ membership: MembershipState) -> Int64 {
        var hash = FNV()
        for role in membership.roles { hash.add(role) }
        hash.add(membership.expires)
        return hash.value
    }

    /// The hash of some text fields, for keys derived from names (such as a store's lock keys).
    public static func text(_ fields: String...) -> Int64 {
        var hash = FNV()
        for field in fields { hash.add(field) }
        return hash.value
    }

    /// FNV-1a, 64 bits; every field ends with a separator byte so ("ab", "c") ≠ ("a", "bc").
    private struct FNV {
        private var state: UInt64 = 0xCBF2_9CE4_8422_2325

        var value: Int64 { Int64(bitPattern: state) }

        mutating func byte(_ byte: UInt8) {
            state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }

        mutating func add(_ text: String?) {
            guard let text else { return byte(0xFE) }
            for unit in text.utf8 { byte(unit) }
            byte(0xFF)
        }

        mutating func add(_ flag: Bool) {
            byte(flag ? 1 : 0)
            byte(0xFF)
        }
    }
}
