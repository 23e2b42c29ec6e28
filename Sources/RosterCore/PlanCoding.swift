import Foundation

/// JSON for plans (SPEC §4.3): keys sorted by the encoder; `before`/`after` are the entity's
/// fields, read back according to the change's `type`.
extension Change: Codable {
    private enum Keys: String, CodingKey {
        case action, type, id, customer, account, before, after, risk, drift, source, reason, invitation
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let type = try c.decode(EntityType.self, forKey: .type)
        func value(_ key: Keys) throws -> EntityValue? {
            guard c.contains(key), try !c.decodeNil(forKey: key) else { return nil }
            switch type {
            case .role: return .role(try c.decode(RoleState.self, forKey: key))
            case .user: return .user(try c.decode(UserState.self, forKey: key))
            case .customer: return .customer(try c.decode(CustomerState.self, forKey: key))
            case .account: return .account(try c.decode(AccountState.self, forKey: key))
            case .membership: return .membership(try c.decode(MembershipState.self, forKey: key))
            case .invitation: return nil
            }
        }
        self.init(action: try c.decode(ChangeAction.self, forKey: .action), type: type,
                  id: try c.decode(String.self, forKey: .id),
                  customer: try c.decodeIfPresent(String.self, forKey: .customer),
                  account: try c.decodeIfPresent(String.self, forKey: .account),
                  before: try value(.before), after: try value(.after),
                  risk: try c.decode(Risk.self, forKey: .risk), drift: try c.decode(Bool.self, forKey: .drift),
                  source: try c.decodeIfPresent(String.self, forKey: .source),
                  reason: try c.decodeIfPresent(String.self, forKey: .reason),
                  invitation: try c.decodeIfPresent(InvitationPlan.self, forKey: .invitation))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(action, forKey: .action)
        try c.encode(type, forKey: .type)
        try c.encode(id, forKey: .id)
        try c.encodeIfPresent(customer, forKey: .customer)
        try c.encodeIfPresent(account, forKey: .account)
        try encodeValue(before, forKey: .before, in: &c)
        try encodeValue(after, forKey: .after, in: &c)
        try c.encode(risk, forKey: .risk)
        try c.encode(drift, forKey: .drift)
        try c.encodeIfPresent(source, forKey: .source)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encodeIfPresent(invitation, forKey: .invitation)
    }

    private func encodeValue(_ value: EntityValue?, forKey key: Keys, in c: inout KeyedEncodingContainer<Keys>) throws {
        switch value {
        case .none: try c.encodeNil(forKey: key)
        case .role(let v): try c.encode(v, forKey: key)
        case .user(let v): try c.encode(v, forKey: key)
        case .customer(let v): try c.encode(v, forKey: key)
        case .account(let v): try c.encode(v, forKey: key)
        case .membership(let v): try c.encode(v, forKey: key)
        }
    }
}


extension Plan: Codable {
    private enum Keys: String, CodingKey {
        case formatVersion, desired, store, changes, accessDelta, rails, warnings, summary
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let version = try c.decode(Int.self, forKey: .formatVersion)
        guard version == 1 else {
            throw DecodingError.dataCorruptedError(forKey: .formatVersion, in: c,
                                                   debugDescription: "unsupported plan formatVersion \(version)")
        }
        self.init(desired: try c.decode(DesiredInfo.self, forKey: .desired),
                  store: try c.decode(StoreInfo.self, forKey: .store),
                  changes: try c.decode([Change].self, forKey: .changes),
                  accessDelta: try c.decode([AccessChange].self, forKey: .accessDelta),
                  rails: try c.decode([RailCheck].self, forKey: .rails),
                  warnings: try c.decodeIfPresent([String].self, forKey: .warnings) ?? [])
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(desired, forKey: .desired)
        try c.encode(store, forKey: .store)
        try c.encode(changes, forKey: .changes)
        try c.encode(accessDelta, forKey: .accessDelta)
        try c.encode(rails, forKey: .rails)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(summary, forKey: .summary)
    }

    /// The plan as stable JSON: sorted keys, two-space indent, trailing newline.
    public func jsonData() -> Data {
        var data = Data()
        writeJSON { data.append(contentsOf: $0) }
        return data
    }

    /// The bytes of `jsonData()`, handed to `write` about a mebibyte at a time (each chunk whole
    /// UTF-8), so that a plan of hundreds of thousands of changes is never whole in memory.
    /// `write` is called on another thread, one chunk after another, while the next chunks are
    /// made; it has had every chunk when this returns.
    public func writeJSON(chunkSize: Int = 1 << 20, _ write: @escaping ([UInt8]) -> Void) {
        writeJSON(chunkSize: chunkSize, window: PlanJSONWriter.parallelWindow, write)
    }

    /// `writeJSON`, with `window` changes or access rows written at a time on every core.
    func writeJSON(chunkSize: Int, window: Int, _ write: @escaping ([UInt8]) -> Void) {
        let behind = WriteBehind(write)
        var writer = PlanJSONWriter(chunkSize: chunkSize, sink: behind.write)
        writer.write(self, window: window)
        writer.flush()
        behind.write([UInt8(ascii: "\n")])
        behind.finish()
    }

    /// Reads a plan saved with `jsonData()`.
    public static func read(json data: Data) throws -> Plan {
        try JSONDecoder().decode(Plan.self, from: data)
    }
}

/// Hands chunks to `sink` on a thread of its own, in order, while the caller makes the next
/// ones: a first plan's 477 MB of JSON spend about 1.3 s in the kernel's copy into the output
/// file, which then runs beside the rendering instead of after each mebibyte of it. At most two
/// chunks are queued or being written, so memory stays a few mebibytes.
private final class WriteBehind: @unchecked Sendable {
    // `sink` runs only on `queue`, one chunk at a time; `finish` waits for the last one.
    private let queue = DispatchQueue(label: "roster.plan-write")
    private let slots = DispatchSemaphore(value: 2)
    private let sink: ([UInt8]) -> Void

    init(_ sink: @escaping ([UInt8]) -> Void) {
        self.sink = sink
    }

    func write(_ chunk: [UInt8]) {
        slots.wait()
        queue.async {
            self.sink(chunk)
            self.slots.signal()
        }
    }

    /// Waits until every chunk has been written.
    func finish() {
        queue.sync {}
    }
}
