@_spi(Engine) import MLSCodec

/// `Node` (RFC 9420 §12.4.3.3): a ratchet-tree node as carried in the `ratchet_tree` extension.
@_spi(Engine) public enum Node: Hashable, Sendable, TLSCodable {
    /// `leaf`: `LeafNode leaf_node` (RFC 9420 §12.4.3.3).
    case leaf(LeafNode)
    /// `parent`: `ParentNode parent_node` (RFC 9420 §12.4.3.3).
    case parent(ParentNode)

    /// The `node_type` discriminant (RFC 9420 §12.4.3.3).
    public var nodeType: NodeType {
        switch self {
        case .leaf: .leaf
        case .parent: .parent
        }
    }

    /// Encodes the struct (RFC 9420 §12.4.3.3).
    public func encode(to writer: inout TLSWriter) {
        nodeType.encode(to: &writer)
        switch self {
        case let .leaf(leaf): leaf.encode(to: &writer)
        case let .parent(parent): parent.encode(to: &writer)
        }
    }

    /// Decodes the struct (RFC 9420 §12.4.3.3).
    public init(from reader: inout TLSReader) throws {
        switch try NodeType(from: &reader) {
        case .leaf: self = .leaf(try LeafNode(from: &reader))
        case .parent: self = .parent(try ParentNode(from: &reader))
        }
    }
}
