extension InvitationPlan {
    /// Reads back the form `compactJSON` writes, fast: its keys in its order, no white space,
    /// strings without escapes. Nil for anything else (an escaped character, another order, a
    /// form an older roster wrote), which the caller decodes with `JSONDecoder`; when it reads a
    /// text, it reads the value `JSONDecoder` would, so the answer never depends on which of the
    /// two did (a test holds it to that).
    ///
    /// Delivery reads the details of every message it sends: with `JSONDecoder` alone that was a
    /// sixth of a run of 100,000 (BENCHMARKS.md).
    public init?(compactJSON text: String) {
        var text = text
        guard let plan = text.withUTF8({ utf8 in
            var reader = CompactInvitationReader(bytes: utf8)
            return reader.invitation()
        }) else { return nil }
        self = plan
    }
}

/// The reader of `InvitationPlan(compactJSON:)`.
private struct CompactInvitationReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    mutating func invitation() -> InvitationPlan? {
        guard take("{\"email\":"), let email = string(), take(",\"grants\":["), let grants = grantList() else { return nil }
        var inviter: String?
        var replaces: String?
        if take(",\"inviter\":") {
            guard let value = string() else { return nil }
            inviter = value
        }
        if take(",\"replaces\":") {
            guard let value = string() else { return nil }
            replaces = value
        }
        guard take(",\"user\":"), let user = string(), take("}"), index == bytes.count else { return nil }
        return InvitationPlan(user: user, email: email, inviter: inviter, grants: grants, replaces: replaces)
    }

    /// The grants after their `[`, through the `]`.
    private mutating func grantList() -> [InvitationGrant]? {
        var grants: [InvitationGrant] = []
        if take("]") { return grants }
        repeat {
            guard take("{\"roles\":["), let roles = stringList(), take(",\"scope\":{\"id\":"), let id = string(),
                  take(",\"kind\":"), let kind = string().flatMap(ScopeKind.init(rawValue:)), take("}}") else { return nil }
            grants.append(InvitationGrant(scope: ScopeRef(kind, id), roles: roles))
        } while take(",")
        return take("]") ? grants : nil
    }

    /// Strings after their `[`, through the `]`.
    private mutating func stringList() -> [String]? {
        var strings: [String] = []
        if take("]") { return strings }
        repeat {
            guard let text = string() else { return nil }
            strings.append(text)
        } while take(",")
        return take("]") ? strings : nil
    }

    /// `"…"` without a backslash or a control character in it (the text is valid UTF-8: it is a
    /// `String`'s).
    private mutating func string() -> String? {
        guard take("\"") else { return nil }
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
            }
            guard byte != UInt8(ascii: "\\"), byte >= 0x20 else { return nil }
            index += 1
        }
        return nil
    }

    /// Steps over `literal` when the text goes on with it.
    private mutating func take(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let pointer = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != pointer[offset] { return false }
        index += count
        return true
    }
}
