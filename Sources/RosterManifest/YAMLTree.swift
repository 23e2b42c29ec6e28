import RosterCore

/// One YAML file as a flat tree of nodes, each with its 1-based line and column.
///
/// Nodes live in one array and refer to their children by index, so loading a large
/// directory allocates a few arrays per file instead of an object per node. An alias
/// is the index of the node it names: it is shared, never copied.
public struct YAMLTree: Sendable {
    /// Index of a node in `nodes`.
    public typealias NodeID = Int32

    /// What a node holds.
    public enum Kind: UInt8, Sendable {
        case scalar
        case sequence
        case mapping
    }

    struct Node: Sendable {
        var kind: Kind
        /// True for a plain (unquoted) scalar: only those can mean null.
        var plain: Bool
        var line: Int32
        var column: Int32
        /// Children range in `children`; a mapping stores key, value, key, value…
        var start: Int32
        var count: Int32
        /// Nodes this one stands for once aliases are expanded (saturating).
        var weight: Int
        var value: String
    }

    /// The file as shown to the user.
    public let file: String
    var nodes: [Node] = []
    var children: [NodeID] = []
    /// The root node of each non-empty document, in file order.
    public internal(set) var documents: [NodeID] = []

    init(file: String) {
        self.file = file
    }

    public func kind(_ id: NodeID) -> Kind { nodes[Int(id)].kind }

    public func location(_ id: NodeID) -> SourceLocation {
        let node = nodes[Int(id)]
        return SourceLocation(file: file, line: Int(node.line), column: Int(node.column))
    }

    /// The text of a scalar; nil for a collection.
    public func scalar(_ id: NodeID) -> String? {
        let node = nodes[Int(id)]
        return node.kind == .scalar ? node.value : nil
    }

    /// True for a plain `~`, `null` or empty scalar (YAML's null), never for a quoted one.
    public func isNull(_ id: NodeID) -> Bool {
        let node = nodes[Int(id)]
        guard node.kind == .scalar, node.plain else { return false }
        switch node.value {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }

    /// The items of a sequence (empty for any other node).
    public func items(_ id: NodeID) -> ArraySlice<NodeID> {
        let node = nodes[Int(id)]
        guard node.kind == .sequence else { return [] }
        return children[Int(node.start)..<Int(node.start + node.count)]
    }

    /// The key/value pairs of a mapping, in file order (empty for any other node); no copying.
    public func entries(_ id: NodeID) -> Entries {
        let node = nodes[Int(id)]
        guard node.kind == .mapping else { return Entries(slots: []) }
        return Entries(slots: children[Int(node.start)..<Int(node.start + node.count)])
    }

    /// A mapping's pairs as a collection over the tree's child slots.
    public struct Entries: RandomAccessCollection {
        let slots: ArraySlice<NodeID>

        public var startIndex: Int { 0 }
        public var endIndex: Int { slots.count / 2 }

        public subscript(position: Int) -> (key: NodeID, value: NodeID) {
            let base = slots.startIndex + position * 2
            return (slots[base], slots[base + 1])
        }
    }

    /// A short description of the node's type, for "found …" in messages.
    public func typeName(_ id: NodeID) -> String {
        switch kind(id) {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar: return isNull(id) ? "nothing (null)" : "'\(nodes[Int(id)].value)'"
        }
    }
}
